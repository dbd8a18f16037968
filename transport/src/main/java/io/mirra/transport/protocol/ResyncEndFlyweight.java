package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;

/**
 * Body of {@link ReplicationProtocol#RESYNC_END} (data stream): the SyncSource sent every block of the resync of the
 * volume named in the frame header before this frame. Once everything that arrived before it is on its disk, the
 * target adopts the source generation and is UpToDate.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                 Source Generation (u64)                       |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                    Sent Bytes (u64)                           |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 * The source generation is the generation the target adopts; sent bytes counts the data of every
 * {@link ReplicationProtocol#RESYNC_DATA} of this resync, for the log. Threading: owned by one thread; not
 * thread-safe.
 */
public final class ResyncEndFlyweight
{
    /** Offset of the generation the target adopts. */
    public static final int SOURCE_GEN_OFFSET = 0;
    /** Offset of the bytes sent in this resync. */
    public static final int SENT_BYTES_OFFSET = 8;
    /** Length of the body. */
    public static final int LENGTH = 16;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding at least {@link #LENGTH} bytes from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public ResyncEndFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /** @return the generation the target adopts once everything before this frame is on its disk. */
    public long sourceGen()
    {
        return buffer.getLong(offset + SOURCE_GEN_OFFSET, BYTE_ORDER);
    }

    /**
     * @param sourceGen the generation the target adopts.
     * @return this.
     */
    public ResyncEndFlyweight sourceGen(final long sourceGen)
    {
        buffer.putLong(offset + SOURCE_GEN_OFFSET, sourceGen, BYTE_ORDER);
        return this;
    }

    /** @return bytes of data sent in this resync. */
    public long sentBytes()
    {
        return buffer.getLong(offset + SENT_BYTES_OFFSET, BYTE_ORDER);
    }

    /**
     * @param sentBytes bytes of data sent in this resync.
     * @return this.
     */
    public ResyncEndFlyweight sentBytes(final long sentBytes)
    {
        buffer.putLong(offset + SENT_BYTES_OFFSET, sentBytes, BYTE_ORDER);
        return this;
    }
}
