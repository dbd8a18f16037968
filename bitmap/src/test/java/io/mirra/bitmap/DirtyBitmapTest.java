package io.mirra.bitmap;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.BitSet;
import java.util.Random;

import static io.mirra.bitmap.TestSupport.assertBits;
import static io.mirra.bitmap.TestSupport.modelOutOfSyncBytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class DirtyBitmapTest
{
    private static final int ROUNDS = 300;
    private static final int OPS_PER_ROUND = 200;

    @Test
    void shouldMatchBitSetModelUnderRandomOperations()
    {
        final Random random = TestSupport.random("DirtyBitmapTest.shouldMatchBitSetModelUnderRandomOperations", 1L);
        for (int round = 0; round < ROUNDS; round++)
        {
            final BitmapGeometry geometry = TestSupport.randomGeometry(random, round % 3 == 0 ? 70 : 700);
            final DirtyBitmap bitmap = new DirtyBitmap(geometry);
            final BitSet model = new BitSet();
            for (int op = 0; op < OPS_PER_ROUND; op++)
            {
                final String context = "round " + round + " op " + op + " " + geometry;
                applyRandomOperation(random, geometry, bitmap, model, context);
                assertEquals(model.cardinality(), bitmap.cardinality(), context);
                if (op % 40 == 0)
                {
                    assertFullyEqual(model, bitmap, context);
                }
            }
            assertFullyEqual(model, bitmap, "round " + round + " " + geometry);
        }
    }

    @Test
    void shouldMarkEveryTouchedBlockAndClearOnlyFullyCoveredBlocks()
    {
        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(10_000, 4096));
        assertEquals(2, bitmap.markByteRange(4095, 2));
        assertTrue(bitmap.test(0));
        assertTrue(bitmap.test(1));
        assertFalse(bitmap.test(2));

        // [1, 8192) covers block 1 only; block 0 keeps dirty byte 0.
        assertEquals(1, bitmap.clearByteRange(1, 8191));
        assertTrue(bitmap.test(0));
        assertFalse(bitmap.test(1));
        assertEquals(0, bitmap.clearByteRange(0, 4095));
        assertEquals(0, bitmap.markByteRange(0, 0));
        assertEquals(1, bitmap.cardinality());

        // The partial last block holds 1808 bytes and is cleared by a range reaching the end of the volume.
        assertEquals(1, bitmap.markByteRange(9999, 1));
        assertEquals(4096 + 1808, bitmap.outOfSyncBytes());
        assertEquals(0, bitmap.clearByteRange(8192, 1807));
        assertEquals(1, bitmap.clearByteRange(8192, 1808));
        assertEquals(4096, bitmap.outOfSyncBytes());
    }

    @Test
    void shouldSetAndClearRangesAcrossWords()
    {
        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(200L * 4096, 4096));
        assertEquals(200, bitmap.bitCount());
        assertEquals(4, bitmap.wordCount());
        assertEquals(130, bitmap.setRange(63, 193));
        assertEquals(0, bitmap.setRange(63, 193));
        assertEquals(-1L << 63, bitmap.word(0));
        assertEquals(-1L, bitmap.word(1));
        assertEquals(-1L, bitmap.word(2));
        assertEquals(1L, bitmap.word(3));
        assertEquals(63, bitmap.nextSetBit(0));
        assertEquals(193, bitmap.nextClearBit(63));
        assertEquals(64, bitmap.clearRange(64, 128));
        assertEquals(128, bitmap.nextSetBit(64));
        assertEquals(66, bitmap.cardinality());
        assertEquals(0, bitmap.setRange(5, 5));
        assertEquals(0, bitmap.clearRange(200, 200));
    }

    @Test
    void shouldKeepBitsPastTheEndClear()
    {
        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(70L * 4096 - 1, 4096));
        assertEquals(70, bitmap.bitCount());
        bitmap.setAll();
        assertEquals(70, bitmap.cardinality());
        assertEquals(-1L, bitmap.word(0));
        assertEquals((1L << 6) - 1, bitmap.word(1));
        assertEquals(70, bitmap.nextClearBit(0));
        assertEquals(70, bitmap.nextClearBit(69));
        assertEquals(70, bitmap.nextClearBit(1000));
        assertEquals(-1, bitmap.nextSetBit(70));
        assertEquals(70L * 4096 - 1, bitmap.outOfSyncBytes());
        bitmap.clearAll();
        assertTrue(bitmap.isEmpty());
        assertEquals(70, bitmap.nextClearBit(70));
        assertEquals(-1, bitmap.nextSetBit(0));
        assertEquals(0, bitmap.outOfSyncBytes());

        final DirtyBitmap exact = new DirtyBitmap(new BitmapGeometry(128L * 4096, 4096));
        exact.setAll();
        assertEquals(-1L, exact.word(1));
        assertEquals(128, exact.nextClearBit(0));
    }

    @Test
    void shouldRejectOutOfRangeArguments()
    {
        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(10_000, 4096));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.set(-1));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.set(3));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.clear(3));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.test(3));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.setRange(0, 4));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.setRange(2, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.clearRange(-1, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.markByteRange(9999, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.markByteRange(10, Long.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> bitmap.markByteRange(0, -1));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.clearByteRange(-1, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.nextSetBit(-1));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.nextClearBit(-1));
        assertTrue(bitmap.isEmpty());
    }

    @Test
    void shouldMergeWithOr()
    {
        final Random random = TestSupport.random("DirtyBitmapTest.shouldMergeWithOr", 2L);
        for (int round = 0; round < 100; round++)
        {
            final BitmapGeometry geometry = TestSupport.randomGeometry(random, 500);
            final DirtyBitmap a = new DirtyBitmap(geometry);
            final DirtyBitmap b = new DirtyBitmap(geometry);
            TestSupport.fill(random, a, random.nextInt(7));
            TestSupport.fill(random, b, random.nextInt(7));
            final BitSet expected = TestSupport.toBitSet(a);
            final BitSet bBits = TestSupport.toBitSet(b);
            final BitSet added = (BitSet)bBits.clone();
            added.andNot(expected);
            expected.or(bBits);

            assertEquals(added.cardinality(), a.or(b));
            assertBits(expected, a);
            assertBits(bBits, b);
        }

        final DirtyBitmap a = new DirtyBitmap(new BitmapGeometry(10_000, 4096));
        assertThrows(IllegalArgumentException.class, () -> a.or(new DirtyBitmap(new BitmapGeometry(10_001, 4096))));
        assertThrows(IllegalArgumentException.class, () -> a.or(new DirtyBitmap(new BitmapGeometry(10_000, 8192))));
    }

    @Test
    void shouldCopyWordsToAndFromArraysAndBuffers()
    {
        final Random random = TestSupport.random("DirtyBitmapTest.shouldCopyWordsToAndFromArraysAndBuffers", 3L);
        for (int round = 0; round < 50; round++)
        {
            final BitmapGeometry geometry = TestSupport.randomGeometry(random, 1000);
            final DirtyBitmap source = new DirtyBitmap(geometry);
            TestSupport.fill(random, source, random.nextInt(7));
            final BitSet expected = TestSupport.toBitSet(source);
            final int words = source.wordCount();

            final long[] array = new long[words + 2];
            source.copyTo(array, 1);
            final DirtyBitmap fromArray = new DirtyBitmap(geometry);
            fromArray.setAll();
            fromArray.copyFrom(array, 1);
            assertBits(expected, fromArray);

            final UnsafeBuffer buffer = new UnsafeBuffer(new byte[words * 8 + 3]);
            source.copyTo(0, words, buffer, 3);
            final DirtyBitmap fromBuffer = new DirtyBitmap(geometry);
            TestSupport.fill(random, fromBuffer, random.nextInt(7));
            fromBuffer.copyFrom(0, words, buffer, 3);
            assertBits(expected, fromBuffer);

            // Piecewise copies keep the cardinality right.
            final DirtyBitmap pieces = new DirtyBitmap(geometry);
            TestSupport.fill(random, pieces, random.nextInt(7));
            final int split = random.nextInt(words + 1);
            pieces.copyFrom(split, words - split, buffer, 3 + split * 8);
            pieces.copyFrom(0, split, buffer, 3);
            assertBits(expected, pieces);
        }
    }

    @Test
    void shouldRejectRawWordsWithBitsPastTheEnd()
    {
        final DirtyBitmap bitmap = new DirtyBitmap(new BitmapGeometry(70L * 4096, 4096));
        bitmap.set(3);
        final long[] words = { 1, 1L << 6 };
        assertThrows(IllegalArgumentException.class, () -> bitmap.copyFrom(words, 0));
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[16]);
        buffer.putLong(8, 1L << 6, java.nio.ByteOrder.LITTLE_ENDIAN);
        assertThrows(IllegalArgumentException.class, () -> bitmap.copyFrom(0, 2, buffer, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.copyFrom(new long[1], 0));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.copyFrom(1, 2, buffer, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> bitmap.copyTo(0, 2, buffer, 1));
        assertEquals(1, bitmap.cardinality());
        assertEquals(8, bitmap.word(0));

        final long[] out = new long[2];
        bitmap.copyTo(out, 0);
        assertArrayEquals(new long[]{ 8, 0 }, out);
    }

    private static void applyRandomOperation(
        final Random random,
        final BitmapGeometry geometry,
        final DirtyBitmap bitmap,
        final BitSet model,
        final String context)
    {
        final int bits = (int)geometry.bitCount();
        final long volume = geometry.volumeSizeBytes();
        final int op = random.nextInt(8);
        switch (op)
        {
            case 0:
            {
                final int bit = random.nextInt(bits);
                assertEquals(!model.get(bit), bitmap.set(bit), context);
                model.set(bit);
                break;
            }
            case 1:
            {
                final int bit = random.nextInt(bits);
                assertEquals(model.get(bit), bitmap.clear(bit), context);
                model.clear(bit);
                break;
            }
            case 2:
            case 3:
            {
                final int from = random.nextInt(bits + 1);
                final int to = from + random.nextInt(bits - from + 1);
                final BitSet before = (BitSet)model.clone();
                if (op == 2)
                {
                    model.set(from, to);
                    assertEquals(model.cardinality() - before.cardinality(), bitmap.setRange(from, to), context);
                }
                else
                {
                    model.clear(from, to);
                    assertEquals(before.cardinality() - model.cardinality(), bitmap.clearRange(from, to), context);
                }
                break;
            }
            case 4:
            case 5:
            case 6:
            {
                final long offset = randomOffset(random, geometry);
                final long length = random.nextInt(4) == 0 ? volume - offset :
                    Math.min(volume - offset, random.nextInt(3 * geometry.blockSize()));
                final int before = model.cardinality();
                if (op == 6)
                {
                    modelClearBytes(model, geometry, offset, length);
                    assertEquals(before - model.cardinality(), bitmap.clearByteRange(offset, length), context);
                }
                else
                {
                    modelMarkBytes(model, geometry, offset, length);
                    assertEquals(model.cardinality() - before, bitmap.markByteRange(offset, length), context);
                }
                break;
            }
            default:
            {
                final int which = random.nextInt(20);
                if (which == 0)
                {
                    bitmap.setAll();
                    model.set(0, bits);
                }
                else if (which < 3)
                {
                    bitmap.clearAll();
                    model.clear();
                }
            }
        }
    }

    private static long randomOffset(final Random random, final BitmapGeometry geometry)
    {
        final long volume = geometry.volumeSizeBytes();
        // Favour block boundaries and their neighbours, where off-by-one errors live.
        switch (random.nextInt(3))
        {
            case 0:
                return Math.min(volume, random.nextInt((int)geometry.bitCount() + 1) * (long)geometry.blockSize());
            case 1:
                final long boundary = random.nextInt((int)geometry.bitCount() + 1) * (long)geometry.blockSize();
                return Math.max(0, Math.min(volume, boundary + random.nextInt(3) - 1));
            default:
                return (long)(random.nextDouble() * (volume + 1));
        }
    }

    private static void modelMarkBytes(
        final BitSet model, final BitmapGeometry geometry, final long offset, final long length)
    {
        for (int block = 0; block < geometry.bitCount(); block++)
        {
            final long start = (long)block * geometry.blockSize();
            final long end = Math.min(start + geometry.blockSize(), geometry.volumeSizeBytes());
            if (start < offset + length && offset < end)
            {
                model.set(block);
            }
        }
    }

    private static void modelClearBytes(
        final BitSet model, final BitmapGeometry geometry, final long offset, final long length)
    {
        for (int block = 0; block < geometry.bitCount(); block++)
        {
            final long start = (long)block * geometry.blockSize();
            final long end = Math.min(start + geometry.blockSize(), geometry.volumeSizeBytes());
            if (offset <= start && end <= offset + length)
            {
                model.clear(block);
            }
        }
    }

    static void assertFullyEqual(final BitSet model, final DirtyBitmap bitmap, final String context)
    {
        final int bits = (int)bitmap.bitCount();
        assertBits(model, bitmap);
        for (int i = 0; i < bits; i++)
        {
            assertEquals(model.get(i), bitmap.test(i), context + " bit " + i);
            assertEquals(model.nextSetBit(i), bitmap.nextSetBit(i), context + " nextSetBit " + i);
            assertEquals(model.nextClearBit(i), bitmap.nextClearBit(i), context + " nextClearBit " + i);
        }
        assertEquals(-1, bitmap.nextSetBit(bits), context);
        assertEquals(bits, bitmap.nextClearBit(bits), context);
        assertEquals(modelOutOfSyncBytes(model, bitmap.geometry()), bitmap.outOfSyncBytes(), context);
        assertEquals(model.isEmpty(), bitmap.isEmpty(), context);

        final DirtyRunCursor cursor = new DirtyRunCursor(bitmap);
        int expectedStart = model.nextSetBit(0);
        while (expectedStart >= 0)
        {
            final int expectedEnd = model.nextClearBit(expectedStart);
            assertTrue(cursor.next(), context + " run at " + expectedStart);
            assertEquals(expectedStart, cursor.runStartBit(), context);
            assertEquals(expectedEnd - expectedStart, cursor.runLengthBits(), context);
            expectedStart = model.nextSetBit(expectedEnd);
        }
        assertFalse(cursor.next(), context + " extra run");
    }
}
