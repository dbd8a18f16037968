package io.mirra.nbd.test;

import io.mirra.nbd.server.NbdServer;
import io.mirra.nbd.server.NbdServerContext;
import io.mirra.nbd.spi.ExportRegistry;
import io.mirra.nbd.spi.NbdExport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real {@link NbdServer} on 127.0.0.1, port 0, with three exports:
 * <ul>
 * <li>{@code disk} (the default): writable, {@link #DISK_SIZE} bytes filled with {@link #DISK_SEED}'s pattern,
 * description {@link #DISK_DESCRIPTION};</li>
 * <li>{@code ro}: read-only, {@link #RO_SIZE} bytes filled with {@link #RO_SEED}'s pattern, no description;</li>
 * <li>{@code holey}: writable, {@link #HOLEY_SIZE} bytes, all holes, preferred block size 65536, no trim.</li>
 * </ul>
 */
public final class TestServer implements AutoCloseable
{
    /** Size of {@code disk}. */
    public static final int DISK_SIZE = 1 << 20;
    /** Pattern seed of {@code disk}. */
    public static final int DISK_SEED = 7;
    /** Description of {@code disk}. */
    public static final String DISK_DESCRIPTION = "in-memory test disk";
    /** Size of {@code ro}. */
    public static final int RO_SIZE = 64 * 1024;
    /** Pattern seed of {@code ro}. */
    public static final int RO_SEED = 11;
    /** Size of {@code holey}. */
    public static final int HOLEY_SIZE = 256 * 1024;

    /** Backend of {@code disk}. */
    public final MemoryNbdBackend disk = new MemoryNbdBackend(DISK_SIZE, false);
    /** Backend of {@code ro}. */
    public final MemoryNbdBackend readOnly = new MemoryNbdBackend(RO_SIZE, true);
    /** Backend of {@code holey}. */
    public final MemoryNbdBackend holey = new MemoryNbdBackend(HOLEY_SIZE, false, false, 65536);
    /** The server. */
    public final NbdServer server;
    /** Its settings. */
    public final NbdServerContext context;

    private TestServer(final Consumer<NbdServerContext> settings) throws InterruptedException
    {
        disk.fillPattern(DISK_SEED);
        readOnly.fillPattern(RO_SEED);
        final ExportRegistry registry = new ExportRegistry()
            .add(new NbdExport("disk", DISK_DESCRIPTION, disk))
            .add(new NbdExport("ro", "", readOnly))
            .add(new NbdExport("holey", "", holey));
        context = new NbdServerContext().host("127.0.0.1").port(0);
        settings.accept(context);
        server = new NbdServer(registry, context).start();
    }

    /**
     * @return a started server with default settings.
     * @throws InterruptedException if interrupted while binding.
     */
    public static TestServer start() throws InterruptedException
    {
        return new TestServer(c ->
        {
        });
    }

    /**
     * @param settings adjusts the server settings before start.
     * @return a started server.
     * @throws InterruptedException if interrupted while binding.
     */
    public static TestServer start(final Consumer<NbdServerContext> settings) throws InterruptedException
    {
        return new TestServer(settings);
    }

    /** @return where the server listens. */
    public InetSocketAddress address()
    {
        return server.localAddress();
    }

    /**
     * @return a new connection that has read nothing yet.
     * @throws IOException on failure.
     */
    public RawNbdClient connect() throws IOException
    {
        return RawNbdClient.connect(address());
    }

    /**
     * @param export     export name.
     * @param structured negotiate structured replies.
     * @param allocation select base:allocation.
     * @return a connection in transmission phase.
     * @throws IOException on failure.
     */
    public RawNbdClient open(final String export, final boolean structured, final boolean allocation)
        throws IOException
    {
        final RawNbdClient client = connect();
        client.handshake(export, structured, allocation);
        return client;
    }

    /**
     * Wait until the server counts exactly {@code expected} connections.
     *
     * @param expected  connection count.
     * @param timeoutMs deadline.
     */
    public void awaitConnections(final int expected, final long timeoutMs)
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (server.connectionCount() != expected && System.nanoTime() < deadline)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)); // poll: the count has no change notification
        }
        assertEquals(expected, server.connectionCount(), "server connection count");
    }

    /**
     * Check the server still works: a fresh client negotiates and reads back {@code disk}'s first 64 KiB.
     *
     * @throws IOException on failure.
     */
    public void assertServesCorrectData() throws IOException
    {
        try (RawNbdClient client = open("disk", true, false))
        {
            final RawNbdClient.Reply reply = client.read(0, 0xC0FFEE, 0, 65536);
            assertEquals(0, reply.errno(), "read errno: " + reply.message());
            final byte[] expected = disk.contents(0, 65536);
            assertTrue(java.util.Arrays.equals(expected, reply.data()), "data read back");
        }
    }

    @Override
    public void close()
    {
        for (final MemoryNbdBackend backend : new MemoryNbdBackend[] {disk, readOnly, holey})
        {
            backend.release();
            try
            {
                backend.awaitIdle(10_000); // completions after the server closed would leak (reported bug)
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(ex);
            }
        }
        server.close();
        for (final MemoryNbdBackend backend : new MemoryNbdBackend[] {disk, readOnly, holey})
        {
            backend.shutdown();
            assertTrue(backend.violations().isEmpty(), "backend saw broken promises: " + backend.violations());
            assertAllClosed(backend);
        }
    }

    private static void assertAllClosed(final MemoryNbdBackend backend)
    {
        try
        {
            // Every connection is closed once the server is; the close of its backend follows its last completion.
            assertTrue(backend.awaitAllClosed(10_000), "every open backend is closed once: " +
                backend.openCount() + " opens, " + backend.closeCount() + " closes");
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
        }
    }
}
