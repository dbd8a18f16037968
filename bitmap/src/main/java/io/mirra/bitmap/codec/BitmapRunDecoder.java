package io.mirra.bitmap.codec;

import io.mirra.bitmap.DirtyBitmap;
import org.agrona.DirectBuffer;

/**
 * Decodes one chunk written by {@link BitmapRunEncoder} and merges it into a {@link DirtyBitmap}: set runs are OR-ed
 * in, clear runs change nothing, so bits already dirty stay dirty.
 * <p>
 * Input comes from the network and is validated before any bit is changed, so a rejected chunk leaves the bitmap
 * untouched. It is rejected with {@link BitmapCodecException} if it is empty, starts outside the bitmap, has a
 * truncated varint, a varint longer than {@value #MAX_VARINT_LENGTH} bytes or beyond 64 bits, a non-minimal varint,
 * a zero-length run other than a leading clear run, a run past the end of the bitmap, or encodes no bits. Nothing is
 * allocated, whatever the values announced in the input.
 * <p>
 * <b>Threading:</b> not thread-safe (it keeps statistics of the last chunk); use one instance per thread, on the
 * thread that owns the bitmap.
 */
public final class BitmapRunDecoder
{
    /** Longest varint accepted: the length of a 64-bit value. */
    public static final int MAX_VARINT_LENGTH = Leb128.MAX_LENGTH;

    private int chunkOffset;
    private int index;
    private long value;
    private int runCount;
    private long setBits;
    private long newlySetBits;

    /**
     * Validates one chunk and merges it into {@code bitmap}.
     *
     * @param buffer   input buffer.
     * @param offset   where the chunk starts.
     * @param length   bytes in the chunk.
     * @param bitmap   bitmap to merge the set runs into.
     * @param startBit the bit the chunk starts at, as sent with the chunk.
     * @return one past the last bit the chunk covers: the start bit of the next chunk, or
     * {@link DirtyBitmap#bitCount()} after the last one.
     * @throws BitmapCodecException      if the chunk or its start bit is malformed; the bitmap is then unchanged.
     * @throws IndexOutOfBoundsException if {@code offset} and {@code length} are not inside the buffer.
     */
    public long decode(
        final DirectBuffer buffer, final int offset, final int length, final DirtyBitmap bitmap, final long startBit)
        throws BitmapCodecException
    {
        if (length < 0)
        {
            throw new IndexOutOfBoundsException("negative length: " + length);
        }
        buffer.boundsCheck(offset, length);
        final long bitCount = bitmap.bitCount();
        if (startBit < 0 || startBit >= bitCount)
        {
            throw new BitmapCodecException("chunk start bit " + startBit + " outside bitmap of " + bitCount + " bits");
        }
        if (length == 0)
        {
            throw new BitmapCodecException("empty chunk at bit " + startBit);
        }

        // Pass 1 validates everything, so that a bad chunk cannot half-apply.
        final int limit = offset + length;
        chunkOffset = offset;
        index = offset;
        long position = startBit;
        int runs = 0;
        while (index < limit)
        {
            final int runOffset = index - offset;
            readVarint(buffer, limit, runs);
            if (value == 0 && runs > 0)
            {
                throw new BitmapCodecException("zero-length run #" + runs + " at byte " + runOffset +
                    " (only a leading clear run may be empty)");
            }
            if (value < 0 || value > bitCount - position)
            {
                throw new BitmapCodecException("run #" + runs + " of " + Long.toUnsignedString(value) +
                    " bits at bit " + position + " (byte " + runOffset + ") exceeds bitmap of " + bitCount + " bits");
            }
            position += value;
            runs++;
        }
        if (position == startBit)
        {
            throw new BitmapCodecException("chunk at bit " + startBit + " encodes no bits");
        }

        // Pass 2 applies: cannot fail now.
        index = offset;
        long bit = startBit;
        long set = 0;
        long newlySet = 0;
        boolean setRun = false;
        for (int run = 0; run < runs; run++)
        {
            readVarint(buffer, limit, run);
            if (setRun)
            {
                newlySet += bitmap.setRange(bit, bit + value);
                set += value;
            }
            bit += value;
            setRun = !setRun;
        }

        runCount = runs;
        setBits = set;
        newlySetBits = newlySet;
        return position;
    }

    /**
     * @return runs in the last chunk decoded successfully.
     */
    public int runCount()
    {
        return runCount;
    }

    /**
     * @return bits in the set runs of the last chunk decoded successfully.
     */
    public long setBits()
    {
        return setBits;
    }

    /**
     * @return bits the last chunk decoded successfully changed from clear to set.
     */
    public long newlySetBits()
    {
        return newlySetBits;
    }

    private void readVarint(final DirectBuffer buffer, final int limit, final int run) throws BitmapCodecException
    {
        final int start = index;
        int i = index;
        long result = 0;
        for (int n = 0; n < MAX_VARINT_LENGTH; n++)
        {
            if (i >= limit)
            {
                throw new BitmapCodecException("truncated varint for run #" + run + " at byte " +
                    (start - chunkOffset) + " (" + n + " bytes, continuation bit set)");
            }
            final int b = buffer.getByte(i++) & 0xFF;
            if (n == MAX_VARINT_LENGTH - 1 && b > 1)
            {
                throw new BitmapCodecException(((b & 0x80) != 0 ? "varint longer than " + MAX_VARINT_LENGTH +
                    " bytes" : "varint overflows 64 bits") + " for run #" + run + " at byte " + (start - chunkOffset));
            }
            result |= (long)(b & 0x7F) << (7 * n);
            if ((b & 0x80) == 0)
            {
                if (b == 0 && n > 0)
                {
                    throw new BitmapCodecException("non-minimal varint (trailing zero byte) for run #" + run +
                        " at byte " + (start - chunkOffset));
                }
                index = i;
                value = result;
                return;
            }
        }
        throw new IllegalStateException("unreachable: 10th varint byte was checked");
    }
}
