package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Body of {@link ReplicationProtocol#SPLIT_BRAIN} (data stream): what the sender knows about its side of a split
 * brain on the volume named in the frame header, so both sides apply the after-split-brain policy to the same facts
 * and reach the same verdict.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                   Changed Bytes (u64)                         |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |              Primary Since (u64, ms since the epoch)          |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                         Flags (u32)                           | 16
 *  +---------------------------------------------------------------+
 *  |                        Reserved (u32)                         | 20
 *  +---------------------------------------------------------------+
 * </pre>
 * Changed bytes: what the sender's out-of-sync bitmap holds against the receiver since they parted, or
 * {@link ReplicationProtocol#SPLIT_BRAIN_CHANGES_UNKNOWN}. Primary since: when the sender last became Primary (0:
 * never). Flags: {@link ReplicationProtocol#SPLIT_BRAIN_FLAG_DISCARD_MY_DATA},
 * {@link ReplicationProtocol#SPLIT_BRAIN_FLAG_PRIMARY}; the reserved field is zero. Threading: owned by one thread;
 * not thread-safe.
 */
public final class SplitBrainFlyweight
{
    /** Offset of the changed bytes. */
    public static final int CHANGED_BYTES_OFFSET = 0;
    /** Offset of the time the sender became Primary. */
    public static final int PRIMARY_SINCE_OFFSET = 8;
    /** Offset of the flags. */
    public static final int FLAGS_OFFSET = 16;
    /** Offset of the reserved field. */
    public static final int RESERVED_OFFSET = 20;
    /** Length of the body. */
    public static final int LENGTH = 24;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding at least {@link #LENGTH} bytes from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public SplitBrainFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /** @return bytes the sender changed since the split, or {@link ReplicationProtocol#SPLIT_BRAIN_CHANGES_UNKNOWN}. */
    public long changedBytes()
    {
        return buffer.getLong(offset + CHANGED_BYTES_OFFSET, BYTE_ORDER);
    }

    /**
     * @param bytes changed since the split, or {@link ReplicationProtocol#SPLIT_BRAIN_CHANGES_UNKNOWN}.
     * @return this.
     */
    public SplitBrainFlyweight changedBytes(final long bytes)
    {
        buffer.putLong(offset + CHANGED_BYTES_OFFSET, bytes, BYTE_ORDER);
        return this;
    }

    /** @return when the sender last became Primary, in ms since the epoch (0: never). */
    public long primarySince()
    {
        return buffer.getLong(offset + PRIMARY_SINCE_OFFSET, BYTE_ORDER);
    }

    /**
     * @param millis when the sender last became Primary (0: never).
     * @return this.
     */
    public SplitBrainFlyweight primarySince(final long millis)
    {
        buffer.putLong(offset + PRIMARY_SINCE_OFFSET, millis, BYTE_ORDER);
        return this;
    }

    /** @return {@code SPLIT_BRAIN_FLAG_*} bits. */
    public int flags()
    {
        return buffer.getInt(offset + FLAGS_OFFSET, BYTE_ORDER);
    }

    /**
     * @param flags {@code SPLIT_BRAIN_FLAG_*} bits.
     * @return this.
     */
    public SplitBrainFlyweight flags(final int flags)
    {
        buffer.putInt(offset + FLAGS_OFFSET, flags, BYTE_ORDER);
        buffer.putInt(offset + RESERVED_OFFSET, 0, BYTE_ORDER);
        return this;
    }
}
