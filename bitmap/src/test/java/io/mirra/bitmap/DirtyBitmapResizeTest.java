package io.mirra.bitmap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.BitSet;
import java.util.Random;

import static io.mirra.bitmap.TestSupport.assertBits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class DirtyBitmapResizeTest
{
    @Test
    void shouldWidenSmallHandMadeCase()
    {
        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(8 * 4096, 4096));
        bitmap.set(1);
        bitmap.set(6);

        final DirtyBitmap wide = bitmap.resize(8192);
        assertEquals(4, wide.bitCount());
        assertBits(bits(0, 3), wide);

        final DirtyBitmap wider = bitmap.resize(16384);
        assertEquals(2, wider.bitCount());
        assertBits(bits(0, 1), wider);

        final DirtyBitmap widest = bitmap.resize(1024 * 1024);
        assertEquals(1, widest.bitCount());
        assertBits(bits(0), widest);
        assertEquals(8 * 4096, widest.outOfSyncBytes());

        assertBits(bits(1, 6), bitmap);
    }

    @Test
    void shouldSplitSmallHandMadeCase()
    {
        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(4 * 8192, 8192));
        bitmap.set(1);
        final DirtyBitmap split = bitmap.resize(4096);
        assertEquals(8, split.bitCount());
        assertBits(bits(2, 3), split);

        final DirtyBitmap wide = new DirtyBitmap(new BitmapGeometry(4 * 8192, 16384));
        wide.set(0);
        wide.set(1);
        assertBits(bits(0, 1, 2, 3, 4, 5, 6, 7), wide.resize(4096));
    }

    @Test
    void shouldHandlePartialLastBlockBothWays()
    {
        // 3 full 4 KiB blocks plus 100 bytes: bits 0..3 at 4 KiB, 0..1 at 8 KiB.
        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(3 * 4096 + 100, 4096));
        bitmap.set(3);
        assertEquals(100, bitmap.outOfSyncBytes());

        final DirtyBitmap wide = bitmap.resize(8192);
        assertEquals(2, wide.bitCount());
        assertBits(bits(1), wide);
        assertEquals(4096 + 100, wide.outOfSyncBytes());

        final DirtyBitmap back = wide.resize(4096);
        assertBits(bits(2, 3), back);

        // A 1 MiB volume of 100 bytes past 1 MiB: the last 1 MiB block splits into a single 4 KiB block.
        final DirtyBitmap big = new DirtyBitmap(new BitmapGeometry(1024 * 1024 + 100, 1024 * 1024));
        big.set(1);
        final DirtyBitmap small = big.resize(4096);
        assertEquals(257, small.bitCount());
        assertBits(bits(256), small);
    }

    @Test
    void shouldCopyForSameBlockSizeAndValidate()
    {
        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(100 * 4096, 4096));
        bitmap.setRange(5, 70);
        final DirtyBitmap copy = bitmap.resize(4096);
        assertNotSame(bitmap, copy);
        assertBits(TestSupport.toBitSet(bitmap), copy);
        copy.clearAll();
        assertEquals(65, bitmap.cardinality());
        assertThrows(IllegalArgumentException.class, () -> bitmap.resize(3000));
        assertThrows(IllegalArgumentException.class, () -> bitmap.resize(2 * 1024 * 1024));
    }

    @Test
    void shouldResizeRandomBitmapsExactlyWithoutLosingDirtyBytes()
    {
        final Random random =
            TestSupport.random("DirtyBitmapResizeTest.shouldResizeRandomBitmapsExactlyWithoutLosingDirtyBytes", 21L);
        for (int round = 0; round < 400; round++)
        {
            final int blockSize = 4096 << random.nextInt(9);
            // Keep the bitmap at 4 KiB blocks at most 16 Ki bits.
            final long volume = 1 + (long)(random.nextDouble() * (16384L * 4096 - 1));
            final BitmapGeometry geometry = new BitmapGeometry(volume, blockSize);
            final DirtyBitmap bitmap = new DirtyBitmap(geometry);
            TestSupport.fill(random, bitmap, random.nextInt(7));
            final BitSet original = TestSupport.toBitSet(bitmap);
            final int newBlockSize = 4096 << random.nextInt(9);
            final String context = "round " + round + " " + geometry + " -> " + newBlockSize;

            final DirtyBitmap resized = bitmap.resize(newBlockSize);
            assertEquals(geometry.withBlockSize(newBlockSize), resized.geometry(), context);
            assertBits(expectedResize(original, geometry, newBlockSize), resized);
            assertEveryDirtyByteStillDirty(original, geometry, resized, context);
            assertTrue(resized.outOfSyncBytes() >= bitmap.outOfSyncBytes(), context);
            assertBits(original, bitmap);

            // Splitting then widening back is exact; widening then splitting back is a superset.
            final DirtyBitmap back = resized.resize(blockSize);
            final BitSet backBits = TestSupport.toBitSet(back);
            if (newBlockSize <= blockSize)
            {
                assertEquals(original, backBits, context);
            }
            else
            {
                final BitSet missing = (BitSet)original.clone();
                missing.andNot(backBits);
                assertTrue(missing.isEmpty(), context + " lost bits " + missing);
            }
        }
    }

    private static BitSet expectedResize(final BitSet original, final BitmapGeometry from, final int newBlockSize)
    {
        // Independent of the implementation: a new block is dirty iff it overlaps a dirty old block.
        final BitmapGeometry to = from.withBlockSize(newBlockSize);
        final BitSet expected = new BitSet();
        for (int j = 0; j < to.bitCount(); j++)
        {
            final long start = (long)j * newBlockSize;
            final long end = Math.min(start + newBlockSize, from.volumeSizeBytes());
            final int firstOld = (int)(start / from.blockSize());
            final int lastOld = (int)((end - 1) / from.blockSize());
            final int dirty = original.nextSetBit(firstOld);
            if (dirty >= 0 && dirty <= lastOld)
            {
                expected.set(j);
            }
        }
        return expected;
    }

    private static void assertEveryDirtyByteStillDirty(
        final BitSet original, final BitmapGeometry from, final DirtyBitmap resized, final String context)
    {
        final BitmapGeometry to = resized.geometry();
        for (int i = original.nextSetBit(0); i >= 0; i = original.nextSetBit(i + 1))
        {
            final long start = (long)i * from.blockSize();
            final long end = Math.min(start + from.blockSize(), from.volumeSizeBytes());
            // Every new block holding one of the old block's bytes.
            for (long block = start / to.blockSize(); block <= (end - 1) / to.blockSize(); block++)
            {
                assertTrue(resized.test(block), context + " old bit " + i + " new bit " + block);
            }
        }
    }

    private static BitSet bits(final int... indices)
    {
        final BitSet bits = new BitSet();
        for (final int index : indices)
        {
            bits.set(index);
        }
        return bits;
    }
}
