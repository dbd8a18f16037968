package io.mirra.nbd.server;

import io.mirra.test.LeakGuard;
import io.mirra.nbd.test.RawNbdClient;
import io.mirra.nbd.test.RawNbdClient.Reply;
import io.mirra.nbd.test.TestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static io.mirra.nbd.protocol.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input and bad manners during transmission: a broken stream closes only its own connection, a vanished client
 * leaves nothing behind, and nobody else's data or connection suffers.
 */
@Timeout(120)
@ExtendWith(LeakGuard.class)
class NbdTransmissionBadInputTest
{
    private TestServer server;

    @AfterEach
    void stop() throws Exception
    {
        if (server != null)
        {
            server.close();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 0x25609514, 0x12560953, 0x67446698, -1})
    void shouldCloseOnBadRequestMagicAndLeaveOthersAndDataIntact(final int magic) throws Exception
    {
        server = TestServer.start();
        try (RawNbdClient bystander = server.open("disk", true, false);
            RawNbdClient client = server.open("disk", false, false))
        {
            final byte[] data = "written before the bad request".getBytes(StandardCharsets.US_ASCII);
            assertEquals(0, client.write(0, 1, 5000, data).errno());
            bystander.queueRead(0, 77, 0, 65536); // in flight on the other connection meanwhile
            bystander.flush();
            client.writeRequestHeader(magic, 0, CMD_WRITE, 2, 5000, 4);
            client.queueRaw(new byte[] {1, 2, 3, 4});
            client.queueWrite(0, 3, 5000, new byte[10]); // after the bad magic: must never be executed
            client.flush();
            assertTrue(client.awaitClosed(), "bad request magic 0x" + Integer.toHexString(magic) + " closes");

            final Reply pending = bystander.expectReply(77);
            assertArrayEquals(server.disk.contents(0, 65536), pending.data());
            final Reply read = bystander.read(0, 78, 5000, data.length);
            assertArrayEquals(data, read.data(), "data written before the bad request is intact");
        }
        server.awaitConnections(0, 10_000);
    }

    @ParameterizedTest
    @ValueSource(ints = {10, 28, 28 + 1, 28 + 65536, 28 + 500_000})
    void shouldSurviveClientDisconnectingMidRequest(final int bytesSent) throws Exception
    {
        server = TestServer.start();
        for (final boolean reset : new boolean[] {false, true})
        {
            final RawNbdClient client = server.open("disk", true, false);
            final byte[] request = new byte[28 + 1_000_000];
            java.nio.ByteBuffer.wrap(request).putInt(REQUEST_MAGIC).putShort((short)0).putShort((short)CMD_WRITE)
                .putLong(1).putLong(0).putInt(1_000_000);
            Arrays.fill(request, 28, request.length, (byte)0x5a);
            client.queueRaw(Arrays.copyOf(request, bytesSent));
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
        server.awaitConnections(0, 10_000);
        assertEquals(0, server.disk.seen().size(), "the incomplete write never reached the backend");
        server.assertServesCorrectData();
        server.awaitConnections(0, 10_000);
    }

    @Test
    void shouldSurviveClientDisconnectingWithRequestsInFlight() throws Exception
    {
        server = TestServer.start();
        for (final boolean reset : new boolean[] {false, true})
        {
            final RawNbdClient client = server.open("disk", reset, false);
            server.disk.hold();
            final long before = server.disk.submittedCount();
            for (int i = 0; i < 10; i++)
            {
                client.queueWrite(CMD_FLAG_FUA, i, i * 4096L, new byte[4096]);
                client.queueRead(0, 100 + i, i * 65536L, 65536);
            }
            client.flush();
            assertTrue(server.disk.awaitSubmitted(before + 20, 10_000), "all 20 requests in flight");
            if (reset)
            {
                client.abort();
            }
            else
            {
                client.close();
            }
            server.awaitConnections(0, 10_000);
            server.disk.release(); // completions for a closed connection: buffers released, replies dropped
            assertTrue(server.disk.awaitIdle(10_000));
        }
        assertTrue(server.disk.violations().isEmpty(), server.disk.violations().toString());
        server.assertServesCorrectData();
    }

    @Test
    void shouldRefuseConnectionsBeyondMaxConnections() throws Exception
    {
        server = TestServer.start(c -> c.maxConnections(2));
        try (RawNbdClient a = server.open("disk", false, false); RawNbdClient b = server.connect())
        {
            b.readGreeting();
            try (RawNbdClient c = server.connect())
            {
                assertTrue(c.awaitClosed(), "a third connection is closed at once");
            }
            assertEquals(0, a.read(0, 1, 0, 10).errno(), "existing connections unaffected");
        }
        server.awaitConnections(0, 10_000);
        server.assertServesCorrectData();
    }

    @Test
    void shouldReleaseEverythingWhenTheServerClosesWithRequestsInFlight() throws Exception
    {
        server = TestServer.start();
        final RawNbdClient client = server.open("disk", true, false);
        try
        {
            server.disk.hold();
            for (int i = 0; i < 4; i++)
            {
                client.queueWrite(0, i, i * 4096L, new byte[4096]);
                client.queueRead(0, 100 + i, 0, 65536);
            }
            client.flush();
            assertTrue(server.disk.awaitSubmitted(8, 10_000));
            server.server.close();
            server.disk.release();
            assertTrue(server.disk.awaitIdle(10_000));
            assertTrue(server.disk.violations().isEmpty(), "completions after close: " + server.disk.violations());
        }
        finally
        {
            client.close();
        }
        // LeakGuard then fails the test if the write payloads or read buffers were dropped unreleased.
    }
}
