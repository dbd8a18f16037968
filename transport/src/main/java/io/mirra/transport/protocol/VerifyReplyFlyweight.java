package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Body of {@link ReplicationProtocol#VERIFY_REPLY} (data stream): the answer to a {@link VerifyRequestFlyweight},
 * one 64-bit digest per block of the range, in order.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                    Request Id (u64)                           |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                      Status (u32)                             |  8
 *  +---------------------------------------------------------------+
 *  |                  Digest Count (u32)                           | 12
 *  +---------------------------------------------------------------+
 *  |                 Digest[0] (u64) ...                           | 16
 * </pre>
 * Status 0 is success, otherwise a positive errno of the peer's disk, and then there is no digest. The digest count
 * fills the body exactly and is at most {@link #MAX_DIGESTS}. Threading: owned by one thread; not thread-safe.
 */
public final class VerifyReplyFlyweight
{
    /** Offset of the request id. */
    public static final int REQUEST_ID_OFFSET = 0;
    /** Offset of the status. */
    public static final int STATUS_OFFSET = 8;
    /** Offset of the digest count. */
    public static final int COUNT_OFFSET = 12;
    /** Offset of the first digest. */
    public static final int DIGESTS_OFFSET = 16;
    /** Length of the header before the digests. */
    public static final int HEADER_LENGTH = 16;
    /** Most digests in one reply: the longest range in blocks of the smallest size. */
    public static final int MAX_DIGESTS = ReplicationProtocol.MAX_VERIFY_LENGTH / 4096;
    /** Longest body. */
    public static final int MAX_LENGTH = HEADER_LENGTH + 8 * MAX_DIGESTS;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding the body from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public VerifyReplyFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
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

    /** @return 0, or the errno of the peer's disk. */
    public int status()
    {
        return buffer.getInt(offset + STATUS_OFFSET, BYTE_ORDER);
    }

    /** @return digests that follow. */
    public int count()
    {
        return buffer.getInt(offset + COUNT_OFFSET, BYTE_ORDER);
    }

    /**
     * @param i 0 .. count - 1.
     * @return a digest.
     */
    public long digest(final int i)
    {
        return buffer.getLong(offset + DIGESTS_OFFSET + 8 * i, BYTE_ORDER);
    }

    /**
     * Write the whole body.
     *
     * @param requestId the request's id.
     * @param status    0 or an errno.
     * @param digests   the digests (none when status is not 0).
     * @param count     how many of them.
     * @return this.
     */
    public VerifyReplyFlyweight set(final long requestId, final int status, final long[] digests, final int count)
    {
        buffer.putLong(offset + REQUEST_ID_OFFSET, requestId, BYTE_ORDER);
        buffer.putInt(offset + STATUS_OFFSET, status, BYTE_ORDER);
        buffer.putInt(offset + COUNT_OFFSET, count, BYTE_ORDER);
        for (int i = 0; i < count; i++)
        {
            buffer.putLong(offset + DIGESTS_OFFSET + 8 * i, digests[i], BYTE_ORDER);
        }
        return this;
    }
}
