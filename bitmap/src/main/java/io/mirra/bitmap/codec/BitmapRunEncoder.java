package io.mirra.bitmap.codec;

import io.mirra.bitmap.DirtyBitmap;
import org.agrona.MutableDirectBuffer;

/**
 * Encodes a {@link DirtyBitmap} for the wire as run lengths: alternating runs of clear and set bits, starting with a
 * clear run (zero-length when the first bit is set), each an unsigned LEB128 varint. All runs but a leading clear
 * one are non-zero and every varint is minimal, so the encoding of a bit range is unique. Example: ten bits with
 * bits 3 and 4 set encode as {@code 03 02 05}.
 * <p>
 * Encoding is resumable, so a large bitmap can be sent as several frames: {@link #encode} writes runs from a start
 * bit until the output is full (splitting the last run to fill it) and returns the next bit to encode. Each chunk
 * is self-contained; the receiver needs its start bit (carried by the frame) to decode it.
 * <pre>{@code
 * long bit = 0;
 * while (bit < bitmap.bitCount())
 * {
 *     final long next = encoder.encode(bitmap, bit, frame, PAYLOAD_OFFSET, payloadCapacity);
 *     send(bit, frame, encoder.encodedLength());
 *     bit = next;
 * }
 * }</pre>
 * The worst case (alternating bits) is {@link #maxEncodedLength(long)} bytes; runs of 2^28 bits cost 4 bytes.
 * <p>
 * <b>Threading:</b> not thread-safe (it keeps the length of the last chunk); use one instance per thread, on the
 * thread that owns the bitmap. It does not allocate.
 */
public final class BitmapRunEncoder
{
    /**
     * Smallest output a chunk may use: a leading zero clear run plus one byte of set run, so every chunk makes
     * progress.
     */
    public static final int MIN_CHUNK_LENGTH = 2;

    private int encodedLength;

    /**
     * Upper bound of the encoded length of {@code bitCount} bits in one chunk: each run of n >= 1 bits takes at most
     * n bytes, plus one for a leading zero clear run.
     *
     * @param bitCount bits to encode.
     * @return bytes needed in the worst case.
     */
    public static long maxEncodedLength(final long bitCount)
    {
        return bitCount + 1;
    }

    /**
     * Encodes bits from {@code fromBit} to the end of the bitmap, or as many as fit.
     *
     * @param bitmap    bitmap to encode; not modified.
     * @param fromBit   first bit of this chunk.
     * @param buffer    output buffer.
     * @param offset    where the chunk starts in the buffer.
     * @param maxLength bytes available, at least {@link #MIN_CHUNK_LENGTH}.
     * @return the next bit to encode: {@link DirtyBitmap#bitCount()} once done.
     * @see #encode(DirtyBitmap, long, long, MutableDirectBuffer, int, int)
     */
    public long encode(
        final DirtyBitmap bitmap, final long fromBit, final MutableDirectBuffer buffer, final int offset,
        final int maxLength)
    {
        return encode(bitmap, fromBit, bitmap.bitCount(), buffer, offset, maxLength);
    }

    /**
     * Encodes bits of [fromBit, toBitExclusive), or as many as fit, as one chunk. The chunk length is then
     * {@link #encodedLength()}; it is 0 only when {@code fromBit == toBitExclusive}.
     *
     * @param bitmap         bitmap to encode; not modified.
     * @param fromBit        first bit of this chunk.
     * @param toBitExclusive one past the last bit to encode.
     * @param buffer         output buffer.
     * @param offset         where the chunk starts in the buffer.
     * @param maxLength      bytes available, at least {@link #MIN_CHUNK_LENGTH}.
     * @return the next bit to encode: {@code toBitExclusive} once done, else more than {@code fromBit}.
     * @throws IllegalArgumentException  if {@code maxLength} is below {@link #MIN_CHUNK_LENGTH}.
     * @throws IndexOutOfBoundsException if the bit range or the buffer range is out of bounds.
     */
    public long encode(
        final DirtyBitmap bitmap,
        final long fromBit,
        final long toBitExclusive,
        final MutableDirectBuffer buffer,
        final int offset,
        final int maxLength)
    {
        if (fromBit < 0 || fromBit > toBitExclusive || toBitExclusive > bitmap.bitCount())
        {
            throw new IndexOutOfBoundsException("bit range [" + fromBit + ", " + toBitExclusive + ") outside [0, " +
                bitmap.bitCount() + ")");
        }
        if (maxLength < MIN_CHUNK_LENGTH)
        {
            throw new IllegalArgumentException("maxLength must be at least " + MIN_CHUNK_LENGTH + ": " + maxLength);
        }
        buffer.boundsCheck(offset, maxLength);

        final int end = offset + maxLength;
        int index = offset;
        long position = fromBit;
        boolean setRun = false;
        while (position < toBitExclusive)
        {
            final long runEnd;
            if (setRun)
            {
                runEnd = Math.min(bitmap.nextClearBit(position), toBitExclusive);
            }
            else
            {
                final long nextSet = bitmap.nextSetBit(position);
                runEnd = nextSet < 0 ? toBitExclusive : Math.min(nextSet, toBitExclusive);
            }

            final long runLength = runEnd - position;
            final int remaining = end - index;
            if (Leb128.size(runLength) <= remaining)
            {
                index = Leb128.write(buffer, index, runLength);
                position = runEnd;
                setRun = !setRun;
            }
            else
            {
                // Fill the chunk with part of the run (at least 127 bits); the next chunk carries the rest.
                if (remaining > 0)
                {
                    final long part = Leb128.maxValue(remaining);
                    index = Leb128.write(buffer, index, part);
                    position += part;
                }
                break;
            }
        }

        encodedLength = index - offset;
        return position;
    }

    /**
     * @return bytes written by the last {@link #encode} call.
     */
    public int encodedLength()
    {
        return encodedLength;
    }
}
