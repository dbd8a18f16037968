package io.mirra.bitmap;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * {@link DirtyBitmap} and {@link DirtyRunCursor} on the hot paths of a disconnected peer: marking writes, flipping
 * single bits, and scanning the dirty runs for a resync.
 * <p>
 * Geometries: a 1 TiB volume at 1 MiB blocks (2^20 bits, 128 KiB of bitmap) and a 64 GiB volume at 4 KiB blocks
 * (2^24 bits, 2 MiB). Densities: 1% and 50% of the bits dirty, independently at random
 * ({@link RandomDirtyPattern}), the worst case for run iteration. Single-bit set and clear touch one word whatever
 * the density, so {@link #setThenClearRandomBit(SingleBits)} runs at 50% only (a cut of the quick run's time).
 * <p>
 * The bitmap is restored to its initial pattern before every iteration. {@code setThenClearRandomBit} leaves it
 * unchanged; {@link #markByteRange(Bitmap)} only adds dirty bits, so within an iteration the marked ranges (a cycle
 * of 2^16 random writes) become dirty and later passes re-mark dirty blocks, as for a hot write set.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class DirtyBitmapBenchmark
{
    private static final int RANDOM_COUNT = 1 << 16;
    private static final int RANDOM_MASK = RANDOM_COUNT - 1;
    /** NBD write sizes used by {@link #markByteRange(Bitmap)}: 4 KiB << [0, 8], i.e. 4 KiB to 1 MiB. */
    private static final int MAX_WRITE_SHIFT = 8;

    /**
     * A bitmap at one geometry, restored before every iteration, with random clear bits and writes.
     */
    @State(Scope.Thread)
    public abstract static class BitmapState
    {
        /** Volume size / bitmap block size. */
        @Param({"1TiB/1MiB", "64GiB/4KiB"})
        public String geometry;

        DirtyBitmap bitmap;
        DirtyRunCursor cursor;
        final long[] clearBits = new long[RANDOM_COUNT];
        final long[] writeOffsets = new long[RANDOM_COUNT];
        final long[] writeLengths = new long[RANDOM_COUNT];
        int next;
        private long[] initialWords;

        /**
         * @return share of dirty bits, in percent.
         */
        abstract int dirtyPercent();

        /**
         * Builds the bitmap, its initial pattern, and the random bits and writes.
         */
        @Setup(Level.Trial)
        public void setUp()
        {
            final BitmapGeometry bitmapGeometry = RandomDirtyPattern.parseGeometry(geometry);
            bitmap = new DirtyBitmap(bitmapGeometry);
            RandomDirtyPattern.fill(bitmap, dirtyPercent(), 42);
            initialWords = new long[bitmap.wordCount()];
            bitmap.copyTo(initialWords, 0);
            cursor = new DirtyRunCursor(bitmap);

            final SplittableRandom random = new SplittableRandom(7);
            for (int i = 0; i < RANDOM_COUNT; )
            {
                final long bit = random.nextLong(bitmap.bitCount());
                if (!bitmap.test(bit))
                {
                    clearBits[i++] = bit;
                }
            }
            final long volumePages = bitmapGeometry.volumeSizeBytes() >>> 12;
            for (int i = 0; i < RANDOM_COUNT; i++)
            {
                final long length = 4096L << random.nextInt(MAX_WRITE_SHIFT + 1);
                writeLengths[i] = length;
                writeOffsets[i] = random.nextLong(volumePages - (length >>> 12) + 1) << 12;
            }
        }

        /**
         * Puts the initial pattern back.
         */
        @Setup(Level.Iteration)
        public void restore()
        {
            bitmap.copyFrom(initialWords, 0);
        }
    }

    /**
     * The bitmap at 1% and 50% density.
     */
    @State(Scope.Thread)
    public static class Bitmap extends BitmapState
    {
        /** Share of dirty bits, in percent. */
        @Param({"1", "50"})
        public int dirtyPercent;

        @Override
        int dirtyPercent()
        {
            return dirtyPercent;
        }
    }

    /**
     * The bitmap at 50% density, for single-bit operations.
     */
    @State(Scope.Thread)
    public static class SingleBits extends BitmapState
    {
        @Override
        int dirtyPercent()
        {
            return 50;
        }
    }

    /**
     * Sets a random clear bit and clears it again: one {@code set} and one {@code clear}, both changing a bit.
     *
     * @param state the bitmap.
     * @return whether the clear found the bit set (always true).
     */
    @Benchmark
    public boolean setThenClearRandomBit(final SingleBits state)
    {
        final long bit = state.clearBits[state.next++ & RANDOM_MASK];
        final DirtyBitmap bitmap = state.bitmap;
        bitmap.set(bit);
        return bitmap.clear(bit);
    }

    /**
     * Marks a random 4 KiB-aligned write of 4 KiB to 1 MiB.
     *
     * @param state the bitmap.
     * @return bits newly set.
     */
    @Benchmark
    public long markByteRange(final Bitmap state)
    {
        final int i = state.next++ & RANDOM_MASK;
        return state.bitmap.markByteRange(state.writeOffsets[i], state.writeLengths[i]);
    }

    /**
     * Walks every dirty run of the bitmap, as a resync pass does.
     *
     * @param state the bitmap.
     * @return dirty bytes found.
     */
    @Benchmark
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public long iterateDirtyRuns(final Bitmap state)
    {
        final DirtyRunCursor runs = state.cursor.reset(0);
        long bytes = 0;
        while (runs.next())
        {
            bytes += runs.runLengthBytes();
        }
        return bytes;
    }
}
