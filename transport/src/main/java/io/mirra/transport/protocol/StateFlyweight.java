package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;
import static io.mirra.transport.protocol.ReplicationProtocol.MAX_VOLUMES;

/**
 * Body of {@link ReplicationProtocol#STATE} (data stream, so it is ordered with the writes): the sender's role and
 * node id, then one 48-byte entry per volume with its disk state and data generations. The frame header's volume
 * is 0.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------+---------------+-------------------------------+
 *  |     Role      |     Flags     |      Volume Count (u16)       |  0
 *  +---------------+---------------+-------------------------------+
 *  |                       Node Id (u32)                           |  4
 *  +---------------+---------------+-------------------------------+
 *  |  Disk State   | History Count |           Reserved            |  8 + 48 * i
 *  +---------------+---------------+-------------------------------+
 *  |                        Reserved                               | 12 + 48 * i
 *  +---------------------------------------------------------------+
 *  |                 Current Generation (u64)                      | 16 + 48 * i
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                    History[0] (u64)                           | 24 + 48 * i
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                    History[1] (u64)                           | 32 + 48 * i
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                    History[2] (u64)                           | 40 + 48 * i
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                    History[3] (u64)                           | 48 + 48 * i
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 * Role is {@link ReplicationProtocol#STATE_ROLE_SECONDARY} or {@link ReplicationProtocol#STATE_ROLE_PRIMARY}; no
 * flag is defined (flags are zero); volume count is 1..{@link ReplicationProtocol#MAX_VOLUMES} and the entries fill
 * the body exactly ({@code bodyLength == HEADER_LENGTH + VOLUME_ENTRY_LENGTH * volumeCount}); node id is
 * 0..{@link ReplicationProtocol#MAX_NODE_ID}. Per volume: a disk state code
 * 0..{@link ReplicationProtocol#MAX_DISK_STATE}, a history count 0..{@link #MAX_HISTORY}, the current generation,
 * then the history generations; unused history slots and reserved fields are zero. The decoder checks all of this.
 * <p>
 * Accessors of an entry take the volume index {@code volume} (0 .. volumeCount - 1). Threading: owned by one thread;
 * not thread-safe.
 */
public final class StateFlyweight
{
    /** Offset of the role (u8). */
    public static final int ROLE_OFFSET = 0;
    /** Offset of the flags (u8, zero). */
    public static final int FLAGS_OFFSET = 1;
    /** Offset of the volume count (u16). */
    public static final int VOLUME_COUNT_OFFSET = 2;
    /** Offset of the node id (u32). */
    public static final int NODE_ID_OFFSET = 4;
    /** Length of the header; the first volume entry starts here. */
    public static final int HEADER_LENGTH = 8;
    /** Length of one volume entry. */
    public static final int VOLUME_ENTRY_LENGTH = 48;
    /** Offset of the disk state (u8) in a volume entry. */
    public static final int DISK_STATE_OFFSET = 0;
    /** Offset of the history count (u8) in a volume entry. */
    public static final int HISTORY_COUNT_OFFSET = 1;
    /** Offset of the first reserved field (u16, zero) in a volume entry. */
    public static final int RESERVED1_OFFSET = 2;
    /** Offset of the second reserved field (u32, zero) in a volume entry. */
    public static final int RESERVED2_OFFSET = 4;
    /** Offset of the current generation (u64) in a volume entry. */
    public static final int CURRENT_GEN_OFFSET = 8;
    /** Offset of the first history generation (u64 each) in a volume entry. */
    public static final int HISTORY_OFFSET = 16;
    /** Most history generations per volume. */
    public static final int MAX_HISTORY = ReplicationProtocol.MAX_HISTORY;
    /** Shortest body (one volume). */
    public static final int MIN_LENGTH = HEADER_LENGTH + VOLUME_ENTRY_LENGTH;
    /** Longest body ({@link ReplicationProtocol#MAX_VOLUMES} volumes). */
    public static final int MAX_LENGTH = HEADER_LENGTH + VOLUME_ENTRY_LENGTH * MAX_VOLUMES;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding the body from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public StateFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /**
     * Encoded length of a STATE.
     *
     * @param volumeCount number of volumes.
     * @return body length in bytes.
     */
    public static int encodedLength(final int volumeCount)
    {
        return HEADER_LENGTH + VOLUME_ENTRY_LENGTH * volumeCount;
    }

    /**
     * Offset of a volume entry in the body.
     *
     * @param volume index, 0 .. volumeCount - 1.
     * @return offset of its entry from the start of the body.
     */
    public static int entryOffset(final int volume)
    {
        return HEADER_LENGTH + VOLUME_ENTRY_LENGTH * volume;
    }

    /** @return {@code STATE_ROLE_SECONDARY} or {@code STATE_ROLE_PRIMARY} (u8). */
    public int role()
    {
        return buffer.getByte(offset + ROLE_OFFSET) & 0xFF;
    }

    /**
     * @param role {@link ReplicationProtocol#STATE_ROLE_SECONDARY} or {@link ReplicationProtocol#STATE_ROLE_PRIMARY}.
     * @return this.
     */
    public StateFlyweight role(final int role)
    {
        buffer.putByte(offset + ROLE_OFFSET, (byte)role);
        return this;
    }

    /** @return flags (u8; none is defined). */
    public int flags()
    {
        return buffer.getByte(offset + FLAGS_OFFSET) & 0xFF;
    }

    /**
     * @param flags u8; none is defined in version 1, so 0.
     * @return this.
     */
    public StateFlyweight flags(final int flags)
    {
        buffer.putByte(offset + FLAGS_OFFSET, (byte)flags);
        return this;
    }

    /** @return number of volume entries (u16). */
    public int volumeCount()
    {
        return buffer.getShort(offset + VOLUME_COUNT_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * @param volumeCount number of volume entries, 1..{@link ReplicationProtocol#MAX_VOLUMES}.
     * @return this.
     */
    public StateFlyweight volumeCount(final int volumeCount)
    {
        buffer.putShort(offset + VOLUME_COUNT_OFFSET, (short)volumeCount, BYTE_ORDER);
        return this;
    }

    /** @return the sender's node id (u32 read as an int). */
    public int nodeId()
    {
        return buffer.getInt(offset + NODE_ID_OFFSET, BYTE_ORDER);
    }

    /**
     * @param nodeId the sender's node id, 0..{@link ReplicationProtocol#MAX_NODE_ID}.
     * @return this.
     */
    public StateFlyweight nodeId(final int nodeId)
    {
        buffer.putInt(offset + NODE_ID_OFFSET, nodeId, BYTE_ORDER);
        return this;
    }

    /**
     * @param volume index, below {@link #volumeCount()}.
     * @return the volume's disk state code (u8).
     */
    public int diskState(final int volume)
    {
        return buffer.getByte(offset + entryOffset(volume) + DISK_STATE_OFFSET) & 0xFF;
    }

    /**
     * @param volume    index, below {@link #volumeCount()}.
     * @param diskState code, 0..{@link ReplicationProtocol#MAX_DISK_STATE}.
     * @return this.
     */
    public StateFlyweight diskState(final int volume, final int diskState)
    {
        buffer.putByte(offset + entryOffset(volume) + DISK_STATE_OFFSET, (byte)diskState);
        return this;
    }

    /**
     * @param volume index, below {@link #volumeCount()}.
     * @return the number of history generations used (u8).
     */
    public int historyCount(final int volume)
    {
        return buffer.getByte(offset + entryOffset(volume) + HISTORY_COUNT_OFFSET) & 0xFF;
    }

    /**
     * @param volume       index, below {@link #volumeCount()}.
     * @param historyCount history generations used, 0..{@link #MAX_HISTORY}; also zeroes the entry's reserved
     *                     fields.
     * @return this.
     */
    public StateFlyweight historyCount(final int volume, final int historyCount)
    {
        final int at = offset + entryOffset(volume);
        buffer.putByte(at + HISTORY_COUNT_OFFSET, (byte)historyCount);
        buffer.putShort(at + RESERVED1_OFFSET, (short)0, BYTE_ORDER);
        buffer.putInt(at + RESERVED2_OFFSET, 0, BYTE_ORDER);
        return this;
    }

    /**
     * @param volume index, below {@link #volumeCount()}.
     * @return the volume's current data generation.
     */
    public long currentGen(final int volume)
    {
        return buffer.getLong(offset + entryOffset(volume) + CURRENT_GEN_OFFSET, BYTE_ORDER);
    }

    /**
     * @param volume     index, below {@link #volumeCount()}.
     * @param currentGen the current data generation.
     * @return this.
     */
    public StateFlyweight currentGen(final int volume, final long currentGen)
    {
        buffer.putLong(offset + entryOffset(volume) + CURRENT_GEN_OFFSET, currentGen, BYTE_ORDER);
        return this;
    }

    /**
     * @param volume index, below {@link #volumeCount()}.
     * @param slot   0 .. {@link #MAX_HISTORY} - 1 (slots at or above the history count are 0).
     * @return the history generation in that slot.
     */
    public long history(final int volume, final int slot)
    {
        return buffer.getLong(offset + entryOffset(volume) + HISTORY_OFFSET + slot * Long.BYTES, BYTE_ORDER);
    }

    /**
     * @param volume     index, below {@link #volumeCount()}.
     * @param slot       0 .. {@link #MAX_HISTORY} - 1.
     * @param generation history generation, 0 for an unused slot.
     * @return this.
     */
    public StateFlyweight history(final int volume, final int slot, final long generation)
    {
        if (slot < 0 || slot >= MAX_HISTORY)
        {
            throw new IndexOutOfBoundsException("history slot " + slot + ", expected 0.." + (MAX_HISTORY - 1));
        }
        buffer.putLong(offset + entryOffset(volume) + HISTORY_OFFSET + slot * Long.BYTES, generation, BYTE_ORDER);
        return this;
    }
}
