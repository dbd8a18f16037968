package io.mirra.engine.replication;

import io.mirra.engine.storage.StorageException;
import io.mirra.transport.StreamKind;
import io.mirra.transport.netty.Frame;
import io.mirra.transport.netty.OutboundFrames;
import io.mirra.transport.protocol.RangeOpFlyweight;
import io.mirra.transport.protocol.ReadRequestFlyweight;
import io.mirra.transport.protocol.ReplicationProtocol;
import io.mirra.transport.protocol.ResyncEndFlyweight;
import io.mirra.transport.protocol.VerifyRequestFlyweight;
import io.mirra.transport.protocol.WriteFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.lang.System.Logger.Level;

import static io.mirra.transport.protocol.ReplicationProtocol.ACK_FLAG_DURABLE;
import static io.mirra.transport.protocol.ReplicationProtocol.ACK_FLAG_RECEIVED;

/**
 * The receiving side of the write path (DRBD's receiver): operations a peer sends (writes, trims, zeroing, flushes,
 * and reads for diskless peers) pass through a per-peer ordering gate and run on disk threads; each is answered
 * (a WRITE_ACK, or a READ_REPLY) when done.
 * <p>
 * <b>The gate.</b> Operations start in arrival order. A write of the current epoch starts at once (writes of one
 * epoch were all in flight together at the Primary, none completed before another was submitted, so any order is
 * allowed); a write of a later epoch waits until every running write finished, which is what keeps every copy
 * crash-consistent (SPEC §2.2). A FLUSH waits for every write that arrived before it. A read waits for running
 * writes it overlaps.
 * <p>
 * Guarded by the resource's lock, like the rest of the resource's state.
 */
final class PeerApplier
{
    private static final System.Logger LOG = System.getLogger(PeerApplier.class.getName());
    private static final ThreadLocal<OutboundFrames> FRAMES = ThreadLocal.withInitial(OutboundFrames::new);
    private static final ThreadLocal<BlockDigest> DIGEST = ThreadLocal.withInitial(BlockDigest::new);
    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

    /** Writes received and waiting at the gate beyond which the peer's data stream is not read. */
    static final long PAUSE_QUEUED_BYTES = 96L << 20;
    /** ... and below which reading resumes. */
    static final long RESUME_QUEUED_BYTES = 32L << 20;

    private final ReplicatedResource resource;
    private final ResourceSpec spec;

    PeerApplier(final ReplicatedResource resource)
    {
        this.resource = resource;
        this.spec = resource.spec();
    }

    void onPeerOp(final PeerState peer, final Frame frame)
    {
        final int type = frame.type();
        final int volume = frame.volume();
        final ByteBuf body = frame.content();
        final int base = body.readerIndex();
        final ApplyOp op;
        switch (type)
        {
            case ReplicationProtocol.WRITE:
            {
                final long seq = body.getLongLE(base + WriteFlyweight.WRITE_SEQUENCE_OFFSET);
                final long offset = body.getLongLE(base + WriteFlyweight.BYTE_OFFSET_OFFSET);
                final long ep = body.getUnsignedIntLE(base + WriteFlyweight.EPOCH_OFFSET);
                final int flags = body.getUnsignedShortLE(base + WriteFlyweight.FLAGS_OFFSET);
                op = new ApplyOp(this, peer, ApplyOp.WRITE, volume, seq, offset, frame.writeData().readableBytes(),
                    ep, flags);
                op.fua = (flags & ReplicationProtocol.WRITE_FLAG_FUA) != 0;
                op.frame = frame;
                if ((flags & ReplicationProtocol.WRITE_FLAG_ACK_RECEIVED) != 0)
                {
                    peer.link.sendWriteAck(volume, seq, 0, ACK_FLAG_RECEIVED);
                }
                break;
            }
            case ReplicationProtocol.TRIM:
            case ReplicationProtocol.WRITE_ZEROES:
            case ReplicationProtocol.FLUSH:
            {
                final long seq = body.getLongLE(base + RangeOpFlyweight.OP_SEQUENCE_OFFSET);
                final long offset = body.getLongLE(base + RangeOpFlyweight.BYTE_OFFSET_OFFSET);
                final long length = body.getLongLE(base + RangeOpFlyweight.LENGTH_OFFSET);
                final long ep = body.getUnsignedIntLE(base + RangeOpFlyweight.EPOCH_OFFSET);
                final int flags = body.getUnsignedShortLE(base + RangeOpFlyweight.FLAGS_OFFSET);
                final int kind = type == ReplicationProtocol.TRIM ? ApplyOp.TRIM :
                    type == ReplicationProtocol.WRITE_ZEROES ? ApplyOp.ZERO : ApplyOp.FLUSH;
                op = new ApplyOp(this, peer, kind, volume, seq, offset, length, ep, flags);
                op.fua = (flags & ReplicationProtocol.RANGE_FLAG_FUA) != 0;
                op.noHole = (flags & ReplicationProtocol.RANGE_FLAG_NO_HOLE) != 0;
                frame.release();
                break;
            }
            case ReplicationProtocol.RESYNC_DATA:
            {
                final long seq = body.getLongLE(base + WriteFlyweight.WRITE_SEQUENCE_OFFSET);
                final long offset = body.getLongLE(base + WriteFlyweight.BYTE_OFFSET_OFFSET);
                final long ep = body.getUnsignedIntLE(base + WriteFlyweight.EPOCH_OFFSET);
                op = new ApplyOp(this, peer, ApplyOp.RESYNC, volume, seq, offset, frame.writeData().readableBytes(),
                    ep, 0);
                op.frame = frame;
                break;
            }
            case ReplicationProtocol.RESYNC_END:
            {
                op = new ApplyOp(this, peer, ApplyOp.RESYNC_END, volume, 0, 0, 0, 0, 0);
                op.sourceGen = body.getLongLE(base + ResyncEndFlyweight.SOURCE_GEN_OFFSET);
                frame.release();
                break;
            }
            case ReplicationProtocol.VERIFY_REQUEST:
            {
                // Served like a read (after the writes that arrived before it), answered with digests.
                final long id = body.getLongLE(base + VerifyRequestFlyweight.REQUEST_ID_OFFSET);
                final long offset = body.getLongLE(base + VerifyRequestFlyweight.BYTE_OFFSET_OFFSET);
                final long length = body.getUnsignedIntLE(base + VerifyRequestFlyweight.LENGTH_OFFSET);
                op = new ApplyOp(this, peer, ApplyOp.READ, volume, id, offset, length, 0, 0);
                op.verifyBlockSize = (int)body.getUnsignedIntLE(base + VerifyRequestFlyweight.BLOCK_SIZE_OFFSET);
                frame.release();
                break;
            }
            case ReplicationProtocol.READ_REQUEST:
            {
                final long id = body.getLongLE(base + ReadRequestFlyweight.REQUEST_ID_OFFSET);
                final long offset = body.getLongLE(base + ReadRequestFlyweight.BYTE_OFFSET_OFFSET);
                final long length = body.getUnsignedIntLE(base + ReadRequestFlyweight.LENGTH_OFFSET);
                op = new ApplyOp(this, peer, ApplyOp.READ, volume, id, offset, length, 0, 0);
                frame.release();
                break;
            }
            default:
                frame.release();
                return;
        }
        synchronized (resource)
        {
            final String refusal = applyRefusal(peer, op);
            if (refusal != null)
            {
                LOG.log(Level.WARNING, "{0}: refusing {1}: {2}", spec.name(), op, refusal);
                finishApply(op, StorageException.EIO);
                return;
            }
            if (op.kind == ApplyOp.RESYNC_END)
            {
                if (op.sourceGen == 0)
                {
                    resource.onResyncRefused(peer, volume);
                    return;
                }
                // Writes the source sends after this frame are replicated writes: accept them from now on.
                resource.onResyncEndArrived(peer, volume);
            }
            else if (op.kind == ApplyOp.RESYNC)
            {
                resource.onResyncDataArrived(volume);
            }
            op.store = resource.store(volume);
            if (op.kind == ApplyOp.WRITE || op.kind == ApplyOp.TRIM || op.kind == ApplyOp.ZERO)
            {
                resource.recordPrimaryWrite(volume, op.offset, op.length);
            }
            if (op.isWrite())
            {
                peer.receivedBytes[volume] += op.kind == ApplyOp.WRITE || op.kind == ApplyOp.RESYNC ? op.length : 0;
            }
            if (peer.queued.isEmpty() && canStart(peer, op))
            {
                startApply(peer, op);
            }
            else
            {
                peer.queued.add(op);
                peer.queuedBytes += op.kind == ApplyOp.WRITE || op.kind == ApplyOp.RESYNC ? op.length : 0;
                if (!peer.receivingPaused && peer.queuedBytes > PAUSE_QUEUED_BYTES)
                {
                    // Bounded: stop reading the peer's data stream; its sends queue on its side.
                    peer.receivingPaused = true;
                    peer.link.setReceiving(StreamKind.DATA, false);
                }
            }
        }
    }

    /** Under the lock. @return why an operation from this peer cannot be applied here, or null. */
    private String applyRefusal(final PeerState peer, final ApplyOp op)
    {
        if (resource.isClosed())
        {
            return "resource closed";
        }
        if (op.volume >= spec.volumeCount())
        {
            return "no volume " + op.volume;
        }
        if (resource.store(op.volume) == null)
        {
            return "this node is diskless for volume " + op.volume;
        }
        final long end = op.offset + op.length;
        if (op.offset < 0 || end < op.offset || end > spec.volumeSizes()[op.volume])
        {
            return "range " + op.offset + "+" + op.length + " outside the volume";
        }
        if (op.kind == ApplyOp.READ)
        {
            if (op.verifyBlockSize > 0 && resource.isSyncSource(peer, op.volume))
            {
                return null; // checksum-based resync: the source compares with what our copy holds now
            }
            return resource.readsLocally(op.volume) ? null : "local disk is " +
                resource.diskState(op.volume).displayName();
        }
        if (op.kind == ApplyOp.RESYNC || op.kind == ApplyOp.RESYNC_END)
        {
            return resource.isSyncSource(peer, op.volume) ? null : "this node does not resync volume " + op.volume +
                " from " + peer.name();
        }
        if (peer.role != Role.PRIMARY)
        {
            return peer.name() + " is not Primary";
        }
        if (resource.role() == Role.PRIMARY)
        {
            return "this node is Primary too";
        }
        if (peer.replication[op.volume] == ReplicationState.SYNC_TARGET && resource.isSyncSource(peer, op.volume))
        {
            // The source replicates to us during its resync (final pass, or resync with replication): a new write
            // on an old copy makes it a mix until the resync ends.
            resource.onResyncDataArrived(op.volume);
            return null;
        }
        if (peer.replication[op.volume] != ReplicationState.ESTABLISHED)
        {
            return "volume " + op.volume + " is not replicating from " + peer.name() + " (" +
                peer.replication[op.volume].displayName() + ")";
        }
        return null;
    }

    /** Under the lock: the ordering gate (see the class comment and docs/wire-protocol.md). */
    private static boolean canStart(final PeerState peer, final ApplyOp op)
    {
        switch (op.kind)
        {
            case ApplyOp.FLUSH:
            case ApplyOp.RESYNC_END:
                return peer.runningWrites == 0;
            case ApplyOp.READ:
                for (final ApplyOp running : peer.running)
                {
                    if (running.isWrite() && running.overlaps(op))
                    {
                        return false;
                    }
                }
                return true;
            default:
                if (op.epoch <= peer.gateEpoch)
                {
                    return true;
                }
                if (peer.runningWrites == 0)
                {
                    peer.gateEpoch = op.epoch;
                    return true;
                }
                return false;
        }
    }

    private void startApply(final PeerState peer, final ApplyOp op)
    {
        peer.running.add(op);
        if (op.isWrite())
        {
            peer.runningWrites++;
        }
        if (op.kind == ApplyOp.READ)
        {
            op.readBuffer = ALLOC.directBuffer((int)op.length, (int)op.length);
        }
        resource.lowerPendingDelta(1);
        if (!resource.workers().offer(op))
        {
            resource.lowerPendingDelta(-1);
            op.errno = StorageException.EIO;
            op.message = "disk queue full";
            op.notQueued = true;
            onAppliedLocked(op);
        }
    }

    /** A disk thread finished an operation from a peer. */
    void onApplied(final ApplyOp op)
    {
        synchronized (resource)
        {
            resource.lowerPendingDelta(-1);
            onAppliedLocked(op);
        }
    }

    /** Under the lock: the peer's link went down; what it sent and we had not started is dropped. */
    void onPeerDown(final PeerState peer)
    {
        ApplyOp queued;
        while ((queued = peer.queued.poll()) != null)
        {
            releaseApplyOp(queued);
        }
        peer.queuedBytes = 0;
        if (peer.receivingPaused)
        {
            peer.receivingPaused = false;
            peer.link.setReceiving(StreamKind.DATA, true);
        }
    }

    private void onAppliedLocked(final ApplyOp op)
    {
        final PeerState peer = op.from;
        if (peer.running.remove(op) && op.isWrite())
        {
            peer.runningWrites--;
        }
        if (op.errno != 0)
        {
            LOG.log(Level.ERROR, "{0}: applying {1} failed: {2}", spec.name(), op, op.message);
            if (!op.notQueued)
            {
                resource.detachFailedDisk(op.volume, op.message); // SPEC §2.7, on a Secondary too
            }
        }
        finishApply(op, op.errno);
        ApplyOp next;
        while ((next = peer.queued.peek()) != null && canStart(peer, next))
        {
            peer.queued.poll();
            peer.queuedBytes -= next.kind == ApplyOp.WRITE || next.kind == ApplyOp.RESYNC ? next.length : 0;
            startApply(peer, next);
        }
        if (peer.receivingPaused && peer.queuedBytes < RESUME_QUEUED_BYTES)
        {
            peer.receivingPaused = false;
            peer.link.setReceiving(StreamKind.DATA, true);
        }
    }

    /** Under the lock: answer the peer and release what the op holds. */
    private void finishApply(final ApplyOp op, final int errno)
    {
        if (op.kind == ApplyOp.READ && op.verifyBlockSize > 0)
        {
            final long[] digests = new long[BlockDigest.count(op.length, op.verifyBlockSize)];
            int count = 0;
            if (errno == 0 && op.readBuffer != null)
            {
                count = DIGEST.get().digests(op.readBuffer.nioBuffer(0, (int)op.length), op.verifyBlockSize,
                    digests);
            }
            op.from.link.send(StreamKind.DATA, FRAMES.get().verifyReply(ALLOC, op.volume, op.seq,
                errno != 0 ? errno : op.readBuffer == null ? StorageException.EIO : 0, digests, count));
            releaseApplyOp(op);
            return;
        }
        if (op.kind == ApplyOp.READ)
        {
            if (errno == 0 && op.readBuffer != null)
            {
                op.from.link.send(StreamKind.DATA, FRAMES.get().readReply(ALLOC, op.volume, op.seq, 0, op.readBuffer));
                op.from.sentBytes[op.volume] += op.length;
            }
            else
            {
                if (op.readBuffer != null)
                {
                    op.readBuffer.release();
                }
                op.from.link.send(StreamKind.DATA, FRAMES.get().readReply(ALLOC, op.volume, op.seq,
                    errno == 0 ? StorageException.EIO : errno, null));
            }
            op.readBuffer = null;
            return;
        }
        if (op.kind == ApplyOp.RESYNC_END)
        {
            if (errno == 0)
            {
                resource.onResyncEndApplied(op.from, op.volume, op.sourceGen);
            }
            else
            {
                LOG.log(Level.ERROR, "{0}/{1}: resync from {2} ended, but the disk could not be flushed ({3}); the " +
                    "copy stays Inconsistent", spec.name(), op.volume, op.from.name(), op.message);
            }
            return;
        }
        op.from.link.sendWriteAck(op.volume, op.seq, errno, ACK_FLAG_DURABLE);
        releaseApplyOp(op);
    }

    void releaseApplyOp(final ApplyOp op)
    {
        if (op.frame != null)
        {
            op.frame.release();
            op.frame = null;
        }
        if (op.readBuffer != null)
        {
            op.readBuffer.release();
            op.readBuffer = null;
        }
    }
}
