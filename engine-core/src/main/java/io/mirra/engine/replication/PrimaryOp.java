package io.mirra.engine.replication;

import io.mirra.engine.storage.BlockStore;
import io.mirra.engine.storage.StorageException;
import io.netty.buffer.ByteBuf;

import java.util.ArrayList;

/**
 * One request written through this node (the Primary side of the write path, DRBD's {@code drbd_request}): its
 * local part runs on a disk thread, its peers' parts are frames on their data streams, and it completes to the
 * caller when the local disk and every peer the protocol waits for have answered. It stays registered (by sequence)
 * until every peer it was sent to has acknowledged it durably, so that acknowledgements and lost connections can be
 * accounted for.
 * <p>
 * Guarded by the resource's lock, except {@link #run()}, which runs the local part on a disk thread and then reports
 * to the resource.
 */
final class PrimaryOp implements Runnable
{
    static final int WRITE = 1;
    static final int TRIM = 2;
    static final int ZERO = 3;
    static final int FLUSH = 4;
    /** A resync read: the local part reads the range, which is then sent to {@link #resyncPeer}. */
    static final int RESYNC = 5;
    /** An online verify range: read locally (writes to it wait) and compared with the peer's digests. */
    static final int VERIFY = 6;

    static final int FLAG_FUA = 1;
    static final int FLAG_NO_HOLE = 1 << 1;

    /** Per peer: what completion waits for. */
    static final byte WAIT_NONE = 0;
    static final byte WAIT_RECEIVED = 1;
    static final byte WAIT_DURABLE = 2;

    final ReplicatedResource owner;
    final int kind;
    final int volume;
    final long offset;
    final long length;
    final int flags;
    final IoCallback<Object> callback;
    final Object context;
    /** The caller's data (WRITE); not owned: valid until the op completes. */
    ByteBuf data;
    BlockStore store;

    long firstSeq;
    int frames;
    long epoch;
    boolean localPending;
    int peersPending;
    /** Frames sent and not yet durably acknowledged, over all peers. */
    int durableOutstanding;
    byte[] waitLevel;
    int[] acksNeeded;
    int[] durableByPeer;
    int errno;
    String message;
    boolean dispatched;
    /** The op holds its extents in the volume's activity log (released at completion). */
    boolean alHeld;
    /** Peers the op was sent to (a local failure is survived when there is one). */
    int peerCopies;
    /** Peers (by index) that will not hold the op after all: their link dropped or they failed it. */
    long lostPeers;
    boolean completed;
    /** RESYNC: the SyncTarget the range goes to, and the bitmap bits it covers. */
    PeerState resyncPeer;
    long resyncFromBit;
    long resyncToBit;
    long resyncSession;
    /** VERIFY: the session, the local and remote digests, and which of the two are in. */
    VerifySession verify;
    long[] localDigests;
    long[] remoteDigests;
    int remoteStatus;
    boolean localDone;
    boolean remoteDone;
    /** RESYNC: the buffer the range is read into (handed to the frame). */
    ByteBuf readBuf;
    /** Ops that overlap this one and wait for it to complete (in arrival order). */
    ArrayList<PrimaryOp> waiters;
    /** How many earlier ops this one still waits for. */
    int blockedBy;

    // written by the disk thread, read under the lock after it reports
    private int localErrno;
    private String localMessage;

    @SuppressWarnings("unchecked")
    PrimaryOp(final ReplicatedResource owner, final int kind, final int volume, final long offset, final long length,
        final int flags, final ByteBuf data, final IoCallback<?> callback, final Object context, final int peers)
    {
        this.owner = owner;
        this.kind = kind;
        this.volume = volume;
        this.offset = offset;
        this.length = length;
        this.flags = flags;
        this.data = data;
        this.callback = (IoCallback<Object>)callback;
        this.context = context;
        this.waitLevel = new byte[peers];
        this.acksNeeded = new int[peers];
        this.durableByPeer = new int[peers];
    }

    boolean overlaps(final PrimaryOp other)
    {
        return kind != FLUSH && other.kind != FLUSH && volume == other.volume &&
            offset < other.offset + other.length && other.offset < offset + length;
    }

    boolean hasFlag(final int flag)
    {
        return (flags & flag) != 0;
    }

    /** The local part, on a disk thread. */
    @Override
    public void run()
    {
        int err = 0;
        String msg = null;
        try
        {
            switch (kind)
            {
                case WRITE:
                    store.write(data.nioBuffers(data.readerIndex(), data.readableBytes()), offset);
                    break;
                case TRIM:
                    store.trim(offset, length);
                    break;
                case ZERO:
                    store.zero(offset, length, !hasFlag(FLAG_NO_HOLE), false);
                    break;
                case FLUSH:
                    store.flush();
                    break;
                case RESYNC:
                case VERIFY:
                    store.read(readBuf.nioBuffer(0, (int)length), offset);
                    readBuf.writerIndex((int)length);
                    break;
                default:
                    throw new IllegalStateException("kind " + kind);
            }
            if (kind != FLUSH && kind != RESYNC && kind != VERIFY && hasFlag(FLAG_FUA))
            {
                store.flush();
            }
        }
        catch (final StorageException ex)
        {
            err = ex.errno();
            msg = ex.getMessage();
        }
        catch (final RuntimeException ex)
        {
            err = StorageException.EIO;
            msg = ex.toString();
        }
        localErrno = err;
        localMessage = msg;
        owner.onLocalDone(this);
    }

    int localErrno()
    {
        return localErrno;
    }

    String localMessage()
    {
        return localMessage;
    }

    String kindName()
    {
        switch (kind)
        {
            case WRITE: return "WRITE";
            case TRIM: return "TRIM";
            case ZERO: return "WRITE_ZEROES";
            case FLUSH: return "FLUSH";
            case RESYNC: return "RESYNC";
            case VERIFY: return "VERIFY";
            default: return "?";
        }
    }

    @Override
    public String toString()
    {
        return kindName() + "[vol " + volume + ", " + offset + "+" + length + ", seq " + firstSeq + ", epoch " + epoch +
            "]";
    }
}
