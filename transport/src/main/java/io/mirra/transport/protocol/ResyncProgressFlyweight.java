package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Body of {@link ReplicationProtocol#RESYNC_PROGRESS} (data stream): the SyncSource's view of a running resync of the
 * volume named in the frame header, so the target can show progress too.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                 Out-of-Sync Bytes (u64)                       |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                    Sent Bytes (u64)                           |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 * Out-of-sync bytes: what the source still has to send; sent bytes: what this resync sent so far. Both are at most
 * 2^63 - 1. Threading: owned by one thread; not thread-safe.
 */
public final class ResyncProgressFlyweight
{
    /** Offset of the bytes still to send. */
    public static final int OUT_OF_SYNC_OFFSET = 0;
    /** Offset of the bytes sent. */
    public static final int SENT_OFFSET = 8;
    /** Length of the body. */
    public static final int LENGTH = 16;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding at least {@link #LENGTH} bytes from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public ResyncProgressFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /** @return bytes the source still has to send. */
    public long outOfSync()
    {
        return buffer.getLong(offset + OUT_OF_SYNC_OFFSET, BYTE_ORDER);
    }

    /** @return bytes this resync sent so far. */
    public long sent()
    {
        return buffer.getLong(offset + SENT_OFFSET, BYTE_ORDER);
    }

    /**
     * @param outOfSync bytes still to send.
     * @param sent      bytes sent so far.
     * @return this.
     */
    public ResyncProgressFlyweight set(final long outOfSync, final long sent)
    {
        buffer.putLong(offset + OUT_OF_SYNC_OFFSET, outOfSync, BYTE_ORDER);
        buffer.putLong(offset + SENT_OFFSET, sent, BYTE_ORDER);
        return this;
    }
}
