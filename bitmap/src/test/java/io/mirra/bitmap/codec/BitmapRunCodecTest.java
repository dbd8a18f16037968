package io.mirra.bitmap.codec;

import io.mirra.bitmap.BitmapGeometry;
import io.mirra.bitmap.DirtyBitmap;
import io.mirra.bitmap.TestSupport;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Random;

import static io.mirra.bitmap.TestSupport.assertBits;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class BitmapRunCodecTest
{
    private static final String[] PATTERNS = { "empty", "full", "alternating", "sparse", "dense", "runs", "random" };
    private static final int FUZZ_INPUTS = 5000;

    private final BitmapRunEncoder encoder = new BitmapRunEncoder();
    private final BitmapRunDecoder decoder = new BitmapRunDecoder();

    @Test
    void shouldEncodeHandMadeCasesExactly()
    {
        final DirtyBitmap ten = bitmap(10);
        ten.setRange(3, 5);
        assertArrayEquals(bytes(0x03, 0x02, 0x05), encodeAll(ten));

        final DirtyBitmap full = bitmap(200);
        full.setAll();
        assertArrayEquals(bytes(0x00, 0xC8, 0x01), encodeAll(full));

        assertArrayEquals(bytes(0xAC, 0x02), encodeAll(bitmap(300)));

        final DirtyBitmap last = bitmap(3);
        last.set(0);
        last.set(2);
        assertArrayEquals(bytes(0x00, 0x01, 0x01, 0x01), encodeAll(last));
        assertEquals(4, BitmapRunEncoder.maxEncodedLength(3));
    }

    @Test
    void shouldDecodeHandMadeCaseAndReportStatistics() throws BitmapCodecException
    {
        final DirtyBitmap target = bitmap(10);
        target.set(4);
        final byte[] input = bytes(0x03, 0x02, 0x03, 0x01, 0x01);
        assertEquals(10, decoder.decode(new UnsafeBuffer(input), 0, input.length, target, 0));
        assertEquals(5, decoder.runCount());
        assertEquals(3, decoder.setBits());
        assertEquals(2, decoder.newlySetBits());
        assertBits(bits(3, 4, 8), target);

        // A chunk covering part of the bitmap returns where the next chunk starts.
        final byte[] chunk = bytes(0x00, 0x02);
        assertEquals(7, decoder.decode(new UnsafeBuffer(chunk), 0, chunk.length, target, 5));
        assertBits(bits(3, 4, 5, 6, 8), target);
    }

    @Test
    void shouldRoundTripPatternsInOneChunk() throws BitmapCodecException
    {
        final Random random = TestSupport.random("BitmapRunCodecTest.shouldRoundTripPatternsInOneChunk", 31L);
        for (int round = 0; round < 300; round++)
        {
            final int pattern = round % PATTERNS.length;
            final DirtyBitmap source = new DirtyBitmap(TestSupport.randomGeometry(random, 3000));
            TestSupport.fill(random, source, pattern);
            final String context = "round " + round + " " + PATTERNS[pattern] + " " + source.geometry();

            final int capacity = (int)BitmapRunEncoder.maxEncodedLength(source.bitCount());
            final UnsafeBuffer buffer = new UnsafeBuffer(new byte[capacity + 7]);
            assertEquals(source.bitCount(), encoder.encode(source, 0, buffer, 7, capacity), context);
            final int length = encoder.encodedLength();
            assertTrue(length > 0 && length <= capacity, context);

            final DirtyBitmap target = new DirtyBitmap(source.geometry());
            assertEquals(source.bitCount(), decoder.decode(buffer, 7, length, target, 0), context);
            assertBits(TestSupport.toBitSet(source), target);
            assertEquals(source.cardinality(), decoder.setBits(), context);
        }
    }

    @Test
    void shouldRoundTripInChunksWithTinyBuffersAndMergeWithOr() throws BitmapCodecException
    {
        final Random random =
            TestSupport.random("BitmapRunCodecTest.shouldRoundTripInChunksWithTinyBuffersAndMergeWithOr", 32L);
        for (int round = 0; round < 400; round++)
        {
            final int pattern = round % PATTERNS.length;
            final DirtyBitmap source = new DirtyBitmap(TestSupport.randomGeometry(random, 2000));
            TestSupport.fill(random, source, pattern);
            final DirtyBitmap target = new DirtyBitmap(source.geometry());
            TestSupport.fill(random, target, random.nextInt(PATTERNS.length));
            final BitSet expected = TestSupport.toBitSet(target);
            expected.or(TestSupport.toBitSet(source));
            final int maxLength = random.nextInt(3) == 0 ? 2 + random.nextInt(3) : 2 + random.nextInt(64);
            final String context = "round " + round + " " + PATTERNS[pattern] + " maxLength " + maxLength + " " +
                source.geometry();

            final UnsafeBuffer frame = new UnsafeBuffer(new byte[maxLength]);
            long bit = 0;
            int chunks = 0;
            while (bit < source.bitCount())
            {
                final long next = encoder.encode(source, bit, frame, 0, maxLength);
                assertTrue(next > bit, context + " no progress at " + bit);
                assertTrue(encoder.encodedLength() > 0 && encoder.encodedLength() <= maxLength, context);
                if (next < source.bitCount())
                {
                    // Only the last chunk may be short: a run that does not fit is split to fill the chunk.
                    assertEquals(maxLength, encoder.encodedLength(), context);
                }
                assertEquals(next, decoder.decode(frame, 0, encoder.encodedLength(), target, bit), context);
                bit = next;
                chunks++;
            }
            assertEquals(source.bitCount(), bit, context);
            assertTrue(chunks >= 1, context);
            assertBits(expected, target);
        }
    }

    @Test
    void shouldSplitLongRunsAcrossTwoByteChunks() throws BitmapCodecException
    {
        // 2^20 bits with runs longer than a 2-byte varint can hold (16383), so runs are split over chunks.
        final DirtyBitmap source = new DirtyBitmap(new BitmapGeometry(4096L << 20, 4096));
        source.setRange(0, 100_000);
        source.setRange(300_000, 300_001);
        source.setRange(500_000, 1 << 20);
        final DirtyBitmap target = new DirtyBitmap(source.geometry());
        final UnsafeBuffer frame = new UnsafeBuffer(new byte[2]);
        long bit = 0;
        int chunks = 0;
        while (bit < source.bitCount())
        {
            final long next = encoder.encode(source, bit, frame, 0, 2);
            assertEquals(next, decoder.decode(frame, 0, encoder.encodedLength(), target, bit));
            bit = next;
            chunks++;
        }
        assertBits(TestSupport.toBitSet(source), target);
        assertTrue(chunks > 60, "chunks " + chunks);
    }

    @Test
    void shouldEncodeSubRange() throws BitmapCodecException
    {
        final DirtyBitmap source = bitmap(300);
        source.setRange(10, 20);
        source.setRange(150, 160);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[64]);
        assertEquals(155, encoder.encode(source, 15, 155, buffer, 0, 64));
        assertArrayEquals(bytes(0x00, 0x05, 0x82, 0x01, 0x05), Arrays.copyOf(buffer.byteArray(), 5));
        assertEquals(5, encoder.encodedLength());

        final DirtyBitmap target = bitmap(300);
        assertEquals(155, decoder.decode(buffer, 0, encoder.encodedLength(), target, 15));
        assertBits(bits(15, 16, 17, 18, 19, 150, 151, 152, 153, 154), target);

        assertEquals(40, encoder.encode(source, 40, 40, buffer, 0, 64));
        assertEquals(0, encoder.encodedLength());
    }

    @Test
    void shouldRejectInvalidEncoderArguments()
    {
        final DirtyBitmap source = bitmap(100);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[8]);
        assertThrows(IllegalArgumentException.class, () -> encoder.encode(source, 0, buffer, 0, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> encoder.encode(source, 0, buffer, 4, 5));
        assertThrows(IndexOutOfBoundsException.class, () -> encoder.encode(source, -1, buffer, 0, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> encoder.encode(source, 101, buffer, 0, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> encoder.encode(source, 50, 40, buffer, 0, 8));
    }

    @Test
    void shouldRejectTruncatedVarint()
    {
        assertRejected(100, 0, "truncated varint", 0x80);
        assertRejected(100, 0, "truncated varint", 0x05, 0x81);
        assertRejected(100, 0, "truncated varint", 0x05, 0xFF, 0xFF);
    }

    @Test
    void shouldRejectOverlongAndOverflowingVarints()
    {
        assertRejected(100, 0, "longer than 10 bytes", 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
            0x00);
        assertRejected(100, 0, "longer than 10 bytes", 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0x01);
        assertRejected(100, 0, "overflows 64 bits", 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02);
        // 2^63 fits 10 bytes but not the bitmap.
        assertRejected(100, 0, "exceeds bitmap", 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01);
        assertRejected(100, 0, "non-minimal varint", 0x85, 0x00);
        assertRejected(100, 0, "non-minimal varint", 0x01, 0x80, 0x00);
    }

    @Test
    void shouldRejectRunPastTheEnd()
    {
        assertRejected(100, 0, "exceeds bitmap", 0x65);
        assertRejected(100, 0, "exceeds bitmap", 0x50, 0x15);
        assertRejected(100, 90, "exceeds bitmap", 0x05, 0x06);
        assertRejected(100, 0, "exceeds bitmap", 0x64, 0x01);
        assertRejected(100, 0, "exceeds bitmap", 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F);
    }

    @Test
    void shouldRejectZeroLengthRunsAfterTheFirst()
    {
        assertRejected(100, 0, "zero-length run #1", 0x01, 0x00, 0x01);
        assertRejected(100, 0, "zero-length run #2", 0x00, 0x01, 0x00);
        assertRejected(100, 0, "zero-length run #1", 0x00, 0x00);
    }

    @Test
    void shouldRejectChunksThatEncodeNoBitsOrStartOutside()
    {
        assertRejected(100, 0, "empty chunk");
        assertRejected(100, 0, "encodes no bits", 0x00);
        assertRejected(100, -1, "outside bitmap", 0x01);
        assertRejected(100, 100, "outside bitmap", 0x01);
        assertRejected(100, Long.MIN_VALUE, "outside bitmap", 0x01);
        final DirtyBitmap target = bitmap(100);
        assertThrows(IndexOutOfBoundsException.class,
            () -> decoder.decode(new UnsafeBuffer(new byte[4]), 2, 3, target, 0));
        assertThrows(IndexOutOfBoundsException.class,
            () -> decoder.decode(new UnsafeBuffer(new byte[4]), 0, -1, target, 0));
    }

    @Test
    void shouldRejectGarbageAndNeverThrowAnythingElse()
    {
        final Random random =
            TestSupport.random("BitmapRunCodecTest.shouldRejectGarbageAndNeverThrowAnythingElse", 33L);
        int accepted = 0;
        int rejected = 0;
        for (int i = 0; i < FUZZ_INPUTS; i++)
        {
            final DirtyBitmap target = new DirtyBitmap(TestSupport.randomGeometry(random, 300));
            TestSupport.fill(random, target, random.nextInt(PATTERNS.length));
            final long bits = target.bitCount();
            final long startBit = random.nextInt(20) == 0 ? random.nextInt(3) - 1 + (random.nextBoolean() ? 0 : bits) :
                random.nextInt((int)bits);
            final byte[] input = fuzzInput(random, target);
            final String context = "input " + i + " " + Arrays.toString(input) + " start " + startBit + " bits " + bits;

            final BitSet before = TestSupport.toBitSet(target);
            final UnsafeBuffer buffer = new UnsafeBuffer(input);
            try
            {
                final long end = decoder.decode(buffer, 0, input.length, target, startBit);
                accepted++;
                assertTrue(end > startBit && end <= bits, context);

                // Accepted input is canonical: the encoder reproduces it byte for byte from the decoded bits.
                final DirtyBitmap fresh = new DirtyBitmap(target.geometry());
                decoder.decode(buffer, 0, input.length, fresh, startBit);
                final UnsafeBuffer reencoded = new UnsafeBuffer(new byte[input.length + 16]);
                assertEquals(end, encoder.encode(fresh, startBit, end, reencoded, 0, input.length + 16), context);
                assertArrayEquals(input, Arrays.copyOf(reencoded.byteArray(), encoder.encodedLength()), context);

                before.or(TestSupport.toBitSet(fresh));
                assertBits(before, target);
            }
            catch (final BitmapCodecException ex)
            {
                rejected++;
                assertTrue(ex.getMessage() != null && !ex.getMessage().isEmpty(), context);
                assertBits(before, target);
            }
        }
        System.out.println("fuzz: accepted=" + accepted + " rejected=" + rejected);
        assertEquals(FUZZ_INPUTS, accepted + rejected);
        assertTrue(accepted > 100 && rejected > 1000, "accepted=" + accepted + " rejected=" + rejected);
    }

    @Test
    void shouldNotAllocateWhileEncodingOrDecoding() throws BitmapCodecException
    {
        final java.lang.management.ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        assertTrue(bean instanceof com.sun.management.ThreadMXBean, "HotSpot thread allocation counters needed");
        final com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean)bean;
        assertTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled(), "thread allocation counters disabled");

        final Random random = TestSupport.random("BitmapRunCodecTest.shouldNotAllocateWhileEncodingOrDecoding", 34L);
        final DirtyBitmap source = new DirtyBitmap(new BitmapGeometry(20_000L * 4096, 4096));
        TestSupport.fill(random, source, 5);
        final DirtyBitmap target = new DirtyBitmap(source.geometry());
        final UnsafeBuffer frame = new UnsafeBuffer(new byte[64]);
        long check = roundTrip(source, target, frame);
        final long before = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 100; i++)
        {
            check += roundTrip(source, target, frame);
        }
        final long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertEquals(101 * source.bitCount(), check);
        assertTrue(allocated < 16 * 1024, "allocated " + allocated + " bytes");
    }

    private long roundTrip(final DirtyBitmap source, final DirtyBitmap target, final UnsafeBuffer frame)
        throws BitmapCodecException
    {
        long bit = 0;
        while (bit < source.bitCount())
        {
            final long next = encoder.encode(source, bit, frame, 0, frame.capacity());
            bit = decoder.decode(frame, 0, encoder.encodedLength(), target, bit);
            if (bit != next)
            {
                throw new AssertionError("decoder ended at " + bit + ", encoder at " + next);
            }
        }
        return bit;
    }

    private byte[] fuzzInput(final Random random, final DirtyBitmap target)
    {
        switch (random.nextInt(4))
        {
            case 0:
            {
                // Uniform random bytes.
                final byte[] input = new byte[random.nextInt(24)];
                random.nextBytes(input);
                return input;
            }
            case 1:
            {
                // Mostly small single-byte runs, sometimes a continuation byte: many of these are valid.
                final byte[] input = new byte[random.nextInt(12)];
                for (int i = 0; i < input.length; i++)
                {
                    input[i] = (byte)(random.nextInt(10) == 0 ? 0x80 | random.nextInt(128) : random.nextInt(40));
                }
                return input;
            }
            default:
            {
                // A valid encoding of a random bitmap, then mutated: flip, truncate, extend or left intact.
                final DirtyBitmap other = new DirtyBitmap(target.geometry());
                TestSupport.fill(random, other, random.nextInt(PATTERNS.length));
                final UnsafeBuffer buffer = new UnsafeBuffer(new byte[64]);
                encoder.encode(other, 0, buffer, 0, buffer.capacity());
                byte[] input = Arrays.copyOf(buffer.byteArray(), encoder.encodedLength());
                switch (random.nextInt(4))
                {
                    case 0:
                        if (input.length > 0)
                        {
                            input[random.nextInt(input.length)] ^= (byte)(1 << random.nextInt(8));
                        }
                        break;
                    case 1:
                        input = Arrays.copyOf(input, random.nextInt(input.length + 1));
                        break;
                    case 2:
                        input = Arrays.copyOf(input, input.length + 1 + random.nextInt(3));
                        for (int i = input.length - 1; i >= 0 && input[i] == 0; i--)
                        {
                            input[i] = (byte)random.nextInt(256);
                        }
                        break;
                    default:
                        break;
                }
                return input;
            }
        }
    }

    private void assertRejected(final long bitCount, final long startBit, final String message, final int... input)
    {
        final DirtyBitmap target = bitmap(bitCount);
        target.set(bitCount - 1);
        final byte[] bytes = bytes(input);
        final BitmapCodecException ex = assertThrows(BitmapCodecException.class,
            () -> decoder.decode(new UnsafeBuffer(bytes), 0, bytes.length, target, startBit));
        assertTrue(ex.getMessage().contains(message), ex.getMessage());
        assertBits(bits((int)bitCount - 1), target);
    }

    private byte[] encodeAll(final DirtyBitmap bitmap)
    {
        final int capacity = (int)BitmapRunEncoder.maxEncodedLength(bitmap.bitCount());
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[capacity]);
        assertEquals(bitmap.bitCount(), encoder.encode(bitmap, 0, buffer, 0, buffer.capacity()));
        return Arrays.copyOf(buffer.byteArray(), encoder.encodedLength());
    }

    private static DirtyBitmap bitmap(final long bitCount)
    {
        return new DirtyBitmap(new BitmapGeometry(bitCount * 4096, 4096));
    }

    private static byte[] bytes(final int... values)
    {
        final byte[] bytes = new byte[values.length];
        for (int i = 0; i < values.length; i++)
        {
            bytes[i] = (byte)values[i];
        }
        return bytes;
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
