package io.mirra.node;

import io.mirra.engine.storage.BlockStore;
import io.mirra.engine.storage.DiskIoWorkers;
import io.mirra.engine.storage.FileBlockStore;
import io.mirra.engine.storage.StorageException;
import io.mirra.nbd.server.NbdServer;
import io.mirra.nbd.server.NbdServerContext;
import io.mirra.nbd.spi.ExportRegistry;
import io.mirra.nbd.spi.NbdExport;

import java.net.InetSocketAddress;
import java.nio.file.Path;

/**
 * A single-node NBD server of one file or block device, without replication: what {@code mirra serve} runs.
 * Owns the store, its disk threads and the NBD server, and closes them in the order that loses nothing: stop
 * accepting and close connections, let queued disk work finish, flush, close the store.
 */
public final class StandaloneServer implements AutoCloseable
{
    /** Default disk I/O threads: enough to overlap fdatasync with page-cache I/O on a 2-core machine. */
    public static final int IO_THREADS_DEFAULT = 4;

    private final BlockStore store;
    private final DiskIoWorkers workers;
    private final NbdServer server;
    private final String exportName;

    private StandaloneServer(final BlockStore store, final DiskIoWorkers workers, final NbdServer server,
        final String exportName)
    {
        this.store = store;
        this.workers = workers;
        this.server = server;
        this.exportName = exportName;
    }

    /**
     * Open (or create) the disk and start serving it.
     *
     * @param disk        file or block device.
     * @param sizeBytes   size for a file that does not exist yet, or -1.
     * @param readOnly    serve read-only.
     * @param exportName  NBD export name.
     * @param host        listen host.
     * @param port        listen port, 0 for any.
     * @param ioThreads   disk I/O threads.
     * @return the running server.
     * @throws StorageException     if the disk cannot be opened or created.
     * @throws InterruptedException if interrupted while binding.
     */
    public static StandaloneServer start(final Path disk, final long sizeBytes, final boolean readOnly,
        final String exportName, final String host, final int port, final int ioThreads)
        throws StorageException, InterruptedException
    {
        final BlockStore store = FileBlockStore.openOrCreate(disk, sizeBytes, readOnly);
        DiskIoWorkers workers = null;
        try
        {
            final NbdServerContext context = new NbdServerContext().host(host).port(port);
            workers = new DiskIoWorkers("mirra-disk", ioThreads,
                context.maxConnections() * context.maxInFlightRequests());
            final ExportRegistry exports = new ExportRegistry().add(new NbdExport(exportName,
                "mirra export of " + disk, new BlockStoreNbdBackend(store, workers, readOnly)));
            final NbdServer server = new NbdServer(exports, context).start();
            return new StandaloneServer(store, workers, server, exportName);
        }
        catch (final RuntimeException | InterruptedException ex)
        {
            if (workers != null)
            {
                workers.close();
            }
            store.close();
            throw ex;
        }
    }

    /** @return the bound address. */
    public InetSocketAddress localAddress()
    {
        return server.localAddress();
    }

    /** @return the NBD URI clients use. */
    public String uri()
    {
        final InetSocketAddress address = localAddress();
        final String host = address.getAddress().getHostAddress();
        return "nbd://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort() + "/" + exportName;
    }

    /** @return the size of the export in bytes. */
    public long sizeBytes()
    {
        return store.sizeBytes();
    }

    @Override
    public void close() throws StorageException
    {
        server.close();
        workers.close();
        try
        {
            if (!store.isReadOnly())
            {
                store.flush();
            }
        }
        finally
        {
            store.close();
        }
    }
}
