package io.mirra.bitmap.codec;

import org.agrona.MutableDirectBuffer;

/**
 * Unsigned LEB128 varints: 7 bits per byte, least significant group first, high bit set on every byte but the last.
 */
final class Leb128
{
    /** Longest encoding of a 64-bit value. */
    static final int MAX_LENGTH = 10;

    private Leb128()
    {
    }

    /**
     * @param value a non-negative value.
     * @return bytes of its minimal encoding.
     */
    static int size(final long value)
    {
        final int bits = Long.SIZE - Long.numberOfLeadingZeros(value | 1);
        return (bits + 6) / 7;
    }

    /**
     * @param length bytes available, at least 1.
     * @return the largest value whose encoding fits.
     */
    static long maxValue(final int length)
    {
        return length >= 9 ? Long.MAX_VALUE : (1L << (7 * length)) - 1;
    }

    /**
     * @param buffer to write to; bounds already checked by the caller.
     * @param index  where to write.
     * @param value  a non-negative value.
     * @return index after the last byte written.
     */
    static int write(final MutableDirectBuffer buffer, final int index, final long value)
    {
        int i = index;
        long v = value;
        while ((v & ~0x7FL) != 0)
        {
            buffer.putByte(i++, (byte)((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        buffer.putByte(i++, (byte)v);
        return i;
    }
}
