package io.mirra.engine.replication;

import io.mirra.engine.storage.BlockStore;
import io.mirra.engine.storage.StorageException;
import io.mirra.transport.netty.Frame;
import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;

/**
 * One operation received from a peer and applied here (the receiving side of the write path, and reads served for
 * diskless peers). Runs on a disk thread once the peer's ordering gate lets it start, then reports to the resource.
 */
final class ApplyOp implements Runnable
{
    static final int WRITE = 1;
    static final int TRIM = 2;
    static final int ZERO = 3;
    static final int FLUSH = 4;
    static final int READ = 5;
    /** A resync range from the SyncSource: written like a WRITE. */
    static final int RESYNC = 6;
    /** RESYNC_END: once everything before it is on the disk, the copy is the source's data. */
    static final int RESYNC_END = 7;

    final PeerApplier owner;
    final PeerState from;
    final int kind;
    final int volume;
    final long seq;
    final long offset;
    final long length;
    final long epoch;
    final int flags;
    /** WRITE: the received frame (holds the data); released when done. */
    Frame frame;
    /** RESYNC_END: the generation the copy takes over. */
    long sourceGen;
    /** READ for a VERIFY_REQUEST: bytes per digest of the reply (0 for a plain read). */
    int verifyBlockSize;
    /** The disk threads' queue was full: an overload, not a disk failure. */
    boolean notQueued;
    /** READ: the buffer the data is read into; handed to the reply. */
    ByteBuf readBuffer;
    BlockStore store;
    boolean fua;
    boolean noHole;
    int errno;
    String message;

    ApplyOp(final PeerApplier owner, final PeerState from, final int kind, final int volume, final long seq,
        final long offset, final long length, final long epoch, final int flags)
    {
        this.owner = owner;
        this.from = from;
        this.kind = kind;
        this.volume = volume;
        this.seq = seq;
        this.offset = offset;
        this.length = length;
        this.epoch = epoch;
        this.flags = flags;
    }

    boolean isWrite()
    {
        return kind == WRITE || kind == TRIM || kind == ZERO || kind == RESYNC;
    }

    boolean overlaps(final ApplyOp other)
    {
        return volume == other.volume && offset < other.offset + other.length && other.offset < offset + length;
    }

    @Override
    public void run()
    {
        try
        {
            switch (kind)
            {
                case WRITE:
                case RESYNC:
                {
                    final ByteBuf data = frame.writeData();
                    store.write(data.nioBuffers(data.readerIndex(), data.readableBytes()), offset);
                    break;
                }
                case TRIM:
                    store.trim(offset, length);
                    break;
                case ZERO:
                    store.zero(offset, length, !noHole, false);
                    break;
                case FLUSH:
                case RESYNC_END:
                    store.flush();
                    break;
                case READ:
                {
                    final ByteBuffer target = readBuffer.nioBuffer(0, (int)length);
                    store.read(target, offset);
                    readBuffer.writerIndex((int)length);
                    break;
                }
                default:
                    throw new IllegalStateException("kind " + kind);
            }
            if (fua && kind != FLUSH && kind != READ && kind != RESYNC_END)
            {
                store.flush();
            }
        }
        catch (final StorageException ex)
        {
            errno = ex.errno();
            message = ex.getMessage();
        }
        catch (final RuntimeException ex)
        {
            errno = StorageException.EIO;
            message = ex.toString();
        }
        owner.onApplied(this);
    }

    @Override
    public String toString()
    {
        return "ApplyOp[" + kind + " from " + from.spec.name() + ", vol " + volume + ", " + offset + "+" + length +
            ", seq " + seq + ", epoch " + epoch + "]";
    }
}
