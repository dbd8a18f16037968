package io.mirra.engine.replication;

import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.LongArrayList;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The activity log of one volume (DRBD's AL): the set of "hot" extents ({@link #EXTENT_SIZE} each) that writes may
 * touch. A write is admitted only once every extent it touches is in the set <em>on disk</em>, so after a crash the
 * extents of the persisted set bound where the copy may differ from its peers: they are resynced, not the volume.
 * <p>
 * The set holds at most {@code capacity} extents; making room evicts the least recently used extent that no write
 * in flight holds. Before an extent leaves the set, the caller persists the bitmap words covering it (bits set by
 * writes to it would otherwise only be known through the log). Each change is one transaction: the whole new set,
 * written into the older of two slots with a sequence number and a CRC-32C and synced, so a torn transaction leaves
 * the previous set, which still covers every write admitted before it.
 * <p>
 * Not thread-safe: the resource's lock guards the set; the file I/O ({@link #writeTransaction(long[])}) runs on the
 * resource's metadata thread, one transaction at a time.
 */
final class ActivityLog implements AutoCloseable
{
    /** Bytes per extent: 4 MiB, as DRBD. */
    static final int EXTENT_SHIFT = 22;
    static final long EXTENT_SIZE = 1L << EXTENT_SHIFT;
    /** Extents in the set by default (DRBD's al-extents default): about 4.8 GiB of hot data. */
    static final int DEFAULT_CAPACITY = 1237;
    /** Largest capacity: the set of one transaction must fit one slot of a sane size. */
    static final int MAX_CAPACITY = 65534;

    static final long MAGIC = 0x474f_4c41_4152_524dL; // "MRRAALOG" little-endian
    private static final int HEADER = 32;
    private static final long NOT_ACTIVE = -1;

    private final Path file;
    private final int capacity;
    private final int slotSize;
    private final long extentCount;
    /** Active extent -> writes in flight holding it. */
    private final Long2LongHashMap refs = new Long2LongHashMap(NOT_ACTIVE);
    /** Active extent -> tick of its last use (for LRU eviction). */
    private final Long2LongHashMap lastUse = new Long2LongHashMap(NOT_ACTIVE);
    /** Extents of the transaction being planned or written, not yet admitting writes. */
    private final LongArrayList pendingAdd = new LongArrayList();
    private final LongArrayList pendingEvict = new LongArrayList();
    private long tick;
    private long seq;
    private FileChannel channel;
    /** The set found at load, or null when neither slot was valid. */
    private final long[] loaded;
    private final String loadNote;

    /**
     * Open (or create) the log.
     *
     * @param file       its file.
     * @param capacity   extents in the set.
     * @param volumeSize the volume's size.
     * @throws IOException when the file cannot be opened or created.
     */
    ActivityLog(final Path file, final int capacity, final long volumeSize) throws IOException
    {
        if (capacity < 1 || capacity > MAX_CAPACITY)
        {
            throw new IllegalArgumentException("activity log capacity " + capacity + " outside 1.." + MAX_CAPACITY);
        }
        this.file = file;
        this.capacity = capacity;
        this.slotSize = (int)((HEADER + 8L * capacity + 4 + 4095) & ~4095L);
        this.extentCount = (volumeSize + EXTENT_SIZE - 1) >>> EXTENT_SHIFT;
        long[] found;
        String note = null;
        try
        {
            final byte[] bytes = Files.readAllBytes(file);
            final ByteBuffer all = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            long bestSeq = -1;
            found = null;
            // Slots of this capacity, or of the capacity the file was written with.
            for (final int size : new int[] {slotSize, declaredSlotSize(all)})
            {
                for (int s = 0; s < 2 && size > 0; s++)
                {
                    final long[] set = parseSlot(all, s * size, size);
                    if (set != null && all.getLong(s * size + 16) > bestSeq)
                    {
                        bestSeq = all.getLong(s * size + 16);
                        found = set;
                    }
                }
            }
            if (found == null)
            {
                note = "neither copy of the activity log is valid: the whole volume counts as touched";
            }
            seq = Math.max(0, bestSeq);
        }
        catch (final NoSuchFileException ex)
        {
            found = new long[0];
        }
        this.loaded = found;
        this.loadNote = note;
        Files.createDirectories(file.toAbsolutePath().getParent());
        channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
            StandardOpenOption.WRITE);
        if (channel.size() != 2L * slotSize)
        {
            // New, or written with another capacity: start over with the loaded set in both slots.
            channel.truncate(0);
            final long[] start = found == null ? new long[0] : trim(found);
            writeTransaction(start);
            writeTransaction(start);
        }
    }

    /** @return the slot size the first slot declares, or 0. */
    private static int declaredSlotSize(final ByteBuffer all)
    {
        return all.capacity() >= HEADER ? all.getInt(12) : 0;
    }

    /** @return the set in the slot, or null when the slot is not a valid transaction. */
    private static long[] parseSlot(final ByteBuffer all, final int at, final int size)
    {
        if (size < HEADER + 4 || size % 4096 != 0 || at < 0 || (long)at + size > all.capacity() ||
            all.getLong(at) != MAGIC || all.getInt(at + 12) != size)
        {
            return null;
        }
        final CRC32C crc = new CRC32C();
        crc.update(all.array(), at, size - 4);
        if ((int)crc.getValue() != all.getInt(at + size - 4))
        {
            return null;
        }
        final int count = all.getInt(at + 24);
        if (count < 0 || HEADER + 8L * count > size - 4)
        {
            return null;
        }
        final long[] set = new long[count];
        for (int i = 0; i < count; i++)
        {
            set[i] = all.getLong(at + HEADER + 8 * i);
        }
        return set;
    }

    /** The loaded set cut to this capacity and volume (a set from a larger capacity keeps its first extents). */
    private long[] trim(final long[] set)
    {
        final LongArrayList kept = new LongArrayList();
        for (final long extent : set)
        {
            if (extent >= 0 && extent < extentCount && kept.size() < capacity)
            {
                kept.addLong(extent);
            }
        }
        return kept.toLongArray();
    }

    /**
     * @return the extents in the log when it was opened: after a crash, where the copy may differ from its peers;
     *         null when no transaction could be trusted (then every extent may).
     */
    long[] loadedExtents()
    {
        return loaded == null ? null : loaded.clone();
    }

    /** @return why the log was not usable as found, or null. */
    String loadNote()
    {
        return loadNote;
    }

    /** @return extents in the set. */
    int capacity()
    {
        return capacity;
    }

    /** @return extents active now (admitting writes). */
    int activeCount()
    {
        return refs.size();
    }

    /**
     * Hold the extents of a range for a write, if all are active.
     *
     * @return true when held (release with {@link #release(long, long)}), false when an extent is missing (nothing
     *         held).
     */
    boolean tryAcquire(final long offset, final long length)
    {
        final long first = offset >>> EXTENT_SHIFT;
        final long last = (offset + Math.max(1, length) - 1) >>> EXTENT_SHIFT;
        for (long e = first; e <= last; e++)
        {
            if (refs.get(e) == NOT_ACTIVE)
            {
                return false;
            }
        }
        tick++;
        for (long e = first; e <= last; e++)
        {
            refs.put(e, refs.get(e) + 1);
            lastUse.put(e, tick);
        }
        return true;
    }

    /** Release what {@link #tryAcquire(long, long)} held. */
    void release(final long offset, final long length)
    {
        final long first = offset >>> EXTENT_SHIFT;
        final long last = (offset + Math.max(1, length) - 1) >>> EXTENT_SHIFT;
        for (long e = first; e <= last; e++)
        {
            final long held = refs.get(e);
            if (held > 0)
            {
                refs.put(e, held - 1);
            }
        }
    }

    /**
     * Plan to add the extents of a range to the next transaction, evicting unused extents as needed.
     *
     * @return false when there is no room now (every active extent is held): wait for writes to complete.
     */
    boolean planAdd(final long offset, final long length)
    {
        final long first = offset >>> EXTENT_SHIFT;
        final long last = (offset + Math.max(1, length) - 1) >>> EXTENT_SHIFT;
        for (long e = first; e <= last; e++)
        {
            if (refs.get(e) != NOT_ACTIVE || pendingAdd.containsLong(e))
            {
                continue;
            }
            if (refs.size() + pendingAdd.size() >= capacity)
            {
                final long victim = leastRecentlyUsedFree();
                if (victim < 0)
                {
                    return false;
                }
                refs.remove(victim);
                lastUse.remove(victim);
                pendingEvict.addLong(victim);
            }
            pendingAdd.addLong(e);
        }
        return true;
    }

    private long leastRecentlyUsedFree()
    {
        long victim = -1;
        long oldest = Long.MAX_VALUE;
        final Long2LongHashMap.KeyIterator it = refs.keySet().iterator();
        while (it.hasNext())
        {
            final long e = it.nextValue();
            if (refs.get(e) == 0 && lastUse.get(e) < oldest)
            {
                oldest = lastUse.get(e);
                victim = e;
            }
        }
        return victim;
    }

    /** @return true when a planned transaction has something to write. */
    boolean hasPlan()
    {
        return !pendingAdd.isEmpty() || !pendingEvict.isEmpty();
    }

    /** @return the extents the planned transaction evicts (their bitmap words must be persisted first). */
    long[] plannedEvictions()
    {
        return pendingEvict.toLongArray();
    }

    /** @return the whole set after the planned transaction: what it writes. */
    long[] plannedSet()
    {
        final LongArrayList set = new LongArrayList(refs.size() + pendingAdd.size(), -1);
        final Long2LongHashMap.KeyIterator it = refs.keySet().iterator();
        while (it.hasNext())
        {
            set.addLong(it.nextValue());
        }
        for (int i = 0; i < pendingAdd.size(); i++)
        {
            set.addLong(pendingAdd.getLong(i));
        }
        return set.toLongArray();
    }

    /** The planned transaction is on disk: its new extents admit writes. */
    void commitPlan()
    {
        for (int i = 0; i < pendingAdd.size(); i++)
        {
            refs.put(pendingAdd.getLong(i), 0);
            lastUse.put(pendingAdd.getLong(i), tick);
        }
        pendingAdd.clear();
        pendingEvict.clear();
    }

    /** The planned transaction failed: its extents are not in the set (evicted ones stay out). */
    void abandonPlan()
    {
        pendingAdd.clear();
        pendingEvict.clear();
    }

    /**
     * Write a transaction: the whole set into the older slot, then sync. Runs on the metadata thread.
     *
     * @param set the extents.
     * @throws IOException when it cannot be written.
     */
    void writeTransaction(final long[] set) throws IOException
    {
        if (set.length > capacity)
        {
            throw new IllegalArgumentException(set.length + " extents in a log of " + capacity);
        }
        final FileChannel ch = channel;
        if (ch == null)
        {
            return; // frozen or closed
        }
        seq++;
        final ByteBuffer slot = ByteBuffer.allocate(slotSize).order(ByteOrder.LITTLE_ENDIAN);
        slot.putLong(0, MAGIC).putInt(8, 1).putInt(12, slotSize).putLong(16, seq).putInt(24, set.length);
        for (int i = 0; i < set.length; i++)
        {
            slot.putLong(HEADER + 8 * i, set[i]);
        }
        final CRC32C crc = new CRC32C();
        crc.update(slot.array(), 0, slotSize - 4);
        slot.putInt(slotSize - 4, (int)crc.getValue());
        long position = (seq & 1) * slotSize;
        while (slot.hasRemaining())
        {
            position += ch.write(slot, position);
        }
        ch.force(false);
    }

    /** Tests: from now on nothing is written, as if the process had died. */
    void freeze()
    {
        close();
    }

    @Override
    public void close()
    {
        final FileChannel ch = channel;
        channel = null;
        if (ch != null)
        {
            try
            {
                ch.close();
            }
            catch (final IOException ex)
            {
                // closing anyway
            }
        }
    }

    @Override
    public String toString()
    {
        return "ActivityLog[" + file + ", " + refs.size() + "/" + capacity + " extents]";
    }
}
