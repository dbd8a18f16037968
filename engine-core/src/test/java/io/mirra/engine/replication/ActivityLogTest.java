package io.mirra.engine.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The activity log admits writes only to extents in its persisted set, evicts the least recently used free one. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ActivityLogTest
{
    private static final long E = ActivityLog.EXTENT_SIZE;

    @TempDir
    Path dir;

    /** Plan, write and commit a transaction for a range, as the resource does. */
    private static void add(final ActivityLog log, final long offset, final long length) throws IOException
    {
        assertTrue(log.planAdd(offset, length));
        log.writeTransaction(log.plannedSet());
        log.commitPlan();
    }

    private static long[] sorted(final long[] set)
    {
        final long[] copy = set.clone();
        Arrays.sort(copy);
        return copy;
    }

    @Test
    void shouldAdmitOnlyWritesToPersistedExtentsAndEvictTheLeastRecentlyUsedFreeOne() throws IOException
    {
        try (ActivityLog log = new ActivityLog(dir.resolve("r-0.al"), 2, 64 * E))
        {
            assertFalse(log.tryAcquire(0, 4096), "nothing is in the log yet");
            add(log, 0, 4096);
            add(log, 5 * E, 4096);
            assertTrue(log.tryAcquire(0, 4096)); // extent 0 held by a write in flight
            assertTrue(log.tryAcquire(5 * E, 4096));
            log.release(5 * E, 4096);
            // The log is full: room for extent 9 comes from extent 5 (free), never from extent 0 (held).
            assertTrue(log.planAdd(9 * E + 100, 10));
            assertArrayEquals(new long[] {5}, log.plannedEvictions());
            assertArrayEquals(new long[] {0, 9}, sorted(log.plannedSet()));
            assertFalse(log.tryAcquire(5 * E, 4096), "an evicted extent admits nothing");
            log.writeTransaction(log.plannedSet());
            log.commitPlan();
            // Both extents held: no room until a write completes.
            assertTrue(log.tryAcquire(9 * E, 1));
            assertFalse(log.planAdd(20 * E, 1));
            log.abandonPlan();
            log.release(0, 4096);
            assertTrue(log.planAdd(20 * E, 1));
            assertArrayEquals(new long[] {0}, log.plannedEvictions());
        }
    }

    @Test
    void shouldReloadTheLastTransactionAndSurviveATornOne() throws IOException
    {
        final Path file = dir.resolve("r-0.al");
        try (ActivityLog log = new ActivityLog(file, 8, 64 * E))
        {
            add(log, 0, 2 * E); // extents 0 and 1 (a write across the boundary)
            add(log, 7 * E, 1);
        }
        try (ActivityLog log = new ActivityLog(file, 8, 64 * E))
        {
            assertArrayEquals(new long[] {0, 1, 7}, sorted(log.loadedExtents()));
            assertNull(log.loadNote());
            add(log, 3 * E, 1); // the newest transaction: {3}; torn below
        }
        final byte[] bytes = Files.readAllBytes(file);
        final int slot = bytes.length / 2;
        final int newest = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(16) >
            java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(slot + 16) ? 0 : slot;
        bytes[newest + 40] ^= 0x7F;
        Files.write(file, bytes);
        try (ActivityLog log = new ActivityLog(file, 8, 64 * E))
        {
            assertArrayEquals(new long[] {0, 1, 7}, sorted(log.loadedExtents()),
                "the transaction before the torn one, which covers every write admitted before it");
        }
    }

    @Test
    void shouldSayNothingCanBeTrustedWhenBothTransactionsAreCorrupt() throws IOException
    {
        final Path file = dir.resolve("r-0.al");
        try (ActivityLog log = new ActivityLog(file, 8, 64 * E))
        {
            add(log, 0, 1);
        }
        final byte[] bytes = Files.readAllBytes(file);
        bytes[100] ^= 1;
        bytes[bytes.length / 2 + 100] ^= 1;
        Files.write(file, bytes);
        try (ActivityLog log = new ActivityLog(file, 8, 64 * E))
        {
            assertNull(log.loadedExtents());
            assertNotNull(log.loadNote());
        }
    }

    @Test
    void shouldKeepTheLoadedExtentsWhenTheCapacityChanges() throws IOException
    {
        final Path file = dir.resolve("r-0.al");
        try (ActivityLog log = new ActivityLog(file, 8, 64 * E))
        {
            add(log, 2 * E, 1);
            add(log, 4 * E, 1);
        }
        try (ActivityLog log = new ActivityLog(file, 600, 64 * E))
        {
            assertArrayEquals(new long[] {2, 4}, sorted(log.loadedExtents()));
        }
        try (ActivityLog log = new ActivityLog(file, 600, 64 * E))
        {
            assertArrayEquals(new long[] {2, 4}, sorted(log.loadedExtents()), "rewritten in the new size");
            assertEquals(600, log.capacity());
        }
    }
}
