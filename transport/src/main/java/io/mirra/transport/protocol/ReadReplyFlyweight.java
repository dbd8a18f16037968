package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Header of a {@link ReplicationProtocol#READ_REPLY} body (data stream), the answer to a
 * {@link ReadRequestFlyweight} of the same volume (the volume is in the frame header); the data read follows it
 * directly and runs to the end of the frame, so {@code dataLength == bodyLength - HEADER_LENGTH} (the decoder checks
 * this).
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                    Request Id (u64)                           |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                      Status (u32)                             |  8
 *  +---------------------------------------------------------------+
 *  |                   Data Length (u32)                           | 12
 *  +---------------------------------------------------------------+
 *  |                     Data (Data Length bytes) ...              | 16
 * </pre>
 * The request id echoes the request's. Status 0 is success, otherwise a positive errno of the peer's disk, and then
 * there is no data (data length 0). Threading: owned by one thread; not thread-safe.
 */
public final class ReadReplyFlyweight
{
    /** Offset of the request id. */
    public static final int REQUEST_ID_OFFSET = 0;
    /** Offset of the status. */
    public static final int STATUS_OFFSET = 8;
    /** Offset of the data length. */
    public static final int DATA_LENGTH_OFFSET = 12;
    /** Length of the read reply header; the data starts here. */
    public static final int HEADER_LENGTH = 16;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding at least {@link #HEADER_LENGTH} bytes from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public ReadReplyFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /** @return the request id of the answered request. */
    public long requestId()
    {
        return buffer.getLong(offset + REQUEST_ID_OFFSET, BYTE_ORDER);
    }

    /**
     * @param requestId of the answered request.
     * @return this.
     */
    public ReadReplyFlyweight requestId(final long requestId)
    {
        buffer.putLong(offset + REQUEST_ID_OFFSET, requestId, BYTE_ORDER);
        return this;
    }

    /** @return 0 for success, else an errno. */
    public int status()
    {
        return buffer.getInt(offset + STATUS_OFFSET, BYTE_ORDER);
    }

    /**
     * @param status 0 or an errno.
     * @return this.
     */
    public ReadReplyFlyweight status(final int status)
    {
        buffer.putInt(offset + STATUS_OFFSET, status, BYTE_ORDER);
        return this;
    }

    /** @return data length (u32, widened). */
    public long dataLength()
    {
        return buffer.getInt(offset + DATA_LENGTH_OFFSET, BYTE_ORDER) & 0xFFFF_FFFFL;
    }

    /**
     * @param dataLength in bytes (0 when the status is not 0).
     * @return this.
     */
    public ReadReplyFlyweight dataLength(final int dataLength)
    {
        buffer.putInt(offset + DATA_LENGTH_OFFSET, dataLength, BYTE_ORDER);
        return this;
    }
}
