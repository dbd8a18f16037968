package io.mirra.test;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;

import org.junit.jupiter.api.Assertions;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * How the guided fuzz tests read their input, and how seed files are written in that layout.
 * <p>
 * Jazzer's {@link FuzzedDataProvider} takes integers from the <em>end</em> of the input and the remaining bytes from
 * the front. The fuzz tests first read a few small integers (how the stream is split into reads, and per test a
 * few choices), then take the rest as the byte stream. A seed is therefore the stream followed by those integers,
 * written in the order {@code FuzzedDataProvider} reads them back: the first integer read is the last bytes of the
 * input, most significant byte last ({@code consumeInt(min, max)} takes as many bytes as {@code max - min} needs and
 * returns the raw value unchanged when it is already within the range).
 */
public final class FuzzInput
{
    /** Most explicit read sizes in an input; they repeat in a cycle, none means one read for the whole stream. */
    public static final int MAX_CUTS = 16;
    /** Largest explicit read size. */
    public static final int MAX_CUT = 4096;

    private FuzzInput()
    {
    }

    /**
     * Read the split of the stream into reads: a count, then that many sizes.
     *
     * @param data the fuzzer's input.
     * @return the read sizes, cycled over the stream; empty for a single read.
     */
    public static int[] readCuts(final FuzzedDataProvider data)
    {
        final int[] cuts = new int[data.consumeInt(0, MAX_CUTS)];
        for (int i = 0; i < cuts.length; i++)
        {
            cuts[i] = data.consumeInt(1, MAX_CUT);
        }
        return cuts;
    }

    /**
     * The reads a stream is split into.
     *
     * @param streamLength bytes in the stream.
     * @param cuts         sizes cycled over the stream, or none for one read.
     * @return the length of each read, in order.
     */
    public static List<Integer> reads(final int streamLength, final int[] cuts)
    {
        final List<Integer> reads = new ArrayList<>();
        int at = 0;
        for (int i = 0; at < streamLength; i++)
        {
            final int length = cuts.length == 0 ? streamLength : Math.min(cuts[i % cuts.length], streamLength - at);
            reads.add(length);
            at += length;
        }
        return reads;
    }

    /** Writes a seed: integers in the order the fuzz test reads them, then the stream. */
    public static final class SeedWriter
    {
        private final ByteArrayOutputStream readOrder = new ByteArrayOutputStream();

        /**
         * @param value what {@code consumeInt(min, max)} must return.
         * @param min   as the test passes it.
         * @param max   as the test passes it.
         * @return this.
         */
        public SeedWriter integer(final int value, final int min, final int max)
        {
            if (value < min || value > max)
            {
                throw new IllegalArgumentException(value + " not in " + min + ".." + max);
            }
            final long range = (long)max - min;
            int bytes = 0;
            while (bytes < Integer.BYTES && (range >>> (8 * bytes)) > 0)
            {
                bytes++;
            }
            for (int i = bytes - 1; i >= 0; i--)
            {
                readOrder.write((value >>> (8 * i)) & 0xFF); // read first: the most significant byte
            }
            return this;
        }

        /**
         * @param cuts read sizes as {@link #readCuts} returns them.
         * @return this.
         */
        public SeedWriter cuts(final int... cuts)
        {
            integer(cuts.length, 0, MAX_CUTS);
            for (final int cut : cuts)
            {
                integer(cut, 1, MAX_CUT);
            }
            return this;
        }

        /**
         * @param stream the bytes to decode.
         * @return the seed file's content.
         */
        public byte[] stream(final byte[] stream)
        {
            final byte[] integers = readOrder.toByteArray();
            final byte[] seed = Arrays.copyOf(stream, stream.length + integers.length);
            for (int i = 0; i < integers.length; i++)
            {
                seed[seed.length - 1 - i] = integers[i]; // read from the end backwards
            }
            return seed;
        }
    }

    /**
     * Compare a fuzz test's seeds with the committed files under {@code src/test/resources}, or (re)write those files
     * with {@code -Dmirra.fuzz.writeSeeds=true}.
     */
    public static void checkSeeds(final Class<?> fuzzTest, final String method, final Map<String, byte[]> seeds)
    {
        final String dir = fuzzTest.getSimpleName() + "Inputs/" + method + "/";
        if (Boolean.getBoolean("mirra.fuzz.writeSeeds"))
        {
            final Path path = Path.of("src/test/resources", fuzzTest.getPackageName().replace('.', '/'), dir);
            try
            {
                Files.createDirectories(path);
                for (final Map.Entry<String, byte[]> seed : seeds.entrySet())
                {
                    Files.write(path.resolve(seed.getKey()), seed.getValue());
                }
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
            System.out.println("wrote " + seeds.size() + " seeds to " + path.toAbsolutePath());
            return;
        }
        for (final Map.Entry<String, byte[]> seed : seeds.entrySet())
        {
            try (InputStream in = fuzzTest.getResourceAsStream(dir + seed.getKey()))
            {
                Assertions.assertNotNull(in, "seed " + dir + seed.getKey() + " is missing: regenerate the seeds (see the class " +
                    "comment)");
                Assertions.assertArrayEquals(seed.getValue(), in.readAllBytes(), "seed " + dir + seed.getKey() + " is stale: " +
                    "regenerate the seeds (see the class comment)");
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
        }
    }
}
