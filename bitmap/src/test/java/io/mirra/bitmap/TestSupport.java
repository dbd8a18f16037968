package io.mirra.bitmap;

import java.util.BitSet;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Seeds, random geometries and the {@link BitSet} model shared by the bitmap tests.
 */
public final class TestSupport
{
    /** System property overriding every random test's seed, e.g. {@code -Dmirra.test.seed=42}. */
    public static final String SEED_PROPERTY = "mirra.test.seed";

    private TestSupport()
    {
    }

    /**
     * @param testName    printed with the seed, to reproduce a failure.
     * @param defaultSeed seed used unless {@link #SEED_PROPERTY} is set.
     * @return a random generator with that seed.
     */
    public static Random random(final String testName, final long defaultSeed)
    {
        final long seed = Long.getLong(SEED_PROPERTY, defaultSeed);
        System.out.println(testName + " seed=" + seed + " (reproduce with -D" + SEED_PROPERTY + "=" + seed + ")");
        return new Random(seed);
    }

    /**
     * A geometry with a random block size and up to {@code maxBits} bits, often with a partial last block.
     *
     * @param random  generator.
     * @param maxBits most bits wanted, at least 1.
     * @return the geometry.
     */
    public static BitmapGeometry randomGeometry(final Random random, final int maxBits)
    {
        final int blockSize = BitmapGeometry.MIN_BLOCK_SIZE << random.nextInt(9);
        final long bits = 1 + random.nextInt(maxBits);
        final long lastBlockBytes = random.nextBoolean() ? blockSize : 1 + random.nextInt(blockSize);
        return new BitmapGeometry((bits - 1) * blockSize + lastBlockBytes, blockSize);
    }

    /**
     * @param random    generator.
     * @param bitmap    bitmap to fill (cleared first).
     * @param pattern   0 empty, 1 full, 2 alternating, 3 sparse, 4 dense, 5 random runs, else uniform random.
     */
    public static void fill(final Random random, final DirtyBitmap bitmap, final int pattern)
    {
        bitmap.clearAll();
        final long bits = bitmap.bitCount();
        switch (pattern)
        {
            case 0:
                break;
            case 1:
                bitmap.setAll();
                break;
            case 2:
                for (long i = random.nextInt(2); i < bits; i += 2)
                {
                    bitmap.set(i);
                }
                break;
            case 3:
                for (long i = 0; i < bits; i++)
                {
                    if (random.nextInt(100) == 0)
                    {
                        bitmap.set(i);
                    }
                }
                break;
            case 4:
                bitmap.setAll();
                for (long i = 0; i < bits; i++)
                {
                    if (random.nextInt(50) == 0)
                    {
                        bitmap.clear(i);
                    }
                }
                break;
            case 5:
                long position = 0;
                boolean set = random.nextBoolean();
                while (position < bits)
                {
                    final long run = Math.min(bits - position, 1 + random.nextInt(random.nextBoolean() ? 8 : 300));
                    if (set)
                    {
                        bitmap.setRange(position, position + run);
                    }
                    position += run;
                    set = !set;
                }
                break;
            default:
                for (long i = 0; i < bits; i++)
                {
                    if (random.nextBoolean())
                    {
                        bitmap.set(i);
                    }
                }
        }
    }

    /**
     * @param bitmap a small bitmap.
     * @return its bits as a model.
     */
    public static BitSet toBitSet(final DirtyBitmap bitmap)
    {
        final BitSet bits = new BitSet();
        for (long i = bitmap.nextSetBit(0); i >= 0; i = bitmap.nextSetBit(i + 1))
        {
            bits.set((int)i);
        }
        return bits;
    }

    /**
     * Asserts equal bits, cardinality and raw words (so that no bit is set past the bit count).
     *
     * @param expected model.
     * @param actual   bitmap under test.
     */
    public static void assertBits(final BitSet expected, final DirtyBitmap actual)
    {
        assertEquals(expected.cardinality(), actual.cardinality(), "cardinality");
        final long[] expectedWords = expected.toLongArray();
        for (int i = 0; i < actual.wordCount(); i++)
        {
            final long word = i < expectedWords.length ? expectedWords[i] : 0;
            assertEquals(word, actual.word(i), "word " + i);
        }
        assertEquals(true, expected.length() <= actual.bitCount(), "model has bits past the end");
    }

    /**
     * Out-of-sync bytes computed bit by bit from the model, clipping the last block to the volume.
     *
     * @param model    set bits.
     * @param geometry geometry.
     * @return dirty bytes.
     */
    public static long modelOutOfSyncBytes(final BitSet model, final BitmapGeometry geometry)
    {
        long bytes = 0;
        for (int i = model.nextSetBit(0); i >= 0; i = model.nextSetBit(i + 1))
        {
            final long start = (long)i * geometry.blockSize();
            bytes += Math.min(start + geometry.blockSize(), geometry.volumeSizeBytes()) - start;
        }
        return bytes;
    }
}
