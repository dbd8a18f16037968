package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Header of a {@link ReplicationProtocol#WRITE} body (data stream); the write's data follows it directly and runs to
 * the end of the frame, so {@code dataLength == bodyLength - HEADER_LENGTH} (the decoder checks this). The volume is
 * in the frame header. A {@link ReplicationProtocol#RESYNC_DATA} body (a block range sent by a resync's SyncSource)
 * has exactly this layout, with the same data length rules, but its write flags are always zero.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                  Write Sequence (u64)                         |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                   Byte Offset (u64)                           |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                      Epoch (u32)                              | 16
 *  +---------------------------------------------------------------+
 *  |                   Data Length (u32)                           | 20
 *  +-------------------------------+-------------------------------+
 *  |          Write Flags          |           Reserved            | 24
 *  +-------------------------------+-------------------------------+
 *  |                        Reserved                               | 28
 *  +---------------------------------------------------------------+
 *  |                     Data (Data Length bytes) ...              | 32
 * </pre>
 * The write sequence is assigned by the sender, increases per connection and is echoed by
 * {@link WriteAckFlyweight}; a RESYNC_DATA's sequence is in the same sequence space. The epoch numbers the barrier
 * interval the write belongs to. Write flags are {@link ReplicationProtocol#WRITE_FLAG_FUA},
 * {@link ReplicationProtocol#WRITE_FLAG_FLUSH} and {@link ReplicationProtocol#WRITE_FLAG_ACK_RECEIVED} (none for a
 * RESYNC_DATA); reserved fields are zero. Threading: owned by one thread; not thread-safe.
 */
public final class WriteFlyweight
{
    /** Offset of the write sequence. */
    public static final int WRITE_SEQUENCE_OFFSET = 0;
    /** Offset of the byte offset in the volume. */
    public static final int BYTE_OFFSET_OFFSET = 8;
    /** Offset of the epoch. */
    public static final int EPOCH_OFFSET = 16;
    /** Offset of the data length. */
    public static final int DATA_LENGTH_OFFSET = 20;
    /** Offset of the write flags. */
    public static final int FLAGS_OFFSET = 24;
    /** Offset of the first reserved field (u16). */
    public static final int RESERVED1_OFFSET = 26;
    /** Offset of the second reserved field (u32). */
    public static final int RESERVED2_OFFSET = 28;
    /** Length of the write header; the data starts here. */
    public static final int HEADER_LENGTH = 32;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding at least {@link #HEADER_LENGTH} bytes from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public WriteFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /** @return the write sequence. */
    public long writeSequence()
    {
        return buffer.getLong(offset + WRITE_SEQUENCE_OFFSET, BYTE_ORDER);
    }

    /**
     * @param writeSequence to write.
     * @return this.
     */
    public WriteFlyweight writeSequence(final long writeSequence)
    {
        buffer.putLong(offset + WRITE_SEQUENCE_OFFSET, writeSequence, BYTE_ORDER);
        return this;
    }

    /** @return byte offset of the write in the volume. */
    public long byteOffset()
    {
        return buffer.getLong(offset + BYTE_OFFSET_OFFSET, BYTE_ORDER);
    }

    /**
     * @param byteOffset in the volume.
     * @return this.
     */
    public WriteFlyweight byteOffset(final long byteOffset)
    {
        buffer.putLong(offset + BYTE_OFFSET_OFFSET, byteOffset, BYTE_ORDER);
        return this;
    }

    /** @return epoch (u32, widened). */
    public long epoch()
    {
        return buffer.getInt(offset + EPOCH_OFFSET, BYTE_ORDER) & 0xFFFF_FFFFL;
    }

    /**
     * @param epoch u32.
     * @return this.
     */
    public WriteFlyweight epoch(final long epoch)
    {
        buffer.putInt(offset + EPOCH_OFFSET, (int)epoch, BYTE_ORDER);
        return this;
    }

    /** @return data length (u32, widened). */
    public long dataLength()
    {
        return buffer.getInt(offset + DATA_LENGTH_OFFSET, BYTE_ORDER) & 0xFFFF_FFFFL;
    }

    /**
     * @param dataLength in bytes.
     * @return this.
     */
    public WriteFlyweight dataLength(final int dataLength)
    {
        buffer.putInt(offset + DATA_LENGTH_OFFSET, dataLength, BYTE_ORDER);
        return this;
    }

    /** @return write flags (u16). */
    public int flags()
    {
        return buffer.getShort(offset + FLAGS_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * @param flags write flags; also zeroes the reserved fields.
     * @return this.
     */
    public WriteFlyweight flags(final int flags)
    {
        buffer.putShort(offset + FLAGS_OFFSET, (short)flags, BYTE_ORDER);
        buffer.putShort(offset + RESERVED1_OFFSET, (short)0, BYTE_ORDER);
        buffer.putInt(offset + RESERVED2_OFFSET, 0, BYTE_ORDER);
        return this;
    }
}
