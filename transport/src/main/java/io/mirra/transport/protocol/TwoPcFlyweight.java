package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Body of {@link ReplicationProtocol#TWOPC_PREPARE}, {@link ReplicationProtocol#TWOPC_COMMIT} and
 * {@link ReplicationProtocol#TWOPC_ABORT} (control stream): one step of a two-phase commit among the connected
 * nodes. Each peer answers a PREPARE with a {@link TwoPcReplyFlyweight}; the initiator then sends COMMIT or ABORT
 * with the same transaction id and kind.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                 Transaction Id (u64)                          |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                       Kind (u32)                              |  8
 *  +---------------------------------------------------------------+
 *  |                        Reserved                               | 12
 *  +---------------------------------------------------------------+
 * </pre>
 * The transaction id is chosen by the initiator. Kinds are {@code TWOPC_KIND_*} codes of
 * {@link ReplicationProtocol} ({@link ReplicationProtocol#TWOPC_KIND_PROMOTE}); the reserved field is zero.
 * Threading: owned by one thread; not thread-safe.
 */
public final class TwoPcFlyweight
{
    /** Offset of the transaction id. */
    public static final int TX_ID_OFFSET = 0;
    /** Offset of the kind. */
    public static final int KIND_OFFSET = 8;
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
    public TwoPcFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /** @return the transaction id. */
    public long txId()
    {
        return buffer.getLong(offset + TX_ID_OFFSET, BYTE_ORDER);
    }

    /**
     * @param txId the transaction id.
     * @return this.
     */
    public TwoPcFlyweight txId(final long txId)
    {
        buffer.putLong(offset + TX_ID_OFFSET, txId, BYTE_ORDER);
        return this;
    }

    /** @return the kind, a {@code TWOPC_KIND_*} code (u32 read as an int). */
    public int kind()
    {
        return buffer.getInt(offset + KIND_OFFSET, BYTE_ORDER);
    }

    /**
     * @param kind a {@code TWOPC_KIND_*} code; also zeroes the reserved field.
     * @return this.
     */
    public TwoPcFlyweight kind(final int kind)
    {
        buffer.putInt(offset + KIND_OFFSET, kind, BYTE_ORDER);
        buffer.putInt(offset + RESERVED_OFFSET, 0, BYTE_ORDER);
        return this;
    }
}
