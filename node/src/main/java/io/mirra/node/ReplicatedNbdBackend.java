package io.mirra.node;

import io.mirra.engine.replication.IoCallback;
import io.mirra.engine.replication.ReplicatedResource;
import io.mirra.engine.replication.Role;
import io.mirra.nbd.protocol.NbdProtocol;
import io.mirra.nbd.spi.NbdBackend;
import io.mirra.nbd.spi.NbdRequest;

import java.lang.System.Logger.Level;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The NBD export of one volume of a replicated resource. Every connection gets its own {@link Session}, which is
 * how auto-promote works (SPEC §1): a connection's first write makes the node Primary if no other node is, and the
 * node goes back to Secondary when the last connection that wrote through it closes. While another node is Primary
 * the export opens read-only, so clients learn at once that they cannot write here; a write that still cannot be
 * admitted (the promotion was refused) fails with EPERM and the reason.
 */
final class ReplicatedNbdBackend implements NbdBackend
{
    private static final System.Logger LOG = System.getLogger(ReplicatedNbdBackend.class.getName());
    private static final IoCallback<NbdRequest> COMPLETE = (request, errno, message) ->
        request.complete(errno == 0 ? 0 : BlockStoreNbdBackend.nbdErrno(errno), message);

    private final ReplicatedResource resource;
    private final int volume;
    private final long sizeBytes;

    ReplicatedNbdBackend(final ReplicatedResource resource, final int volume)
    {
        this.resource = resource;
        this.volume = volume;
        this.sizeBytes = resource.spec().volumeSizes()[volume];
    }

    @Override
    public long sizeBytes()
    {
        return sizeBytes;
    }

    @Override
    public boolean isReadOnly()
    {
        return resource.otherPrimary() != null;
    }

    @Override
    public boolean canTrim()
    {
        return true;
    }

    @Override
    public boolean canReportExtents()
    {
        return false;
    }

    @Override
    public int preferredBlockSize()
    {
        return 4096;
    }

    @Override
    public NbdBackend open(final String client)
    {
        final String primary = resource.otherPrimary();
        if (primary != null)
        {
            LOG.log(Level.INFO, "{0}: {1} opens volume {2} read-only: {3} is Primary", resource.spec().name(), client,
                volume, primary);
        }
        return new Session(client, primary != null);
    }

    @Override
    public void submit(final NbdRequest request)
    {
        // Only sessions receive requests (the frontend always opens first).
        request.complete(NbdProtocol.EIO, "request without an open export");
    }

    /** One NBD connection's view of the volume. Its methods run on the connection's event loop. */
    private final class Session implements NbdBackend
    {
        private final String client;
        private final boolean openedReadOnly;
        /** Set at the first write: completes when this connection may write. */
        private CompletableFuture<Void> writer;
        private volatile boolean isWriter;

        Session(final String client, final boolean openedReadOnly)
        {
            this.client = client;
            this.openedReadOnly = openedReadOnly;
        }

        @Override
        public long sizeBytes()
        {
            return sizeBytes;
        }

        @Override
        public boolean isReadOnly()
        {
            // A session that opened read-only stays so: the client was told the export is read-only.
            return openedReadOnly;
        }

        @Override
        public boolean canTrim()
        {
            return true;
        }

        @Override
        public boolean canReportExtents()
        {
            return false;
        }

        @Override
        public int preferredBlockSize()
        {
            return 4096;
        }

        @Override
        public void submit(final NbdRequest request)
        {
            switch (request.type())
            {
                case NbdProtocol.CMD_READ:
                    resource.read(volume, request.offsetBytes(), request.readBuffer(), COMPLETE, request);
                    return;
                case NbdProtocol.CMD_BLOCK_STATUS:
                    // Allocation is not tracked across copies: everything is reported as data.
                    request.addExtent(request.lengthBytes(), 0);
                    request.complete(0, null);
                    return;
                case NbdProtocol.CMD_FLUSH:
                    if (writer == null)
                    {
                        // Multi-conn: a flush covers the writes of every connection, so on a Primary it runs even
                        // for a connection that wrote nothing; a Secondary has no writes of its own to make durable.
                        if (resource.role() == Role.PRIMARY)
                        {
                            resource.flush(volume, COMPLETE, request);
                        }
                        else
                        {
                            request.complete(0, null);
                        }
                        return;
                    }
                    break;
                case NbdProtocol.CMD_WRITE_ZEROES:
                    if (request.hasFlag(NbdProtocol.CMD_FLAG_FAST_ZERO))
                    {
                        request.complete(NbdProtocol.ENOTSUP, "fast zeroing is not guaranteed on every copy");
                        return;
                    }
                    break;
                default:
                    break;
            }
            if (writer == null)
            {
                writer = resource.acquireWriter();
                writer.whenComplete((ok, failure) ->
                {
                    if (failure == null)
                    {
                        isWriter = true;
                        LOG.log(Level.INFO, "{0}: {1} writes through volume {2}", resource.spec().name(), client,
                            volume);
                    }
                    else
                    {
                        LOG.log(Level.WARNING, "{0}: {1} may not write volume {2}: {3}", resource.spec().name(),
                            client, volume, cause(failure).getMessage());
                    }
                });
            }
            if (writer.isDone() && !writer.isCompletedExceptionally())
            {
                execute(request);
                return;
            }
            writer.whenComplete((ok, failure) ->
            {
                if (failure != null)
                {
                    request.complete(NbdProtocol.EPERM, "cannot write through " + resource.spec().nodeName() + ": " +
                        cause(failure).getMessage());
                }
                else
                {
                    execute(request);
                }
            });
        }

        private void execute(final NbdRequest request)
        {
            final boolean fua = request.hasFlag(NbdProtocol.CMD_FLAG_FUA);
            switch (request.type())
            {
                case NbdProtocol.CMD_WRITE:
                    resource.write(volume, request.offsetBytes(), request.payload(), fua, COMPLETE, request);
                    break;
                case NbdProtocol.CMD_TRIM:
                    resource.trim(volume, request.offsetBytes(), request.lengthBytes(), fua, COMPLETE, request);
                    break;
                case NbdProtocol.CMD_WRITE_ZEROES:
                    resource.zero(volume, request.offsetBytes(), request.lengthBytes(),
                        request.hasFlag(NbdProtocol.CMD_FLAG_NO_HOLE), fua, COMPLETE, request);
                    break;
                case NbdProtocol.CMD_FLUSH:
                    resource.flush(volume, COMPLETE, request);
                    break;
                default:
                    request.complete(NbdProtocol.EINVAL, "unsupported command");
                    break;
            }
        }

        @Override
        public void close()
        {
            if (isWriter)
            {
                resource.releaseWriter();
            }
            else if (writer != null)
            {
                // A promotion still under way for this connection: release once it is done.
                writer.whenComplete((ok, failure) ->
                {
                    if (failure == null)
                    {
                        resource.releaseWriter();
                    }
                });
            }
        }
    }

    private static Throwable cause(final Throwable failure)
    {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }
}
