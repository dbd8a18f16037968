package io.mirra.bitmap;

import java.util.SplittableRandom;

/**
 * Fills a {@link DirtyBitmap} with a reproducible pattern of independent random dirty bits, for benchmarks.
 * <p>
 * Every bit is dirty with the given probability, independently of its neighbours (as after scattered small random
 * writes at the bitmap's block size). This is the worst case for run iteration and run-length coding: at 50% the
 * mean run is two bits long, at 1% almost every run is a single bit. Clustered (sequential-write) patterns produce
 * fewer, longer runs and are cheaper.
 */
public final class RandomDirtyPattern
{
    private RandomDirtyPattern()
    {
    }

    /**
     * Clears the bitmap, then sets each bit with probability {@code dirtyPercent / 100}.
     *
     * @param bitmap       bitmap to fill.
     * @param dirtyPercent expected share of dirty bits, in percent, in (0, 100].
     * @param seed         random seed; the same seed gives the same pattern.
     */
    public static void fill(final DirtyBitmap bitmap, final int dirtyPercent, final long seed)
    {
        if (dirtyPercent <= 0 || dirtyPercent > 100)
        {
            throw new IllegalArgumentException("dirtyPercent must be in (0, 100]: " + dirtyPercent);
        }
        bitmap.clearAll();
        final SplittableRandom random = new SplittableRandom(seed);
        final long bitCount = bitmap.bitCount();
        if (dirtyPercent == 50)
        {
            // One random word per 64 bits: exactly Bernoulli(1/2) per bit.
            for (long bit = 0; bit < bitCount; bit += 64)
            {
                long word = random.nextLong();
                while (word != 0)
                {
                    final long candidate = bit + Long.numberOfTrailingZeros(word);
                    if (candidate < bitCount)
                    {
                        bitmap.set(candidate);
                    }
                    word &= word - 1;
                }
            }
            return;
        }

        // Geometric gaps between dirty bits: Bernoulli(p) per bit without drawing a number per bit.
        final double p = dirtyPercent / 100.0;
        final double logOneMinusP = Math.log1p(-p);
        long bit = -1;
        while (true)
        {
            final long gap = p >= 1.0 ? 0 : (long)Math.floor(Math.log(1.0 - random.nextDouble()) / logOneMinusP);
            bit += gap + 1;
            if (bit < 0 || bit >= bitCount)
            {
                return;
            }
            bitmap.set(bit);
        }
    }

    /**
     * Parses a geometry written as {@code <volume>/<block>} with binary units, e.g. {@code 1TiB/1MiB} or
     * {@code 64GiB/4KiB}.
     *
     * @param spec the geometry.
     * @return the geometry.
     */
    public static BitmapGeometry parseGeometry(final String spec)
    {
        final int slash = spec.indexOf('/');
        if (slash < 0)
        {
            throw new IllegalArgumentException("expected <volume>/<block>, e.g. 1TiB/1MiB: " + spec);
        }
        return new BitmapGeometry(parseSize(spec.substring(0, slash)),
            Math.toIntExact(parseSize(spec.substring(slash + 1))));
    }

    private static long parseSize(final String size)
    {
        final String[] units = {"KiB", "MiB", "GiB", "TiB"};
        for (int i = 0; i < units.length; i++)
        {
            if (size.endsWith(units[i]))
            {
                return Long.parseLong(size.substring(0, size.length() - 3)) << (10 * (i + 1));
            }
        }
        return Long.parseLong(size);
    }
}
