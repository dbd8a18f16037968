package io.mirra.node;

import io.mirra.engine.storage.BlockStore;
import io.mirra.engine.storage.DiskIoWorkers;
import io.mirra.engine.storage.StorageException;
import io.mirra.nbd.protocol.NbdProtocol;
import io.mirra.nbd.spi.NbdBackend;
import io.mirra.nbd.spi.NbdRequest;

import java.lang.System.Logger.Level;
import java.util.function.Consumer;

/**
 * Serves NBD requests from a {@link BlockStore}: the request itself is queued on the disk I/O threads (no task
 * object per request), runs its blocking call there, and completes back to the frontend.
 * <p>
 * Multi-conn: every connection shares this backend and its one store, so a flush (fdatasync of the store) covers
 * every write completed before it on any connection.
 */
public final class BlockStoreNbdBackend implements NbdBackend
{
    private static final System.Logger LOG = System.getLogger(BlockStoreNbdBackend.class.getName());

    private final BlockStore store;
    private final DiskIoWorkers workers;
    private final boolean readOnly;
    private final Consumer<NbdRequest> execute = this::execute;

    /**
     * @param store    the storage; not closed by this class.
     * @param workers  the threads that may block on the store.
     * @param readOnly true to refuse writes even if the store is writable.
     */
    public BlockStoreNbdBackend(final BlockStore store, final DiskIoWorkers workers, final boolean readOnly)
    {
        this.store = store;
        this.workers = workers;
        this.readOnly = readOnly || store.isReadOnly();
    }

    @Override
    public long sizeBytes()
    {
        return store.sizeBytes();
    }

    @Override
    public boolean isReadOnly()
    {
        return readOnly;
    }

    @Override
    public boolean canTrim()
    {
        return store.canTrim();
    }

    @Override
    public boolean canReportExtents()
    {
        return store.canReportExtents();
    }

    @Override
    public int preferredBlockSize()
    {
        return Math.max(512, Math.min(65536, store.preferredBlockSizeBytes()));
    }

    @Override
    public void submit(final NbdRequest request)
    {
        request.executor(execute);
        if (!workers.offer(request))
        {
            // Unreachable while connections respect their in-flight bounds; never block the event loop for it.
            LOG.log(Level.WARNING, "disk queue full ({0} queued); failing {1}", workers.queueDepth(), request);
            request.complete(NbdProtocol.EIO, "disk queue full");
        }
    }

    /** Runs on a disk I/O thread. */
    private void execute(final NbdRequest request)
    {
        try
        {
            final long offset = request.offsetBytes();
            switch (request.type())
            {
                case NbdProtocol.CMD_READ:
                    store.read(request.readBuffer(), offset);
                    break;
                case NbdProtocol.CMD_WRITE:
                    // A payload that spanned socket reads is several buffers: one gathering write, no joining copy.
                    store.write(request.payloadBuffers(), offset);
                    flushIfFua(request);
                    break;
                case NbdProtocol.CMD_FLUSH:
                    store.flush();
                    break;
                case NbdProtocol.CMD_TRIM:
                    store.trim(offset, request.lengthBytes());
                    flushIfFua(request);
                    break;
                case NbdProtocol.CMD_WRITE_ZEROES:
                    if (!store.zero(offset, request.lengthBytes(), !request.hasFlag(NbdProtocol.CMD_FLAG_NO_HOLE),
                        request.hasFlag(NbdProtocol.CMD_FLAG_FAST_ZERO)))
                    {
                        request.complete(NbdProtocol.ENOTSUP, "no fast way to zero this range");
                        return;
                    }
                    flushIfFua(request);
                    break;
                case NbdProtocol.CMD_BLOCK_STATUS:
                    store.extents(offset, request.lengthBytes(), (length, hole) ->
                        request.addExtent(length, hole ? NbdProtocol.STATE_HOLE | NbdProtocol.STATE_ZERO : 0));
                    break;
                default:
                    request.complete(NbdProtocol.EINVAL, "unsupported command");
                    return;
            }
            request.complete(0, null);
        }
        catch (final StorageException ex)
        {
            request.complete(nbdErrno(ex.errno()), ex.getMessage());
        }
        catch (final RuntimeException ex)
        {
            LOG.log(Level.ERROR, "unexpected failure of " + request, ex);
            request.complete(NbdProtocol.EIO, ex.toString());
        }
    }

    private void flushIfFua(final NbdRequest request) throws StorageException
    {
        if (request.hasFlag(NbdProtocol.CMD_FLAG_FUA))
        {
            store.flush();
        }
    }

    /**
     * @param errno a POSIX errno from the store.
     * @return the NBD error code a client understands.
     */
    static int nbdErrno(final int errno)
    {
        switch (errno)
        {
            case StorageException.EPERM:
            case StorageException.EROFS:
                return NbdProtocol.EPERM;
            case StorageException.ENOMEM:
                return NbdProtocol.ENOMEM;
            case StorageException.EINVAL:
                return NbdProtocol.EINVAL;
            case StorageException.ENOSPC:
                return NbdProtocol.ENOSPC;
            case StorageException.ENOTSUP:
                return NbdProtocol.ENOTSUP;
            default:
                return NbdProtocol.EIO;
        }
    }
}
