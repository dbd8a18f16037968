package io.mirra.bitmap.codec;

import io.mirra.bitmap.BitmapGeometry;
import io.mirra.bitmap.DirtyBitmap;
import io.mirra.bitmap.RandomDirtyPattern;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * {@link BitmapRunEncoder} and {@link BitmapRunDecoder} on a whole bitmap, sent as a sequence of 64 KiB frames (the
 * bitmap exchange when a peer reconnects).
 * <p>
 * The bitmap is a 64 GiB volume at 4 KiB blocks (2^24 bits, 2 MiB raw) with 1% or 50% of its bits dirty,
 * independently at random ({@link RandomDirtyPattern}): the worst case for run-length coding. One operation encodes
 * (or decodes) the whole bitmap. Decoding merges into a bitmap that already holds the same bits, so every chunk is
 * fully validated and applied but the result does not change between operations.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class BitmapRunCodecBenchmark
{
    /** Payload bytes per frame. */
    private static final int FRAME_LENGTH = 64 * 1024;

    /** Share of dirty bits, in percent. */
    @Param({"1", "50"})
    public int dirtyPercent;

    private final BitmapRunEncoder encoder = new BitmapRunEncoder();
    private final BitmapRunDecoder decoder = new BitmapRunDecoder();
    private final UnsafeBuffer frame = new UnsafeBuffer(ByteBuffer.allocateDirect(FRAME_LENGTH));
    private DirtyBitmap bitmap;
    private DirtyBitmap target;
    private UnsafeBuffer encoded;
    private long[] chunkStartBits;
    private int[] chunkOffsets;
    private int[] chunkLengths;
    private int chunkCount;

    /**
     * Builds the bitmap and its encoded frames, and checks that they decode to the same bits.
     *
     * @throws BitmapCodecException if the round trip fails.
     */
    @Setup(Level.Trial)
    public void setUp() throws BitmapCodecException
    {
        bitmap = new DirtyBitmap(new BitmapGeometry(64L << 30, 4096));
        RandomDirtyPattern.fill(bitmap, dirtyPercent, 42);
        target = new DirtyBitmap(bitmap.geometry());

        // Worst case: one byte per bit, plus a leading empty run and a split run per frame.
        final long frames = BitmapRunEncoder.maxEncodedLength(bitmap.bitCount()) / (FRAME_LENGTH / 2) + 2;
        encoded = new UnsafeBuffer(ByteBuffer.allocateDirect(Math.toIntExact(
            BitmapRunEncoder.maxEncodedLength(bitmap.bitCount()) + frames * (1 + BitmapRunDecoder.MAX_VARINT_LENGTH))));
        chunkStartBits = new long[16];
        chunkOffsets = new int[16];
        chunkLengths = new int[16];
        int offset = 0;
        long bit = 0;
        while (bit < bitmap.bitCount())
        {
            final long nextBit = encoder.encode(bitmap, bit, encoded, offset,
                Math.min(FRAME_LENGTH, encoded.capacity() - offset));
            if (chunkCount == chunkOffsets.length)
            {
                chunkStartBits = Arrays.copyOf(chunkStartBits, chunkCount * 2);
                chunkOffsets = Arrays.copyOf(chunkOffsets, chunkCount * 2);
                chunkLengths = Arrays.copyOf(chunkLengths, chunkCount * 2);
            }
            chunkStartBits[chunkCount] = bit;
            chunkOffsets[chunkCount] = offset;
            chunkLengths[chunkCount] = encoder.encodedLength();
            chunkCount++;
            offset += encoder.encodedLength();
            bit = nextBit;
        }

        decode();
        if (target.cardinality() != bitmap.cardinality() || !Arrays.equals(words(target), words(bitmap)))
        {
            throw new IllegalStateException("round trip changed the bitmap");
        }
        System.out.println("# " + bitmap + ": " + chunkCount + " frames, " + offset + " bytes encoded");
    }

    /**
     * Encodes the whole bitmap, frame by frame, into one reused frame buffer.
     *
     * @return bytes encoded.
     */
    @Benchmark
    public long encode()
    {
        final DirtyBitmap source = bitmap;
        final long bitCount = source.bitCount();
        long bytes = 0;
        long bit = 0;
        while (bit < bitCount)
        {
            bit = encoder.encode(source, bit, frame, 0, FRAME_LENGTH);
            bytes += encoder.encodedLength();
        }
        return bytes;
    }

    /**
     * Decodes every frame of the whole bitmap and merges it into the target bitmap.
     *
     * @return bits the last frame set.
     * @throws BitmapCodecException never: the frames are valid.
     */
    @Benchmark
    public long decode() throws BitmapCodecException
    {
        final DirtyBitmap into = target;
        long setBits = 0;
        for (int i = 0; i < chunkCount; i++)
        {
            decoder.decode(encoded, chunkOffsets[i], chunkLengths[i], into, chunkStartBits[i]);
            setBits += decoder.setBits();
        }
        return setBits;
    }

    private static long[] words(final DirtyBitmap bitmap)
    {
        final long[] words = new long[bitmap.wordCount()];
        bitmap.copyTo(words, 0);
        return words;
    }
}
