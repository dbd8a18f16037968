package io.mirra.engine.replication;

import io.mirra.engine.storage.StorageException;
import io.mirra.transport.StreamKind;
import io.mirra.transport.netty.Frame;
import io.mirra.transport.netty.OutboundFrames;
import io.mirra.transport.protocol.ReadReplyFlyweight;
import io.mirra.transport.protocol.ReplicationProtocol;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import org.agrona.collections.Long2ObjectHashMap;

import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads served by peers, for a node without an UpToDate local copy (a diskless node, DRBD's "client"): a read is
 * split into READ_REQUESTs of at most one frame, all sent to one UpToDate peer chosen by the resource's
 * {@link ReadBalancing}; a request whose peer fails it or goes away is sent to another UpToDate peer, and the read
 * fails only when none is left.
 * <p>
 * Guarded by the resource's lock: every method is called holding it.
 */
final class RemoteReads
{
    private static final System.Logger LOG = System.getLogger(RemoteReads.class.getName());
    private static final ThreadLocal<OutboundFrames> FRAMES = ThreadLocal.withInitial(OutboundFrames::new);
    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;
    private static final int MAX_CHUNK = ReplicationProtocol.MAX_WRITE_DATA_LENGTH;

    private final ResourceSpec spec;
    private final PeerState[] peers;
    private final Long2ObjectHashMap<ReadChunk> pending = new Long2ObjectHashMap<>();
    private long nextId = 1;
    private int roundRobin;

    RemoteReads(final ResourceSpec spec, final PeerState[] peers)
    {
        this.spec = spec;
        this.peers = peers;
    }

    /**
     * Start a read.
     *
     * @return null when started, or why it cannot be.
     */
    <T> String read(final int volume, final long offset, final ByteBuffer target, final IoCallback<T> callback,
        final T context)
    {
        return read(volume, offset, target, callback, context, null);
    }

    /**
     * Start a read that no request of goes to {@code avoid} (a resync's target: its copy is what is being replaced).
     *
     * @return null when started, or why it cannot be.
     */
    <T> String read(final int volume, final long offset, final ByteBuffer target, final IoCallback<T> callback,
        final T context, final PeerState avoid)
    {
        final int length = target.remaining();
        final PeerState peer = avoid == null ? pick(volume) : pickExcept(volume, avoid);
        if (peer == null)
        {
            return "no UpToDate copy of volume " + volume + " is reachable from " + spec.nodeName();
        }
        @SuppressWarnings("unchecked")
        final RemoteRead read = new RemoteRead(volume, offset, target, (IoCallback<Object>)callback, context, avoid);
        read.chunksLeft = (length + MAX_CHUNK - 1) / MAX_CHUNK;
        for (int pos = 0; pos < length; pos += MAX_CHUNK)
        {
            send(new ReadChunk(read, pos, Math.min(MAX_CHUNK, length - pos)), peer);
        }
        return null;
    }

    /** @return an UpToDate peer for the volume by the balancing rule, or null. */
    PeerState pick(final int volume)
    {
        PeerState best = null;
        final int n = peers.length;
        for (int i = 0; i < n; i++)
        {
            final PeerState candidate = peers[(roundRobin + i) % n];
            if (!candidate.canServeReads(volume))
            {
                continue;
            }
            if (spec.readBalancing() == ReadBalancing.ROUND_ROBIN)
            {
                roundRobin = (candidate.index + 1) % n;
                return candidate;
            }
            if (best == null || candidate.pendingReads < best.pendingReads ||
                candidate.pendingReads == best.pendingReads && candidate.spec.nodeId() < best.spec.nodeId())
            {
                best = candidate;
            }
        }
        return best;
    }

    private PeerState pickExcept(final int volume, final PeerState excluded)
    {
        return pickExcept(volume, excluded, null);
    }

    PeerState pickExcept(final int volume, final PeerState excluded, final PeerState alsoExcluded)
    {
        for (final PeerState peer : peers)
        {
            if (peer != excluded && peer != alsoExcluded && peer.canServeReads(volume))
            {
                return peer;
            }
        }
        return null;
    }

    private void send(final ReadChunk chunk, final PeerState peer)
    {
        chunk.id = nextId++;
        chunk.peer = peer;
        pending.put(chunk.id, chunk);
        peer.pendingReads++;
        final Frame frame = FRAMES.get().readRequest(ALLOC, chunk.read.volume, chunk.id,
            chunk.read.offset + chunk.position, chunk.length);
        if (!peer.link.send(StreamKind.DATA, frame))
        {
            // The link went down under us: onPeerDown re-routes it (it is registered already).
            LOG.log(Level.DEBUG, "{0}: read request to {1} not sent; it will be re-routed", spec.name(), peer);
        }
    }

    /** A READ_REPLY arrived from the peer (the frame stays the caller's). */
    void onReply(final PeerState peer, final Frame frame)
    {
        final ByteBuf body = frame.content();
        final int base = body.readerIndex();
        final long id = body.getLongLE(base + ReadReplyFlyweight.REQUEST_ID_OFFSET);
        final int status = body.getIntLE(base + ReadReplyFlyweight.STATUS_OFFSET);
        final ReadChunk chunk = pending.remove(id);
        if (chunk == null || chunk.peer != peer)
        {
            LOG.log(Level.WARNING, "{0}: reply to unknown read {1} from {2}; ignored", spec.name(), id, peer);
            if (chunk != null)
            {
                pending.put(id, chunk);
            }
            return;
        }
        peer.pendingReads--;
        if (status != 0)
        {
            final PeerState other = pickExcept(chunk.read.volume, peer, chunk.read.avoid);
            if (other != null)
            {
                send(chunk, other);
                return;
            }
            finish(chunk, status, peer.name() + " failed the read (errno " + status + ")");
            return;
        }
        final ByteBuf data = frame.readReplyData();
        if (data.readableBytes() != chunk.length)
        {
            finish(chunk, StorageException.EIO, peer.name() + " answered a read of " + chunk.length + " bytes with " +
                data.readableBytes());
            return;
        }
        final ByteBuffer target = chunk.read.target;
        // One copy into the caller's buffer: the reply arrives in socket buffers, the NBD reply needs its own.
        data.getBytes(data.readerIndex(), target.duplicate().position(target.position() + chunk.position)
            .limit(target.position() + chunk.position + chunk.length));
        peer.receivedBytes[chunk.read.volume] += chunk.length;
        finish(chunk, 0, null);
    }

    /** The peer's link went down: its reads go to another UpToDate peer, or fail. */
    void onPeerDown(final PeerState peer, final String why, final boolean closing)
    {
        final List<ReadChunk> reroute = new ArrayList<>();
        pending.forEach((id, chunk) ->
        {
            if (chunk.peer == peer)
            {
                reroute.add(chunk);
            }
        });
        for (final ReadChunk chunk : reroute)
        {
            pending.remove(chunk.id);
            final PeerState other = closing ? null : chunk.read.avoid == null ? pick(chunk.read.volume) :
                pickExcept(chunk.read.volume, peer, chunk.read.avoid);
            if (other == null)
            {
                finish(chunk, StorageException.EIO, "read from " + peer.name() + " lost (" + why +
                    ") and no other UpToDate copy is reachable");
            }
            else
            {
                send(chunk, other);
            }
        }
        peer.pendingReads = 0;
    }

    private static void finish(final ReadChunk chunk, final int errno, final String message)
    {
        final RemoteRead read = chunk.read;
        if (read.done)
        {
            return;
        }
        if (errno != 0)
        {
            read.done = true;
            read.callback.onComplete(read.context, errno, message);
            return;
        }
        if (--read.chunksLeft == 0)
        {
            read.done = true;
            read.callback.onComplete(read.context, 0, null);
        }
    }

    /** A read served by peers, in chunks of at most one frame. */
    private static final class RemoteRead
    {
        final int volume;
        final long offset;
        final ByteBuffer target;
        final IoCallback<Object> callback;
        final Object context;
        /** A peer none of its requests may go to, or null. */
        final PeerState avoid;
        int chunksLeft;
        boolean done;

        RemoteRead(final int volume, final long offset, final ByteBuffer target, final IoCallback<Object> callback,
            final Object context, final PeerState avoid)
        {
            this.volume = volume;
            this.offset = offset;
            this.target = target;
            this.callback = callback;
            this.context = context;
            this.avoid = avoid;
        }
    }

    /** One READ_REQUEST of a remote read. */
    private static final class ReadChunk
    {
        final RemoteRead read;
        final int position;
        final int length;
        long id;
        PeerState peer;

        ReadChunk(final RemoteRead read, final int position, final int length)
        {
            this.read = read;
            this.position = position;
            this.length = length;
        }
    }
}
