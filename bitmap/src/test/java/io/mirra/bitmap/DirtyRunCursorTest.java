package io.mirra.bitmap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.management.ManagementFactory;
import java.util.BitSet;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class DirtyRunCursorTest
{
    private static final long[] MAX_RUNS = { 1, 2, 3, 7, 64, 100, DirtyRunCursor.UNLIMITED };

    @Test
    void shouldReturnModelRunsSplitAtMaxRunBits()
    {
        final Random random = TestSupport.random("DirtyRunCursorTest.shouldReturnModelRunsSplitAtMaxRunBits", 11L);
        for (int round = 0; round < 500; round++)
        {
            final BitmapGeometry geometry = TestSupport.randomGeometry(random, 600);
            final DirtyBitmap bitmap = new DirtyBitmap(geometry);
            TestSupport.fill(random, bitmap, random.nextInt(7));
            final BitSet model = TestSupport.toBitSet(bitmap);
            final long maxRun = MAX_RUNS[random.nextInt(MAX_RUNS.length)];
            final int bits = (int)geometry.bitCount();
            final int from = random.nextInt(4) == 0 ? random.nextInt(bits + 1) : 0;
            final int to = random.nextInt(4) == 0 ? from + random.nextInt(bits - from + 1) : bits;
            final String context = "round " + round + " maxRun " + maxRun + " [" + from + ", " + to + ") " + geometry;

            final DirtyRunCursor cursor = new DirtyRunCursor(bitmap, maxRun);
            if (to == bits)
            {
                cursor.reset(from);
            }
            else
            {
                cursor.reset(from, to);
            }

            final BitSet seen = new BitSet();
            long bytes = 0;
            int start = model.nextSetBit(from);
            while (start >= 0 && start < to)
            {
                final int end = Math.min(model.nextClearBit(start), to);
                for (long chunk = start; chunk < end; chunk += Math.min(maxRun, end - chunk))
                {
                    final long chunkLength = Math.min(maxRun, end - chunk);
                    assertTrue(cursor.next(), context + " chunk at " + chunk);
                    assertEquals(chunk, cursor.runStartBit(), context);
                    assertEquals(chunkLength, cursor.runLengthBits(), context);
                    assertEquals(chunk + chunkLength, cursor.runEndBitExclusive(), context);
                    assertEquals(chunk * geometry.blockSize(), cursor.runByteOffset(), context);
                    final long expectedBytes =
                        Math.min((chunk + chunkLength) * geometry.blockSize(), geometry.volumeSizeBytes()) -
                        chunk * geometry.blockSize();
                    assertEquals(expectedBytes, cursor.runLengthBytes(), context);
                    seen.set((int)chunk, (int)(chunk + chunkLength));
                    bytes += cursor.runLengthBytes();
                }
                start = model.nextSetBit(end);
            }
            assertFalse(cursor.next(), context + " extra run");
            assertFalse(cursor.next(), context + " next after the end");
            assertEquals(-1, cursor.runStartBit());
            assertEquals(0, cursor.runLengthBytes());

            if (from == 0 && to == bits)
            {
                assertEquals(model, seen, context);
                assertEquals(bitmap.outOfSyncBytes(), bytes, context);
            }
        }
    }

    @Test
    void shouldClipLastRunToVolumeSize()
    {
        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(3 * 65536 + 512, 65536));
        bitmap.setRange(2, 4);
        final DirtyRunCursor cursor = new DirtyRunCursor(bitmap);
        assertTrue(cursor.next());
        assertEquals(2, cursor.runStartBit());
        assertEquals(2, cursor.runLengthBits());
        assertEquals(2 * 65536, cursor.runByteOffset());
        assertEquals(65536 + 512, cursor.runLengthBytes());
        assertFalse(cursor.next());
    }

    @Test
    void shouldStartInsideARunAndSplitIt()
    {
        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(100L * 4096, 4096));
        bitmap.setRange(10, 20);
        bitmap.setRange(30, 31);
        final DirtyRunCursor cursor = new DirtyRunCursor(bitmap, 4);
        assertEquals(4, cursor.maxRunBits());
        cursor.reset(13);
        assertTrue(cursor.next());
        assertEquals(13, cursor.runStartBit());
        assertEquals(4, cursor.runLengthBits());
        assertTrue(cursor.next());
        assertEquals(17, cursor.runStartBit());
        assertEquals(3, cursor.runLengthBits());
        assertEquals(20, cursor.position());
        assertTrue(cursor.next());
        assertEquals(30, cursor.runStartBit());
        assertEquals(1, cursor.runLengthBits());
        assertFalse(cursor.next());

        cursor.reset(0, 12);
        assertTrue(cursor.next());
        assertEquals(10, cursor.runStartBit());
        assertEquals(2, cursor.runLengthBits());
        assertFalse(cursor.next());

        cursor.reset(100);
        assertFalse(cursor.next());
        assertThrows(IndexOutOfBoundsException.class, () -> cursor.reset(101));
        assertThrows(IndexOutOfBoundsException.class, () -> cursor.reset(5, 4));
        assertThrows(IllegalArgumentException.class, () -> new DirtyRunCursor(bitmap, 0));
    }

    @Test
    void shouldDriveAResyncThatClearsRunsAsItGoes()
    {
        final Random random = TestSupport.random("DirtyRunCursorTest.shouldDriveAResyncThatClearsRunsAsItGoes", 12L);
        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(5000L * 4096 - 17, 4096));
        TestSupport.fill(random, bitmap, 5);
        final long expectedBytes = bitmap.outOfSyncBytes();
        final DirtyRunCursor cursor = new DirtyRunCursor(bitmap, 32);
        long resynced = 0;
        while (cursor.next())
        {
            resynced += cursor.runLengthBytes();
            final long cleared = bitmap.clearByteRange(cursor.runByteOffset(), cursor.runLengthBytes());
            assertEquals(cursor.runLengthBits(), cleared);
        }
        assertEquals(expectedBytes, resynced);
        assertTrue(bitmap.isEmpty());
    }

    @Test
    void shouldNotAllocateWhileIterating()
    {
        final java.lang.management.ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        assertTrue(bean instanceof com.sun.management.ThreadMXBean, "HotSpot thread allocation counters needed");
        final com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean)bean;
        assertTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled(), "thread allocation counters disabled");

        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(4096L * 4096, 4096));
        for (long bit = 0; bit < bitmap.bitCount(); bit += 3)
        {
            bitmap.set(bit);
        }
        final DirtyRunCursor cursor = new DirtyRunCursor(bitmap, 8);
        long sum = iterate(cursor);
        final long before = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 200; i++)
        {
            sum += iterate(cursor);
        }
        final long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertEquals(201L * bitmap.outOfSyncBytes(), sum);
        // 200 passes of ~1366 runs: any per-run allocation would be hundreds of KiB.
        assertTrue(allocated < 16 * 1024, "allocated " + allocated + " bytes");
    }

    private static long iterate(final DirtyRunCursor cursor)
    {
        long bytes = 0;
        cursor.reset(0);
        while (cursor.next())
        {
            bytes += cursor.runLengthBytes();
        }
        return bytes;
    }
}
