package io.mirra.nbd.server;

import io.mirra.nbd.spi.ExportRegistry;
import io.mirra.nbd.spi.NbdExport;
import io.mirra.nbd.spi.NbdOpenRefusedException;
import io.mirra.nbd.test.MemoryNbdBackend;
import io.mirra.nbd.test.RawNbdClient;
import io.mirra.nbd.test.RawNbdClient.OptionReply;
import io.mirra.nbd.test.RawNbdClient.Reply;
import io.mirra.nbd.test.SessionNbdBackend;
import io.mirra.nbd.test.SessionNbdBackend.Connection;
import io.mirra.test.LeakGuard;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static io.mirra.nbd.protocol.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The connection lifecycle a backend sees: {@code open} when a connection selects the export (its answer serves the
 * connection, or refuses it with a message), {@code close} once when the connection ends, after its requests; and
 * the per-request refusals a client gets when it cannot write.
 */
@Timeout(60)
@ExtendWith(LeakGuard.class)
class NbdBackendLifecycleTest
{
    private static final int SIZE = 1 << 20;
    private static final long WAIT_MS = 10_000;
    private static final String WHY = "node b is Primary: this node is Secondary and cannot accept writes";

    /** How a connection ends. */
    enum End
    {
        DISC, CLIENT_CLOSE, CLIENT_RESET, SERVER_CLOSE
    }

    private MemoryNbdBackend store;
    private SessionNbdBackend volume;
    private MemoryNbdBackend plain;
    private NbdServer server;

    @BeforeEach
    void start() throws Exception
    {
        store = new MemoryNbdBackend(SIZE, false);
        store.fillPattern(3);
        volume = new SessionNbdBackend(store);
        plain = new MemoryNbdBackend(SIZE, false);
        plain.fillPattern(4);
        final ExportRegistry exports = new ExportRegistry()
            .add(new NbdExport("vol", "replicated volume", volume))
            .add(new NbdExport("plain", "", plain));
        server = new NbdServer(exports, new NbdServerContext().host("127.0.0.1").port(0)).start();
    }

    @AfterEach
    void stop() throws Exception
    {
        volume.completeAllHeld(); // completions after the server closed are abandoned; that has its own test
        store.release();
        assertTrue(store.awaitIdle(WAIT_MS));
        assertTrue(plain.awaitIdle(WAIT_MS));
        server.close();
        store.shutdown();
        plain.shutdown();
        assertEquals(List.of(), volume.violations(), "frontend promises to the volume");
        assertEquals(List.of(), store.violations(), "frontend promises to the volume's store");
        assertEquals(List.of(), plain.violations(), "frontend promises to the plain export");
        for (final Connection connection : volume.connections())
        {
            assertEquals(1, connection.closeCount(), connection + " closed exactly once");
        }
        assertTrue(plain.awaitAllClosed(WAIT_MS), plain.openCount() + " opens, " + plain.closeCount() + " closes");
    }

    @Test
    void shouldOpenOncePerGoAndServeTheConnectionFromTheReturnedBackend() throws Exception
    {
        try (RawNbdClient a = connect(); RawNbdClient b = connect(); RawNbdClient c = connect())
        {
            a.handshake("vol", true, false);
            final Connection ca = volume.awaitOpened(WAIT_MS);
            assertNotNull(ca, "GO opened the export");
            assertEquals("127.0.0.1:" + a.socket().getLocalPort(), ca.client(), "open gets the client's address");
            b.handshake("vol", false, false);
            final Connection cb = volume.awaitOpened(WAIT_MS);
            assertNotSame(ca, cb, "each connection has its own backend");
            c.start();
            c.exportName("vol");
            final Connection cc = volume.awaitOpened(WAIT_MS);
            assertNotNull(cc, "EXPORT_NAME opened the export");
            assertEquals(3, volume.openCalls(), "one open per selection");

            final byte[] data = "through the connection's backend".getBytes(StandardCharsets.US_ASCII);
            assertEquals(0, a.write(0, 1, 4096, data).errno());
            assertArrayEquals(data, b.read(0, 2, 4096, data.length).data(), "all connections share the store");
            assertArrayEquals(data, c.read(0, 3, 4096, data.length).data());
            assertEquals(1, ca.submittedCount());
            assertEquals(1, cb.submittedCount());
            assertEquals(1, cc.submittedCount());
            assertEquals(0, ca.closeCount() + cb.closeCount() + cc.closeCount(), "nothing closed while connected");
        }
        final Set<Connection> closed = new HashSet<>();
        for (int i = 0; i < 3; i++)
        {
            closed.add(volume.awaitClosed(WAIT_MS));
        }
        assertEquals(Set.copyOf(volume.connections()), closed, "each connection closed its backend");
    }

    @Test
    void shouldNotOpenForInfoListOrMetaContexts() throws Exception
    {
        try (RawNbdClient client = connect())
        {
            client.start();
            assertEquals(SIZE, client.info(OPT_INFO, "vol", INFO_NAME, INFO_DESCRIPTION).size());
            assertEquals(REP_ACK, last(client.option(OPT_LIST, new byte[0])).type());
            assertEquals(REP_ACK, client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]).type());
            assertEquals(REP_ACK, last(client.option(OPT_LIST_META_CONTEXT, RawNbdClient.metaContextData("vol")))
                .type());
            assertEquals(REP_ACK, last(client.option(OPT_SET_META_CONTEXT,
                RawNbdClient.metaContextData("vol", CONTEXT_BASE_ALLOCATION))).type());
            assertEquals(0, volume.openCalls(), "describing the export does not open it");

            client.info(OPT_GO, "vol");
            assertEquals(1, volume.openCalls());
            final Reply status = client.command(0, CMD_BLOCK_STATUS, 1, 0, 4096);
            assertEquals(0, status.errno(), status.message());
            assertEquals(1, volume.awaitOpened(WAIT_MS).submittedCount(), "block status went to the connection");
        }
    }

    @ParameterizedTest
    @EnumSource(End.class)
    void shouldCloseOnceAfterTheConnectionsRequestsCompleted(final End end) throws Exception
    {
        final RawNbdClient client = connect();
        try
        {
            client.handshake("vol", true, false);
            final Connection connection = volume.awaitOpened(WAIT_MS);
            connection.hold();
            for (int i = 0; i < 3; i++)
            {
                client.queueWrite(0, 10 + i, i * 4096L, new byte[4096]);
            }
            client.queueRead(0, 13, 0, 4096);
            client.flush();
            assertTrue(connection.awaitHeld(4, WAIT_MS), "four requests with the backend");

            switch (end)
            {
                case DISC:
                    client.writeRequestHeader(REQUEST_MAGIC, 0, CMD_DISC, 99, 0, 0);
                    client.flush();
                    break;
                case CLIENT_CLOSE:
                    client.close();
                    awaitConnections(0);
                    break;
                case CLIENT_RESET:
                    client.abort();
                    awaitConnections(0);
                    break;
                case SERVER_CLOSE:
                    server.close(); // its event loops stop: the completions below are abandoned
                    break;
                default:
                    throw new AssertionError(end);
            }
            assertEquals(0, connection.closeCount(), "not closed while its requests are with the backend");

            connection.completeHeld();
            if (end == End.DISC)
            {
                final Set<Long> cookies = new HashSet<>();
                for (int i = 0; i < 4; i++)
                {
                    final Reply reply = client.readReply();
                    assertEquals(0, reply.errno(), reply.message());
                    cookies.add(reply.cookie());
                }
                assertEquals(Set.of(10L, 11L, 12L, 13L), cookies, "every request answered before the close");
                assertTrue(client.awaitClosed(), "then the server closes");
            }
            assertSame(connection, volume.awaitClosed(WAIT_MS), "the connection's backend was closed");
            assertEquals(0, connection.pendingAtClose(), "after every request completed");
            assertEquals(1, connection.closeCount());
        }
        finally
        {
            client.close();
        }
    }

    @Test
    void shouldReplyRefusalToGoWithItsMessageAndLetTheClientGoElsewhere() throws Exception
    {
        volume.refuseOpens(new NbdOpenRefusedException(REP_ERR_POLICY, WHY));
        try (RawNbdClient client = connect())
        {
            client.start();
            client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
            final OptionReply refused = client.optionSingle(OPT_GO, RawNbdClient.infoData("vol", INFO_BLOCK_SIZE));
            assertEquals(REP_ERR_POLICY, refused.type(), "the backend's error, and no INFO before it: " + refused);
            assertEquals(WHY, refused.text(), "the backend's message");
            assertEquals(1, volume.openCalls());
            assertTrue(volume.connections().isEmpty(), "nothing opened, so nothing to close");

            // Still haggling: the same export can be described, and another one selected.
            assertEquals(SIZE, client.info(OPT_INFO, "vol").size());
            assertEquals(SIZE, client.info(OPT_GO, "plain").size());
            final Reply read = client.read(0, 1, 0, 512);
            assertEquals(0, read.errno(), read.message());
            assertArrayEquals(plain.contents(0, 512), read.data());
        }

        volume.refuseOpens(null);
        try (RawNbdClient client = connect())
        {
            client.handshake("vol", false, false);
            assertEquals(0, client.read(0, 1, 0, 512).errno(), "opens are accepted again");
        }
    }

    @Test
    void shouldCloseTheConnectionWhenExportNameIsRefused() throws Exception
    {
        volume.refuseOpens(new NbdOpenRefusedException(REP_ERR_POLICY, WHY));
        try (RawNbdClient client = connect())
        {
            client.start();
            client.sendOption(OPT_EXPORT_NAME, "vol".getBytes(StandardCharsets.UTF_8));
            assertTrue(client.awaitClosed(), "EXPORT_NAME has no error reply: the server disconnects");
        }
        assertEquals(1, volume.openCalls());
        assertTrue(volume.connections().isEmpty());
        awaitConnections(0);
    }

    @Test
    void shouldCloseTheConnectionWhenOpenFails() throws Exception
    {
        volume.failOpens(new IllegalStateException("test: a bug in open"));
        try (RawNbdClient client = connect())
        {
            client.start();
            client.sendOption(OPT_GO, RawNbdClient.infoData("vol"));
            assertTrue(client.awaitClosed(), "a backend that throws ends that connection");
        }
        try (RawNbdClient client = connect())
        {
            client.handshake("plain", false, false);
            assertEquals(0, client.read(0, 1, 0, 512).errno(), "other connections are served");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldAdvertiseReadOnlyWhenTheConnectionsBackendIsReadOnly(final boolean structured) throws Exception
    {
        volume.openReadOnly(true);
        try (RawNbdClient client = connect())
        {
            client.start();
            if (structured)
            {
                client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
            }
            final int info = client.info(OPT_INFO, "vol").flags();
            assertEquals(0, info & TF_READ_ONLY, "INFO describes the export's backend, which is writable");
            final int go = client.info(OPT_GO, "vol").flags();
            assertEquals(TF_READ_ONLY, go & (TF_READ_ONLY | TF_SEND_TRIM | TF_SEND_WRITE_ZEROES),
                "GO describes the backend open returned: read-only, no trim or zeroing");
            assertEquals(EPERM, client.write(0, 1, 0, new byte[512]).errno());
            assertEquals(0, client.read(0, 2, 0, 512).errno());
        }
        try (RawNbdClient client = connect())
        {
            client.start();
            assertEquals(TF_READ_ONLY, client.exportName("vol").flags() & TF_READ_ONLY, "EXPORT_NAME too");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldRefuseWritesWithEpermOnceTheConnectionTurnsReadOnly(final boolean structured) throws Exception
    {
        try (RawNbdClient client = connect())
        {
            assertEquals(0, client.handshake("vol", structured, false).flags() & TF_READ_ONLY);
            final Connection connection = volume.awaitOpened(WAIT_MS);
            assertEquals(0, client.write(0, 1, 0, new byte[512]).errno());

            connection.readOnly(true);
            final byte[] before = store.contents(0, 8192);
            final Reply write = client.write(0, 2, 0, new byte[] {1, 2, 3});
            assertEquals(EPERM, write.errno());
            assertEquals(EPERM, client.command(0, CMD_TRIM, 3, 0, 4096).errno());
            assertEquals(EPERM, client.command(0, CMD_WRITE_ZEROES, 4, 0, 4096).errno());
            if (structured)
            {
                assertEquals(REPLY_TYPE_ERROR, write.chunks().get(0).type());
                assertTrue(write.message().contains("read-only"), "the error chunk says why: " + write.message());
            }
            else
            {
                assertNull(write.message(), "simple replies carry only the errno");
            }
            assertArrayEquals(before, store.contents(0, 8192), "nothing was written");
            assertEquals(0, client.read(0, 5, 0, 512).errno(), "reads still work");

            connection.readOnly(false);
            assertEquals(0, client.write(0, 6, 0, new byte[] {1, 2, 3}).errno(), "writable again");
            assertEquals(3, connection.submittedCount(), "two writes and a read reached the backend");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldPassTheBackendsErrorMessageToTheClient(final boolean structured) throws Exception
    {
        try (RawNbdClient client = connect())
        {
            client.handshake("vol", structured, false);
            final Connection connection = volume.awaitOpened(WAIT_MS);
            connection.failWrites(EPERM, WHY);
            final Reply write = client.write(0, 1, 0, new byte[512]);
            assertEquals(EPERM, write.errno());
            if (structured)
            {
                assertEquals(1, write.chunks().size());
                assertEquals(REPLY_TYPE_ERROR, write.chunks().get(0).type());
                assertEquals(REPLY_FLAG_DONE, write.chunks().get(0).flags());
                assertEquals(WHY, write.message(), "the backend's message, unchanged");
            }
            assertEquals(0, client.read(0, 2, 0, 512).errno(), "the connection stays usable");
        }
    }

    @Test
    void shouldCutLongMessagesAtACharacterBoundary() throws Exception
    {
        final String longWhy = "é".repeat(3000); // 6000 bytes of two-byte characters
        final String sent = "é".repeat(MAX_STRING_LENGTH / 2);
        volume.refuseOpens(new NbdOpenRefusedException(REP_ERR_UNKNOWN, "x" + longWhy));
        try (RawNbdClient client = connect())
        {
            client.start();
            final OptionReply refused = client.optionSingle(OPT_GO, RawNbdClient.infoData("vol"));
            assertEquals(REP_ERR_UNKNOWN, refused.type());
            assertEquals(MAX_STRING_LENGTH - 1, refused.data().length, "cut before the character 4096 would split");
            assertEquals("x" + sent.substring(1), refused.text());
        }
        volume.refuseOpens(null);
        try (RawNbdClient client = connect())
        {
            client.handshake("vol", true, false);
            volume.awaitOpened(WAIT_MS).failWrites(EIO, longWhy);
            final Reply write = client.write(0, 1, 0, new byte[1]);
            assertEquals(EIO, write.errno());
            assertEquals(sent, write.message(), "4096 bytes: whole characters only");
        }
    }

    @Test
    void shouldRejectRefusalsThatAreNotErrorReplies()
    {
        assertThrows(IllegalArgumentException.class, () -> new NbdOpenRefusedException(REP_ACK, "no"));
        assertThrows(NullPointerException.class, () -> new NbdOpenRefusedException(REP_ERR_POLICY, null));
        assertEquals(REP_ERR_POLICY, new NbdOpenRefusedException(REP_ERR_POLICY, WHY).nbdError());
        assertFalse(new NbdOpenRefusedException(REP_ERR_POLICY, WHY).getStackTrace().length > 0,
            "an expected refusal records no stack trace");
    }

    private RawNbdClient connect() throws Exception
    {
        return RawNbdClient.connect(server.localAddress());
    }

    private void awaitConnections(final int expected)
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
        while (server.connectionCount() != expected && System.nanoTime() < deadline)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)); // poll: the count has no change notification
        }
        assertEquals(expected, server.connectionCount(), "server connection count");
    }

    private static OptionReply last(final List<OptionReply> replies)
    {
        return replies.get(replies.size() - 1);
    }
}
