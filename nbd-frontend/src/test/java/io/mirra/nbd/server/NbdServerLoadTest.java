package io.mirra.nbd.server;

import io.mirra.test.LeakGuard;
import io.mirra.nbd.test.MemoryNbdBackend;
import io.mirra.nbd.test.RawNbdClient;
import io.mirra.nbd.test.RawNbdClient.Reply;
import io.mirra.nbd.test.TestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.mirra.nbd.protocol.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Many short connections, many of them rude: the server must keep serving correct data and account for every
 * connection it closed.
 */
@Timeout(180)
@ExtendWith(LeakGuard.class)
class NbdServerLoadTest
{
    private static final int CONNECTIONS = 1000;
    private static final int WRITE_SIZE = 512;
    private static final int READ_REGION = TestServer.DISK_SIZE / 2; // never written by this test

    private TestServer server;

    @AfterEach
    void stop() throws Exception
    {
        if (server != null)
        {
            server.close();
        }
    }

    @Test
    void shouldServeCorrectlyAfterAThousandShortConnections() throws Exception
    {
        final long seed = 0x10AD1000L;
        System.out.println("seed " + seed);
        server = TestServer.start(c -> c.maxConnections(CONNECTIONS + 100));
        final ExecutorService clients = Executors.newFixedThreadPool(16);
        try
        {
            final List<Future<?>> results = new ArrayList<>();
            for (int i = 0; i < CONNECTIONS; i++)
            {
                final int index = i;
                results.add(clients.submit(() ->
                {
                    connection(index, new Random(seed + index));
                    return null;
                }));
            }
            for (int i = 0; i < results.size(); i++)
            {
                results.get(i).get(120, TimeUnit.SECONDS); // rethrows the client's failure, naming the index below
            }
        }
        finally
        {
            clients.shutdownNow();
            assertTrue(clients.awaitTermination(30, TimeUnit.SECONDS));
        }

        server.awaitConnections(0, 30_000);
        for (int i = 0; i < CONNECTIONS; i++)
        {
            if (i % 6 == 4)
            {
                assertArrayEquals(dataOf(i), server.disk.contents(i * WRITE_SIZE, WRITE_SIZE), "write of client " + i);
            }
        }
        final byte[] untouched = server.disk.contents(READ_REGION, READ_REGION);
        for (int i = 0; i < untouched.length; i++)
        {
            if (untouched[i] != MemoryNbdBackend.pattern(TestServer.DISK_SEED, READ_REGION + i))
            {
                throw new AssertionError("byte " + (READ_REGION + i) + " changed");
            }
        }
        server.assertServesCorrectData();
        server.awaitConnections(0, 30_000);
        assertTrue(server.disk.violations().isEmpty(), server.disk.violations().toString());
    }

    private void connection(final int index, final Random random) throws Exception
    {
        final RawNbdClient client = server.connect();
        boolean reset = random.nextBoolean();
        try
        {
            switch (index % 6)
            {
                case 0: // connect and go
                    break;
                case 1: // greeting, then half the client flags
                    client.readGreeting();
                    client.queueRaw(new byte[2]);
                    client.flush();
                    break;
                case 2: // half an option
                    client.start();
                    client.sendOptionHeader(IHAVEOPT, OPT_GO, 100);
                    client.queueRaw(new byte[random.nextInt(100)]);
                    client.flush();
                    break;
                case 3: // options answered, then leave during haggling
                    client.start();
                    assertEquals(REP_ACK, client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]).type());
                    assertEquals(4, client.option(OPT_LIST, new byte[0]).size());
                    break;
                case 4: // GO, write, read back, clean disconnect
                {
                    client.handshake("disk", random.nextBoolean(), false);
                    final Reply write = client.write(0, index, (long)index * WRITE_SIZE, dataOf(index));
                    assertEquals(0, write.errno(), "write of client " + index);
                    final Reply read = client.read(0, index + 1, (long)index * WRITE_SIZE, WRITE_SIZE);
                    assertArrayEquals(dataOf(index), read.data(), "read back by client " + index);
                    client.sendRequest(0, CMD_DISC, 0, 0, 0);
                    assertTrue(client.awaitClosed(), "DISC closes, client " + index);
                    reset = false;
                    break;
                }
                default: // GO, read, leave with reads still in flight
                {
                    client.handshake("disk", true, false);
                    final int offset = READ_REGION + random.nextInt(READ_REGION - 4096);
                    final Reply read = client.read(0, 1, offset, 4096);
                    final byte[] expected = new byte[4096];
                    for (int i = 0; i < expected.length; i++)
                    {
                        expected[i] = MemoryNbdBackend.pattern(TestServer.DISK_SEED, offset + i);
                    }
                    assertArrayEquals(expected, read.data(), "read by client " + index);
                    client.queueRead(0, 2, offset, 4096);
                    client.queueRead(0, 3, 0, 65536);
                    client.flush();
                    break;
                }
            }
        }
        catch (final Exception | AssertionError ex)
        {
            throw new AssertionError("client " + index + " failed: " + ex, ex);
        }
        finally
        {
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

    private static byte[] dataOf(final int index)
    {
        final byte[] data = new byte[WRITE_SIZE];
        final ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining())
        {
            b.putInt(index);
        }
        return data;
    }
}
