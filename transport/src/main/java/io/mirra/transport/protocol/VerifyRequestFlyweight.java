package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Body of {@link ReplicationProtocol#VERIFY_REQUEST} (data stream, so it is ordered with the writes): "read this
 * range of the volume named in the frame header and send me a digest of each block", for an online verify.
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
 *  |                    Block Size (u32)                           | 20
 *  +---------------------------------------------------------------+
 * </pre>
 * Length is 1..{@link ReplicationProtocol#MAX_VERIFY_LENGTH}; block size a power of two from 4 KiB to 1 MiB; the
 * reply carries ceil(length / block size) digests. Threading: owned by one thread; not thread-safe.
 */
public final class VerifyRequestFlyweight
{
    /** Offset of the request id. */
    public static final int REQUEST_ID_OFFSET = 0;
    /** Offset of the byte offset. */
    public static final int BYTE_OFFSET_OFFSET = 8;
    /** Offset of the length. */
    public static final int LENGTH_OFFSET = 16;
    /** Offset of the block size. */
    public static final int BLOCK_SIZE_OFFSET = 20;
    /** Length of the body. */
    public static final int LENGTH = 24;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding at least {@link #LENGTH} bytes from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public VerifyRequestFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /** @return the request id, echoed by the reply. */
    public long requestId()
    {
        return buffer.getLong(offset + REQUEST_ID_OFFSET, BYTE_ORDER);
    }

    /**
     * @param id the request id.
     * @return this.
     */
    public VerifyRequestFlyweight requestId(final long id)
    {
        buffer.putLong(offset + REQUEST_ID_OFFSET, id, BYTE_ORDER);
        return this;
    }

    /** @return where the range starts. */
    public long byteOffset()
    {
        return buffer.getLong(offset + BYTE_OFFSET_OFFSET, BYTE_ORDER);
    }

    /**
     * @param byteOffset where the range starts.
     * @return this.
     */
    public VerifyRequestFlyweight byteOffset(final long byteOffset)
    {
        buffer.putLong(offset + BYTE_OFFSET_OFFSET, byteOffset, BYTE_ORDER);
        return this;
    }

    /** @return the length of the range. */
    public long length()
    {
        return buffer.getInt(offset + LENGTH_OFFSET, BYTE_ORDER) & 0xFFFF_FFFFL;
    }

    /**
     * @param length of the range.
     * @return this.
     */
    public VerifyRequestFlyweight length(final int length)
    {
        buffer.putInt(offset + LENGTH_OFFSET, length, BYTE_ORDER);
        return this;
    }

    /** @return bytes per digest. */
    public long blockSize()
    {
        return buffer.getInt(offset + BLOCK_SIZE_OFFSET, BYTE_ORDER) & 0xFFFF_FFFFL;
    }

    /**
     * @param blockSize bytes per digest.
     * @return this.
     */
    public VerifyRequestFlyweight blockSize(final int blockSize)
    {
        buffer.putInt(offset + BLOCK_SIZE_OFFSET, blockSize, BYTE_ORDER);
        return this;
    }
}
