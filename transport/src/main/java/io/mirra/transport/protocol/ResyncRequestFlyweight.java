package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Body of {@link ReplicationProtocol#RESYNC_REQUEST} (data stream): "my copy of this volume is older; send me the
 * blocks that differ". Sent by the resync's target (the side whose current generation is in the other's history)
 * to one UpToDate peer, which becomes its SyncSource and answers with {@link ReplicationProtocol#RESYNC_DATA}
 * frames ({@link WriteFlyweight} layout), then a {@link ResyncEndFlyweight}. The volume is in the frame header.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                 Target Generation (u64)                       |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                   Resync Flags (u32)                          |  8
 *  +---------------------------------------------------------------+
 *  |                        Reserved                               | 12
 *  +---------------------------------------------------------------+
 * </pre>
 * The target generation is the requester's current data generation of the volume (the source finds it in its
 * history). Resync flags are {@link ReplicationProtocol#RESYNC_FLAG_FULL} (send every block, not only those marked
 * out of sync); the reserved field is zero. Threading: owned by one thread; not thread-safe.
 */
public final class ResyncRequestFlyweight
{
    /** Offset of the requester's current generation. */
    public static final int TARGET_GEN_OFFSET = 0;
    /** Offset of the resync flags. */
    public static final int FLAGS_OFFSET = 8;
    /** Offset of the reserved field (u32, zero). */
    public static final int RESERVED_OFFSET = 12;
    /** Length of the body. */
    public static final int LENGTH = 16;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding at least {@link #LENGTH} bytes from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public ResyncRequestFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /** @return the requester's current data generation of the volume. */
    public long targetGen()
    {
        return buffer.getLong(offset + TARGET_GEN_OFFSET, BYTE_ORDER);
    }

    /**
     * @param targetGen the requester's current data generation of the volume.
     * @return this.
     */
    public ResyncRequestFlyweight targetGen(final long targetGen)
    {
        buffer.putLong(offset + TARGET_GEN_OFFSET, targetGen, BYTE_ORDER);
        return this;
    }

    /** @return resync flags (u32 read as an int). */
    public int flags()
    {
        return buffer.getInt(offset + FLAGS_OFFSET, BYTE_ORDER);
    }

    /**
     * @param flags {@code RESYNC_FLAG_*} bits; also zeroes the reserved field.
     * @return this.
     */
    public ResyncRequestFlyweight flags(final int flags)
    {
        buffer.putInt(offset + FLAGS_OFFSET, flags, BYTE_ORDER);
        buffer.putInt(offset + RESERVED_OFFSET, 0, BYTE_ORDER);
        return this;
    }
}
