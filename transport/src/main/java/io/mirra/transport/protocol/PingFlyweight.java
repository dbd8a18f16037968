package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Body of {@link ReplicationProtocol#PING} and {@link ReplicationProtocol#PING_ACK} (which echoes the ping's body).
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                      Ping Id (u64)                            |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                Sender's Timestamp (i64, ns)                   |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 * Threading: owned by one thread; not thread-safe.
 */
public final class PingFlyweight
{
    /** Offset of the ping id. */
    public static final int PING_ID_OFFSET = 0;
    /** Offset of the sender's timestamp, in its own nanosecond clock (only the sender interprets it). */
    public static final int SEND_TIME_NS_OFFSET = 8;
    /** Length of the body. */
    public static final int LENGTH = 16;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding at least {@link #LENGTH} bytes from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public PingFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /** @return the ping id. */
    public long pingId()
    {
        return buffer.getLong(offset + PING_ID_OFFSET, BYTE_ORDER);
    }

    /**
     * @param pingId to write.
     * @return this.
     */
    public PingFlyweight pingId(final long pingId)
    {
        buffer.putLong(offset + PING_ID_OFFSET, pingId, BYTE_ORDER);
        return this;
    }

    /** @return the sender's timestamp in nanoseconds. */
    public long sendTimeNs()
    {
        return buffer.getLong(offset + SEND_TIME_NS_OFFSET, BYTE_ORDER);
    }

    /**
     * @param sendTimeNs to write.
     * @return this.
     */
    public PingFlyweight sendTimeNs(final long sendTimeNs)
    {
        buffer.putLong(offset + SEND_TIME_NS_OFFSET, sendTimeNs, BYTE_ORDER);
        return this;
    }
}
