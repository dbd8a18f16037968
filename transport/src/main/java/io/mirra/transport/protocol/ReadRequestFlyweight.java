package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Body of {@link ReplicationProtocol#READ_REQUEST} (data stream): read a byte range of the volume named in the frame
 * header from the peer's disk. The peer answers with a {@link ReadReplyFlyweight} carrying the same request id.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                    Request Id (u64)                           |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                    Byte Offset (u64)                          |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                      Length (u32)                             | 16
 *  +---------------------------------------------------------------+
 *  |                        Reserved                               | 20
 *  +---------------------------------------------------------------+
 * </pre>
 * The request id is chosen by the requester. The length is 1..{@link ReplicationProtocol#MAX_WRITE_DATA_LENGTH} and
 * the end of the range ({@code byteOffset + length}) fits a signed 64-bit offset; the reserved field is zero.
 * Threading: owned by one thread; not thread-safe.
 */
public final class ReadRequestFlyweight
{
    /** Offset of the request id. */
    public static final int REQUEST_ID_OFFSET = 0;
    /** Offset of the byte offset in the volume. */
    public static final int BYTE_OFFSET_OFFSET = 8;
    /** Offset of the length to read. */
    public static final int LENGTH_OFFSET = 16;
    /** Offset of the reserved field (u32, zero). */
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
    public ReadRequestFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /** @return the request id. */
    public long requestId()
    {
        return buffer.getLong(offset + REQUEST_ID_OFFSET, BYTE_ORDER);
    }

    /**
     * @param requestId chosen by the requester, echoed by the reply.
     * @return this.
     */
    public ReadRequestFlyweight requestId(final long requestId)
    {
        buffer.putLong(offset + REQUEST_ID_OFFSET, requestId, BYTE_ORDER);
        return this;
    }

    /** @return byte offset of the range in the volume. */
    public long byteOffset()
    {
        return buffer.getLong(offset + BYTE_OFFSET_OFFSET, BYTE_ORDER);
    }

    /**
     * @param byteOffset in the volume.
     * @return this.
     */
    public ReadRequestFlyweight byteOffset(final long byteOffset)
    {
        buffer.putLong(offset + BYTE_OFFSET_OFFSET, byteOffset, BYTE_ORDER);
        return this;
    }

    /** @return length to read (u32, widened). */
    public long length()
    {
        return buffer.getInt(offset + LENGTH_OFFSET, BYTE_ORDER) & 0xFFFF_FFFFL;
    }

    /**
     * @param length to read in bytes; also zeroes the reserved field.
     * @return this.
     */
    public ReadRequestFlyweight length(final int length)
    {
        buffer.putInt(offset + LENGTH_OFFSET, length, BYTE_ORDER);
        buffer.putInt(offset + RESERVED_OFFSET, 0, BYTE_ORDER);
        return this;
    }
}
