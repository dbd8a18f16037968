package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Body of {@link ReplicationProtocol#FLUSH}, {@link ReplicationProtocol#TRIM} and
 * {@link ReplicationProtocol#WRITE_ZEROES} (data stream): an operation on a byte range of the volume named in the
 * frame header, without data.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                    Op Sequence (u64)                          |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                    Byte Offset (u64)                          |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                      Length (u64)                             | 16
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                      Epoch (u32)                              | 24
 *  +-------------------------------+-------------------------------+
 *  |          Range Flags          |           Reserved            | 28
 *  +-------------------------------+-------------------------------+
 * </pre>
 * The op sequence shares the sequence space of {@link WriteFlyweight}'s write sequence and is echoed by the
 * {@link WriteAckFlyweight} that acknowledges the operation; the epoch means what a write's epoch means. Range flags
 * are {@link ReplicationProtocol#RANGE_FLAG_NO_HOLE} and {@link ReplicationProtocol#RANGE_FLAG_FUA}; the reserved
 * field is zero. A FLUSH carries offset 0 and length 0; a TRIM or WRITE_ZEROES a length above 0 whose end
 * ({@code byteOffset + length}) fits a signed 64-bit offset. Threading: owned by one thread; not thread-safe.
 */
public final class RangeOpFlyweight
{
    /** Offset of the op sequence. */
    public static final int OP_SEQUENCE_OFFSET = 0;
    /** Offset of the byte offset in the volume. */
    public static final int BYTE_OFFSET_OFFSET = 8;
    /** Offset of the length of the range. */
    public static final int LENGTH_OFFSET = 16;
    /** Offset of the epoch. */
    public static final int EPOCH_OFFSET = 24;
    /** Offset of the range flags. */
    public static final int FLAGS_OFFSET = 28;
    /** Offset of the reserved field (u16, zero). */
    public static final int RESERVED_OFFSET = 30;
    /** Length of the body. */
    public static final int LENGTH = 32;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding at least {@link #LENGTH} bytes from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public RangeOpFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /** @return the op sequence (same sequence space as a write's). */
    public long opSequence()
    {
        return buffer.getLong(offset + OP_SEQUENCE_OFFSET, BYTE_ORDER);
    }

    /**
     * @param opSequence to write.
     * @return this.
     */
    public RangeOpFlyweight opSequence(final long opSequence)
    {
        buffer.putLong(offset + OP_SEQUENCE_OFFSET, opSequence, BYTE_ORDER);
        return this;
    }

    /** @return byte offset of the range in the volume (0 for a FLUSH). */
    public long byteOffset()
    {
        return buffer.getLong(offset + BYTE_OFFSET_OFFSET, BYTE_ORDER);
    }

    /**
     * @param byteOffset in the volume.
     * @return this.
     */
    public RangeOpFlyweight byteOffset(final long byteOffset)
    {
        buffer.putLong(offset + BYTE_OFFSET_OFFSET, byteOffset, BYTE_ORDER);
        return this;
    }

    /** @return length of the range in bytes (0 for a FLUSH). */
    public long length()
    {
        return buffer.getLong(offset + LENGTH_OFFSET, BYTE_ORDER);
    }

    /**
     * @param length of the range in bytes.
     * @return this.
     */
    public RangeOpFlyweight length(final long length)
    {
        buffer.putLong(offset + LENGTH_OFFSET, length, BYTE_ORDER);
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
    public RangeOpFlyweight epoch(final long epoch)
    {
        buffer.putInt(offset + EPOCH_OFFSET, (int)epoch, BYTE_ORDER);
        return this;
    }

    /** @return range flags (u16). */
    public int flags()
    {
        return buffer.getShort(offset + FLAGS_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * @param flags {@code RANGE_FLAG_*} bits; also zeroes the reserved field.
     * @return this.
     */
    public RangeOpFlyweight flags(final int flags)
    {
        buffer.putShort(offset + FLAGS_OFFSET, (short)flags, BYTE_ORDER);
        buffer.putShort(offset + RESERVED_OFFSET, (short)0, BYTE_ORDER);
        return this;
    }
}
