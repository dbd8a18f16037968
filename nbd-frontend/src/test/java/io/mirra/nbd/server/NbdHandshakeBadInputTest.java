package io.mirra.nbd.server;

import io.mirra.test.LeakGuard;
import io.mirra.nbd.test.NettyMemory;
import io.mirra.nbd.test.RawNbdClient;
import io.mirra.nbd.test.RawNbdClient.OptionReply;
import io.mirra.nbd.test.TestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static io.mirra.nbd.protocol.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input during option haggling: the server must refuse it without harm to itself or to other clients, and
 * keep the session going wherever the protocol allows.
 */
@Timeout(60)
@ExtendWith(LeakGuard.class)
class NbdHandshakeBadInputTest
{
    private TestServer server;

    private void start() throws Exception
    {
        start(c ->
        {
        });
    }

    private void start(final Consumer<NbdServerContext> settings) throws Exception
    {
        server = TestServer.start(settings);
    }

    @AfterEach
    void stop() throws Exception
    {
        if (server != null)
        {
            server.close();
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 0x49484156454F5055L, 0x4e42444d41474943L, -1})
    void shouldCloseOnBadOptionMagicAndKeepServing(final long magic) throws Exception
    {
        start();
        try (RawNbdClient bystander = server.open("disk", true, false);
            RawNbdClient client = server.connect())
        {
            client.start();
            client.sendOptionHeader(magic, OPT_LIST, 0);
            assertTrue(client.awaitClosed(), "bad option magic closes the connection");
            assertEquals(0, bystander.read(0, 1, 0, 512).errno(), "another connection is unaffected");
        }
        server.assertServesCorrectData();
    }

    @ParameterizedTest
    @ValueSource(ints = {1 << 2, 1 << 31, 0xffffffff, FLAG_C_FIXED_NEWSTYLE | 1 << 8})
    void shouldCloseOnUnknownClientFlags(final int flags) throws Exception
    {
        start();
        try (RawNbdClient client = server.connect())
        {
            client.readGreeting();
            client.sendClientFlags(flags);
            assertTrue(client.awaitClosed(), "unknown client flags 0x" + Integer.toHexString(flags));
        }
        server.assertServesCorrectData();
    }

    @Test
    void shouldSkipOversizedOptionWithErrTooBigAndContinue() throws Exception
    {
        start();
        try (RawNbdClient client = server.connect())
        {
            client.start();
            for (final int option : new int[] {OPT_GO, OPT_SET_META_CONTEXT, 99})
            {
                client.sendOptionHeader(IHAVEOPT, option, 70 * 1024);
                client.sendZeros(70 * 1024);
                final OptionReply reply = client.readOptionReply();
                assertEquals(option, reply.option());
                assertEquals(REP_ERR_TOO_BIG, reply.type(), reply.toString());
            }
            assertEquals(TestServer.DISK_SIZE, client.info(OPT_GO, "disk").size(), "session goes on");
            assertEquals(0, client.read(0, 1, 0, 100).errno());
        }
    }

    @Test
    void shouldCloseOnAbsurdOptionLengthWithoutAllocating() throws Exception
    {
        start();
        final long before = NettyMemory.usedBytes();
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.sendOptionHeader(IHAVEOPT, OPT_GO, 100L << 20);
            client.sendZeros(64 * 1024); // some of the announced data
            assertTrue(client.awaitClosed(), "a 100 MiB option closes the connection");
        }
        final long grown = NettyMemory.usedBytes() - before;
        assertTrue(grown < 16L << 20, "Netty memory grew by " + grown + " bytes");
        for (final long length : new long[] {0xffffffffL, NbdHandshakeHandler.MAX_OPTION_SKIP + 1})
        {
            try (RawNbdClient client = server.connect())
            {
                client.start();
                client.sendOptionHeader(IHAVEOPT, 99, length);
                assertTrue(client.awaitClosed(), "option of " + length + " bytes");
            }
        }
        server.assertServesCorrectData();
        server.awaitConnections(0, 10_000);
    }

    @Test
    void shouldCloseOnOversizedExportName() throws Exception
    {
        start();
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.sendOptionHeader(IHAVEOPT, OPT_EXPORT_NAME, 70 * 1024);
            client.sendZeros(1024);
            assertTrue(client.awaitClosed(), "EXPORT_NAME cannot be answered with an error: disconnect");
        }
        server.assertServesCorrectData();
    }

    @Test
    void shouldRefuseTruncatedOrInconsistentInfoDataWithErrInvalid() throws Exception
    {
        start();
        final Map<String, byte[]> bad = new LinkedHashMap<>();
        bad.put("empty", new byte[0]);
        bad.put("5 bytes", new byte[5]);
        bad.put("name longer than the data", ByteBuffer.allocate(10).putInt(10).put("disk".getBytes()).array());
        bad.put("name length 2^32-1", ByteBuffer.allocate(10).putInt(-1).array());
        bad.put("name over 4096 bytes", withName(new byte[5000], 0));
        bad.put("missing info count", ByteBuffer.allocate(8).putInt(4).put("disk".getBytes()).array());
        bad.put("info count 3, two infos", Arrays.copyOf(RawNbdClient.infoData("disk", 1, 2, 3), 14));
        bad.put("trailing byte", Arrays.copyOf(RawNbdClient.infoData("disk", INFO_NAME), 13));
        bad.put("odd info list", Arrays.copyOf(RawNbdClient.infoData("disk"), 11));
        try (RawNbdClient client = server.connect())
        {
            client.start();
            for (final int option : new int[] {OPT_INFO, OPT_GO})
            {
                for (final Map.Entry<String, byte[]> entry : bad.entrySet())
                {
                    final OptionReply reply = client.optionSingle(option, entry.getValue());
                    assertEquals(REP_ERR_INVALID, reply.type(), optionName(option) + " " + entry.getKey() + ": " + reply);
                }
            }
            assertEquals(TestServer.DISK_SIZE, client.info(OPT_GO, "disk").size(), "session goes on");
        }
    }

    @Test
    void shouldRefuseTruncatedOrInconsistentMetaContextDataWithErrInvalid() throws Exception
    {
        start();
        final byte[] good = RawNbdClient.metaContextData("disk", CONTEXT_BASE_ALLOCATION);
        final Map<String, byte[]> bad = new LinkedHashMap<>();
        bad.put("empty", new byte[0]);
        bad.put("7 bytes", new byte[7]);
        bad.put("name longer than the data", ByteBuffer.allocate(12).putInt(100).array());
        bad.put("name over 4096 bytes", ByteBuffer.allocate(4 + 5000 + 4).putInt(5000).array());
        bad.put("query count 2, one query", ByteBuffer.wrap(good.clone()).putInt(8, 2).array());
        bad.put("query longer than the data", Arrays.copyOf(good, good.length - 1));
        bad.put("query length 2^32-1", ByteBuffer.wrap(good.clone()).putInt(12, -1).array());
        bad.put("query over 4096 bytes", metaData("disk", 1, new byte[5000]));
        bad.put("trailing bytes", Arrays.copyOf(good, good.length + 3));
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
            for (final int option : new int[] {OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT})
            {
                for (final Map.Entry<String, byte[]> entry : bad.entrySet())
                {
                    final OptionReply reply = client.optionSingle(option, entry.getValue());
                    assertEquals(REP_ERR_INVALID, reply.type(), optionName(option) + " " + entry.getKey() + ": " + reply);
                }
            }
            assertEquals(2, client.option(OPT_SET_META_CONTEXT, good).size(), "session goes on");
        }
    }

    @Test
    void shouldRefuseNamesThatAreNotUtf8() throws Exception
    {
        start();
        final byte[][] names = {
            {(byte)0xc3, 0x28}, // invalid continuation
            {'d', 0, 'k'}, // NUL
            {(byte)0xed, (byte)0xa0, (byte)0x80}, // UTF-16 surrogate
            {(byte)0xc0, (byte)0xaf}, // overlong
            {(byte)0xff},
        };
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
            for (final byte[] name : names)
            {
                for (final int option : new int[] {OPT_INFO, OPT_GO})
                {
                    assertEquals(REP_ERR_INVALID, client.optionSingle(option, withName(name, 0)).type(),
                        optionName(option) + " " + Arrays.toString(name));
                }
                for (final int option : new int[] {OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT})
                {
                    assertEquals(REP_ERR_INVALID, client.optionSingle(option, metaData(name, 0, null)).type(),
                        optionName(option) + " " + Arrays.toString(name));
                }
            }
            assertEquals(TestServer.DISK_SIZE, client.info(OPT_GO, "").size(), "session goes on");
        }
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.sendOption(OPT_EXPORT_NAME, names[0]);
            assertTrue(client.awaitClosed(), "EXPORT_NAME with a non-UTF-8 name");
        }
    }

    @Test
    void shouldRefuseDataOnOptionsThatTakeNone() throws Exception
    {
        start();
        try (RawNbdClient client = server.connect())
        {
            client.start();
            assertEquals(REP_ERR_INVALID, client.optionSingle(OPT_LIST, new byte[] {0, 0, 0, 0}).type(), "LIST");
            assertEquals(REP_ERR_INVALID, client.optionSingle(OPT_STRUCTURED_REPLY, new byte[3]).type(), "STRUCTURED");
            // ABORT: "a server SHOULD ignore any data sent by the client rather than rejecting the request"
            assertEquals(REP_ACK, client.optionSingle(OPT_ABORT, new byte[] {1, 2, 3}).type(), "ABORT");
            assertTrue(client.awaitClosed());
        }
    }

    @Test
    void shouldCloseAfterMaxOptions() throws Exception
    {
        start(c -> c.maxOptions(5));
        try (RawNbdClient client = server.connect())
        {
            client.start();
            for (int i = 0; i < 5; i++)
            {
                assertEquals(REP_ACK, client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]).type(), "option " + i);
            }
            client.sendOption(OPT_LIST, new byte[0]);
            assertTrue(client.awaitClosed(), "the sixth option closes the connection");
        }
        try (RawNbdClient client = server.connect())
        {
            client.start();
            for (int i = 0; i < 4; i++)
            {
                assertEquals(REP_ERR_UNSUP, client.optionSingle(99, new byte[0]).type());
            }
            assertEquals(TestServer.DISK_SIZE, client.info(OPT_GO, "disk").size(), "the fifth option may be GO");
            assertEquals(0, client.read(0, 1, 0, 10).errno());
        }
    }

    @Test
    void shouldSurviveClientsDisconnectingMidHandshake() throws Exception
    {
        start();
        for (final boolean reset : new boolean[] {false, true})
        {
            for (int stage = 0; stage < 8; stage++)
            {
                final RawNbdClient client = server.connect();
                if (stage >= 1)
                {
                    client.readGreeting();
                }
                switch (stage)
                {
                    case 2: // half the client flags
                        client.queueRaw(new byte[2]);
                        break;
                    case 3: // half an option header
                        client.sendClientFlags(FLAG_C_FIXED_NEWSTYLE);
                        client.queueRaw(ByteBuffer.allocate(8).putLong(IHAVEOPT).array());
                        break;
                    case 4: // half the option data
                        client.sendClientFlags(FLAG_C_FIXED_NEWSTYLE);
                        client.sendOptionHeader(IHAVEOPT, OPT_GO, 200);
                        client.queueRaw(new byte[100]);
                        break;
                    case 5: // in the middle of skipping an oversized option
                        client.sendClientFlags(FLAG_C_FIXED_NEWSTYLE);
                        client.sendOptionHeader(IHAVEOPT, OPT_GO, 1 << 20);
                        client.queueRaw(new byte[300 * 1024]);
                        break;
                    case 6: // after an option, without reading its replies
                        client.sendClientFlags(FLAG_C_FIXED_NEWSTYLE);
                        client.sendOption(OPT_LIST, new byte[0]);
                        break;
                    case 7: // ABORT, closing without waiting for the ACK
                        client.sendClientFlags(FLAG_C_FIXED_NEWSTYLE);
                        client.sendOption(OPT_ABORT, new byte[0]);
                        break;
                    default:
                        break;
                }
                client.flush();
                if (reset)
                {
                    client.abort();
                }
                else
                {
                    client.close();
                }
            }
        }
        server.awaitConnections(0, 10_000);
        server.assertServesCorrectData();
        server.awaitConnections(0, 10_000);
    }

    @Test
    void shouldCloseIdleClientAtHandshakeDeadline() throws Exception
    {
        start(c -> c.handshakeTimeoutMs(300));
        final long started = System.nanoTime();
        try (RawNbdClient idle = server.connect(); RawNbdClient haggling = server.connect())
        {
            idle.readGreeting();
            haggling.start();
            assertEquals(4, haggling.option(OPT_LIST, new byte[0]).size(), "options are answered before the deadline");
            assertTrue(idle.awaitClosed(), "idle client closed at the deadline");
            assertTrue(haggling.awaitClosed(), "client still haggling closed at the deadline");
            final long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            assertTrue(elapsedMs >= 300 && elapsedMs < 5_000, "closed after " + elapsedMs + " ms");
        }
        server.awaitConnections(0, 10_000);
    }

    @Test
    void shouldNotCloseClientThatEnteredTransmissionBeforeDeadline() throws Exception
    {
        start(c -> c.handshakeTimeoutMs(300));
        try (RawNbdClient client = server.open("disk", false, false))
        {
            // A client connected later times out later: once it is closed, the first client's deadline has passed.
            try (RawNbdClient timer = server.connect())
            {
                timer.readGreeting();
                assertTrue(timer.awaitClosed(), "the later idle client times out");
            }
            final RawNbdClient.Reply reply = client.read(0, 42, 0, 4096);
            assertEquals(0, reply.errno(), "a client in transmission is not subject to the handshake deadline");
            assertFalse(client.socket().isClosed());
        }
    }

    private static byte[] withName(final byte[] name, final int infos)
    {
        return ByteBuffer.allocate(4 + name.length + 2 + 2 * infos).putInt(name.length).put(name)
            .putShort((short)infos).array();
    }

    private static byte[] metaData(final String name, final int queries, final byte[] query)
    {
        return metaData(name.getBytes(java.nio.charset.StandardCharsets.UTF_8), queries, query);
    }

    private static byte[] metaData(final byte[] name, final int queries, final byte[] query)
    {
        try
        {
            final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            final DataOutputStream out = new DataOutputStream(bytes);
            out.writeInt(name.length);
            out.write(name);
            out.writeInt(queries);
            if (query != null)
            {
                out.writeInt(query.length);
                out.write(query);
            }
            return bytes.toByteArray();
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }
}
