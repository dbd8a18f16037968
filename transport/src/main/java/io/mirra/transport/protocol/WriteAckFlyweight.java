package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Body of {@link ReplicationProtocol#WRITE_ACK} (control stream), which acknowledges one {@link WriteFlyweight}
 * WRITE or RESYNC_DATA, or one {@link RangeOpFlyweight} FLUSH, TRIM or WRITE_ZEROES (whose op sequence shares the
 * write sequence space), of the same volume (the volume is in the frame header).
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                  Write Sequence (u64)                         |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                      Status (i32)                             |  8
 *  +-------------------------------+-------------------------------+
 *  |           Ack Flags           |           Reserved            | 12
 *  +-------------------------------+-------------------------------+
 * </pre>
 * Status 0 is success, otherwise a positive errno of the peer's disk. Ack flags are
 * {@link ReplicationProtocol#ACK_FLAG_RECEIVED} (sent on arrival for a write with
 * {@link ReplicationProtocol#WRITE_FLAG_ACK_RECEIVED}) and {@link ReplicationProtocol#ACK_FLAG_DURABLE}.
 * Threading: owned by one thread; not thread-safe.
 */
public final class WriteAckFlyweight
{
    /** Offset of the acknowledged write's sequence. */
    public static final int WRITE_SEQUENCE_OFFSET = 0;
    /** Offset of the status. */
    public static final int STATUS_OFFSET = 8;
    /** Offset of the ack flags. */
    public static final int FLAGS_OFFSET = 12;
    /** Offset of the reserved field (zero). */
    public static final int RESERVED_OFFSET = 14;
    /** Length of the body. */
    public static final int LENGTH = 16;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding at least {@link #LENGTH} bytes from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public WriteAckFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /** @return sequence of the acknowledged write. */
    public long writeSequence()
    {
        return buffer.getLong(offset + WRITE_SEQUENCE_OFFSET, BYTE_ORDER);
    }

    /**
     * @param writeSequence of the acknowledged write.
     * @return this.
     */
    public WriteAckFlyweight writeSequence(final long writeSequence)
    {
        buffer.putLong(offset + WRITE_SEQUENCE_OFFSET, writeSequence, BYTE_ORDER);
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
    public WriteAckFlyweight status(final int status)
    {
        buffer.putInt(offset + STATUS_OFFSET, status, BYTE_ORDER);
        return this;
    }

    /** @return ack flags (u16). */
    public int flags()
    {
        return buffer.getShort(offset + FLAGS_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * @param flags ack flags; also zeroes the reserved field.
     * @return this.
     */
    public WriteAckFlyweight flags(final int flags)
    {
        buffer.putShort(offset + FLAGS_OFFSET, (short)flags, BYTE_ORDER);
        buffer.putShort(offset + RESERVED_OFFSET, (short)0, BYTE_ORDER);
        return this;
    }
}
