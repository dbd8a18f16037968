package io.mirra.bitmap;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Out-of-sync bitmap of one peer and volume: one bit per bitmap block (see {@link BitmapGeometry}), set when the
 * block may differ on the peer. Bits live in a {@code long[]}, bit {@code i} at bit {@code i & 63} of word
 * {@code i >>> 6}; bits past {@link #bitCount()} in the last word are always zero.
 * <p>
 * Every operation is conservative: byte ranges are widened to whole blocks when marking and narrowed to fully
 * covered blocks when clearing, and {@link #resize(int)} never clears a block that may hold a dirty byte.
 * {@link #cardinality()} is maintained incrementally so reading it is O(1).
 * <p>
 * <b>Threading:</b> not thread-safe. One thread (the owning duty cycle) reads and writes it; any other access must
 * be published to and from that thread by the caller (e.g. via a queue). No method allocates except
 * {@link #resize(int)}, which returns a new bitmap.
 */
public final class DirtyBitmap
{
    private final BitmapGeometry geometry;
    private final long bitCount;
    private final long[] words;
    private final long lastWordMask;
    private long cardinality;

    /**
     * Creates an all-clear (in sync) bitmap.
     *
     * @param geometry volume size and block size.
     */
    public DirtyBitmap(final BitmapGeometry geometry)
    {
        this.geometry = geometry;
        this.bitCount = geometry.bitCount();
        this.words = new long[geometry.wordCount()];
        // Valid bits of the last word: all 64 when bitCount is a multiple of 64 (shift by 0).
        this.lastWordMask = -1L >>> -bitCount;
    }

    /**
     * @return the geometry this bitmap was created with.
     */
    public BitmapGeometry geometry()
    {
        return geometry;
    }

    /**
     * @return number of bits (blocks).
     */
    public long bitCount()
    {
        return bitCount;
    }

    /**
     * @return number of 64-bit words holding the bits.
     */
    public int wordCount()
    {
        return words.length;
    }

    /**
     * @return number of set bits, in O(1).
     */
    public long cardinality()
    {
        return cardinality;
    }

    /**
     * @return true if no bit is set: the peer is in sync.
     */
    public boolean isEmpty()
    {
        return cardinality == 0;
    }

    /**
     * Bytes of the volume that may be out of sync: set bits times the block size, counting a set partial last block
     * only for its bytes inside the volume.
     *
     * @return out-of-sync bytes.
     */
    public long outOfSyncBytes()
    {
        long bytes = cardinality << geometry.blockShift();
        if (geometry.hasPartialLastBlock() && test(bitCount - 1))
        {
            bytes -= geometry.blockSize() - geometry.blockByteLength(bitCount - 1);
        }
        return bytes;
    }

    /**
     * @param bit index in [0, {@link #bitCount()}).
     * @return true if the bit is set.
     * @throws IndexOutOfBoundsException if the index is out of range.
     */
    public boolean test(final long bit)
    {
        checkBit(bit);
        return (words[(int)(bit >>> 6)] & (1L << bit)) != 0;
    }

    /**
     * @param bit index in [0, {@link #bitCount()}).
     * @return true if the bit was clear before.
     * @throws IndexOutOfBoundsException if the index is out of range.
     */
    public boolean set(final long bit)
    {
        checkBit(bit);
        final int index = (int)(bit >>> 6);
        final long word = words[index];
        final long mask = 1L << bit;
        if ((word & mask) != 0)
        {
            return false;
        }
        words[index] = word | mask;
        cardinality++;
        return true;
    }

    /**
     * @param bit index in [0, {@link #bitCount()}).
     * @return true if the bit was set before.
     * @throws IndexOutOfBoundsException if the index is out of range.
     */
    public boolean clear(final long bit)
    {
        checkBit(bit);
        final int index = (int)(bit >>> 6);
        final long word = words[index];
        final long mask = 1L << bit;
        if ((word & mask) == 0)
        {
            return false;
        }
        words[index] = word & ~mask;
        cardinality--;
        return true;
    }

    /**
     * Sets the bits in [fromBit, toBitExclusive).
     *
     * @param fromBit        first bit.
     * @param toBitExclusive one past the last bit.
     * @return number of bits that were clear before.
     * @throws IndexOutOfBoundsException if the range is not within [0, {@link #bitCount()}] in order.
     */
    public long setRange(final long fromBit, final long toBitExclusive)
    {
        checkRange(fromBit, toBitExclusive);
        if (fromBit == toBitExclusive)
        {
            return 0;
        }

        final int firstWord = (int)(fromBit >>> 6);
        final int lastWord = (int)((toBitExclusive - 1) >>> 6);
        final long firstMask = -1L << fromBit;
        final long lastMask = -1L >>> -toBitExclusive;
        long changed = 0;
        if (firstWord == lastWord)
        {
            changed = setMasked(firstWord, firstMask & lastMask);
        }
        else
        {
            changed += setMasked(firstWord, firstMask);
            for (int i = firstWord + 1; i < lastWord; i++)
            {
                changed += Long.SIZE - Long.bitCount(words[i]);
                words[i] = -1L;
            }
            changed += setMasked(lastWord, lastMask);
        }
        cardinality += changed;
        return changed;
    }

    /**
     * Clears the bits in [fromBit, toBitExclusive).
     *
     * @param fromBit        first bit.
     * @param toBitExclusive one past the last bit.
     * @return number of bits that were set before.
     * @throws IndexOutOfBoundsException if the range is not within [0, {@link #bitCount()}] in order.
     */
    public long clearRange(final long fromBit, final long toBitExclusive)
    {
        checkRange(fromBit, toBitExclusive);
        if (fromBit == toBitExclusive)
        {
            return 0;
        }

        final int firstWord = (int)(fromBit >>> 6);
        final int lastWord = (int)((toBitExclusive - 1) >>> 6);
        final long firstMask = -1L << fromBit;
        final long lastMask = -1L >>> -toBitExclusive;
        long changed = 0;
        if (firstWord == lastWord)
        {
            changed = clearMasked(firstWord, firstMask & lastMask);
        }
        else
        {
            changed += clearMasked(firstWord, firstMask);
            for (int i = firstWord + 1; i < lastWord; i++)
            {
                changed += Long.bitCount(words[i]);
                words[i] = 0;
            }
            changed += clearMasked(lastWord, lastMask);
        }
        cardinality -= changed;
        return changed;
    }

    /**
     * Marks a written byte range out of sync: sets every block the range touches, even partly.
     *
     * @param byteOffset start of the range.
     * @param length     bytes in the range; 0 marks nothing.
     * @return number of bits that were clear before.
     * @throws IllegalArgumentException  if the length is negative.
     * @throws IndexOutOfBoundsException if the range is not inside the volume.
     */
    public long markByteRange(final long byteOffset, final long length)
    {
        geometry.checkByteRange(byteOffset, length);
        if (length == 0)
        {
            return 0;
        }
        final int shift = geometry.blockShift();
        return setRange(byteOffset >>> shift, ((byteOffset + length - 1) >>> shift) + 1);
    }

    /**
     * Marks a byte range in sync: clears only the blocks the range covers completely, since a partly covered block
     * may still hold dirty bytes outside the range. A range reaching the end of the volume covers a partial last
     * block completely.
     *
     * @param byteOffset start of the range.
     * @param length     bytes in the range.
     * @return number of bits that were set before.
     * @throws IllegalArgumentException  if the length is negative.
     * @throws IndexOutOfBoundsException if the range is not inside the volume.
     */
    public long clearByteRange(final long byteOffset, final long length)
    {
        final long from = geometry.firstFullyCoveredBlock(byteOffset);
        final long to = geometry.fullyCoveredBlocksEnd(byteOffset, length);
        return from < to ? clearRange(from, to) : 0;
    }

    /**
     * @param fromBit index to start from, at least 0.
     * @return index of the first set bit at or after {@code fromBit}, or -1 if there is none.
     * @throws IndexOutOfBoundsException if {@code fromBit} is negative.
     */
    public long nextSetBit(final long fromBit)
    {
        if (fromBit < 0)
        {
            throw new IndexOutOfBoundsException("fromBit < 0: " + fromBit);
        }
        if (fromBit >= bitCount)
        {
            return -1;
        }

        int index = (int)(fromBit >>> 6);
        long word = words[index] & (-1L << fromBit);
        while (true)
        {
            if (word != 0)
            {
                return ((long)index << 6) + Long.numberOfTrailingZeros(word);
            }
            if (++index == words.length)
            {
                return -1;
            }
            word = words[index];
        }
    }

    /**
     * @param fromBit index to start from, at least 0.
     * @return index of the first clear bit at or after {@code fromBit}, or {@link #bitCount()} if there is none
     * (as {@link java.util.BitSet#nextClearBit(int)}, so it can end a run).
     * @throws IndexOutOfBoundsException if {@code fromBit} is negative.
     */
    public long nextClearBit(final long fromBit)
    {
        if (fromBit < 0)
        {
            throw new IndexOutOfBoundsException("fromBit < 0: " + fromBit);
        }
        if (fromBit >= bitCount)
        {
            return bitCount;
        }

        int index = (int)(fromBit >>> 6);
        long word = ~words[index] & (-1L << fromBit);
        while (true)
        {
            if (word != 0)
            {
                // Tail bits past bitCount are kept zero, so this is at most bitCount; the clip is defensive.
                return Math.min(bitCount, ((long)index << 6) + Long.numberOfTrailingZeros(word));
            }
            if (++index == words.length)
            {
                return bitCount;
            }
            word = ~words[index];
        }
    }

    /**
     * Clears every bit: the peer is in sync.
     */
    public void clearAll()
    {
        Arrays.fill(words, 0L);
        cardinality = 0;
    }

    /**
     * Sets every bit: a full resync is needed.
     */
    public void setAll()
    {
        Arrays.fill(words, -1L);
        words[words.length - 1] = lastWordMask;
        cardinality = bitCount;
    }

    /**
     * Merges another bitmap in: every bit set in {@code other} becomes set here.
     *
     * @param other bitmap of the same geometry; not modified.
     * @return number of bits that were clear before.
     * @throws IllegalArgumentException if the geometries differ.
     */
    public long or(final DirtyBitmap other)
    {
        if (!geometry.equals(other.geometry))
        {
            throw new IllegalArgumentException("geometry mismatch: " + geometry + " vs " + other.geometry);
        }
        final long[] otherWords = other.words;
        long changed = 0;
        for (int i = 0; i < words.length; i++)
        {
            final long word = words[i];
            final long merged = word | otherWords[i];
            if (merged != word)
            {
                changed += Long.bitCount(merged & ~word);
                words[i] = merged;
            }
        }
        cardinality += changed;
        return changed;
    }

    /**
     * Converts to another block size for the same volume, never losing a dirty byte: widening (larger blocks) sets a
     * large block if any small block inside it is set; splitting (smaller blocks) sets every small block of a set
     * large block. Each run of set bits is re-marked as the byte range it covers.
     *
     * @param newBlockSize a valid block size; the same block size returns a copy.
     * @return a new bitmap; this one is unchanged.
     * @throws IllegalArgumentException if the block size is invalid or the volume too large for it.
     */
    public DirtyBitmap resize(final int newBlockSize)
    {
        final DirtyBitmap resized = new DirtyBitmap(geometry.withBlockSize(newBlockSize));
        if (newBlockSize == geometry.blockSize())
        {
            System.arraycopy(words, 0, resized.words, 0, words.length);
            resized.cardinality = cardinality;
            return resized;
        }

        final int shift = geometry.blockShift();
        final long volumeSize = geometry.volumeSizeBytes();
        long start = nextSetBit(0);
        while (start >= 0)
        {
            final long end = nextClearBit(start);
            final long byteOffset = start << shift;
            resized.markByteRange(byteOffset, Math.min(end << shift, volumeSize) - byteOffset);
            start = end < bitCount ? nextSetBit(end) : -1;
        }
        return resized;
    }

    /**
     * @param index word index in [0, {@link #wordCount()}).
     * @return the raw word: bit {@code index * 64 + k} is bit {@code k}.
     */
    public long word(final int index)
    {
        return words[index];
    }

    /**
     * Copies the raw words out, e.g. for persistence.
     *
     * @param dst      destination array.
     * @param dstIndex where the first word goes; {@link #wordCount()} words are written.
     * @throws IndexOutOfBoundsException if {@code dst} is too short.
     */
    public void copyTo(final long[] dst, final int dstIndex)
    {
        System.arraycopy(words, 0, dst, dstIndex, words.length);
    }

    /**
     * Replaces every word with raw words, e.g. loaded from persistence, and recomputes the cardinality.
     *
     * @param src      source array.
     * @param srcIndex where the first word is; {@link #wordCount()} words are read.
     * @throws IndexOutOfBoundsException if {@code src} is too short.
     * @throws IllegalArgumentException  if the last word has bits set past {@link #bitCount()}; nothing is changed.
     */
    public void copyFrom(final long[] src, final int srcIndex)
    {
        if (srcIndex < 0 || srcIndex > src.length - words.length)
        {
            throw new IndexOutOfBoundsException("need " + words.length + " words at " + srcIndex + " in array of " +
                src.length);
        }
        checkLastWord(words.length - 1, src[srcIndex + words.length - 1]);
        System.arraycopy(src, srcIndex, words, 0, words.length);
        recomputeCardinality();
    }

    /**
     * Copies raw words into a buffer as little-endian longs, e.g. for persistence.
     *
     * @param fromWord  first word to copy.
     * @param wordCount number of words to copy.
     * @param dst       destination buffer.
     * @param dstOffset where the first word goes; {@code wordCount * 8} bytes are written.
     * @throws IndexOutOfBoundsException if the words or the buffer range are out of bounds.
     */
    public void copyTo(final int fromWord, final int wordCount, final MutableDirectBuffer dst, final int dstOffset)
    {
        checkWords(fromWord, wordCount);
        dst.boundsCheck(dstOffset, byteLength(wordCount));
        for (int i = 0; i < wordCount; i++)
        {
            dst.putLong(dstOffset + i * Long.BYTES, words[fromWord + i], ByteOrder.LITTLE_ENDIAN);
        }
    }

    /**
     * Replaces raw words from a buffer of little-endian longs, e.g. loaded from persistence, keeping the
     * cardinality correct.
     *
     * @param fromWord  first word to replace.
     * @param wordCount number of words to replace.
     * @param src       source buffer.
     * @param srcOffset where the first word is; {@code wordCount * 8} bytes are read.
     * @throws IndexOutOfBoundsException if the words or the buffer range are out of bounds.
     * @throws IllegalArgumentException  if the last word of the bitmap is replaced with bits set past
     *                                   {@link #bitCount()}; nothing is changed.
     */
    public void copyFrom(final int fromWord, final int wordCount, final DirectBuffer src, final int srcOffset)
    {
        checkWords(fromWord, wordCount);
        src.boundsCheck(srcOffset, byteLength(wordCount));
        if (wordCount > 0 && fromWord + wordCount == words.length)
        {
            checkLastWord(words.length - 1,
                src.getLong(srcOffset + (wordCount - 1) * Long.BYTES, ByteOrder.LITTLE_ENDIAN));
        }
        long delta = 0;
        for (int i = 0; i < wordCount; i++)
        {
            final long word = src.getLong(srcOffset + i * Long.BYTES, ByteOrder.LITTLE_ENDIAN);
            delta += Long.bitCount(word) - Long.bitCount(words[fromWord + i]);
            words[fromWord + i] = word;
        }
        cardinality += delta;
    }

    @Override
    public String toString()
    {
        return "DirtyBitmap{" + geometry + ", cardinality=" + cardinality + "}";
    }

    private long setMasked(final int index, final long mask)
    {
        final long word = words[index];
        words[index] = word | mask;
        return Long.bitCount(mask & ~word);
    }

    private long clearMasked(final int index, final long mask)
    {
        final long word = words[index];
        words[index] = word & ~mask;
        return Long.bitCount(mask & word);
    }

    private void recomputeCardinality()
    {
        long count = 0;
        for (final long word : words)
        {
            count += Long.bitCount(word);
        }
        cardinality = count;
    }

    private void checkBit(final long bit)
    {
        if (bit < 0 || bit >= bitCount)
        {
            throw new IndexOutOfBoundsException("bit " + bit + " outside [0, " + bitCount + ")");
        }
    }

    private void checkRange(final long fromBit, final long toBitExclusive)
    {
        if (fromBit < 0 || fromBit > toBitExclusive || toBitExclusive > bitCount)
        {
            throw new IndexOutOfBoundsException("bit range [" + fromBit + ", " + toBitExclusive + ") outside [0, " +
                bitCount + ")");
        }
    }

    private void checkWords(final int fromWord, final int wordCount)
    {
        if (fromWord < 0 || wordCount < 0 || wordCount > words.length - fromWord)
        {
            throw new IndexOutOfBoundsException("words [" + fromWord + ", +" + wordCount + ") outside [0, " +
                words.length + ")");
        }
    }

    private static int byteLength(final int wordCount)
    {
        // A buffer is int-indexed: more words than fit must be copied in several calls.
        if (wordCount > Integer.MAX_VALUE / Long.BYTES)
        {
            throw new IndexOutOfBoundsException("too many words for one buffer: " + wordCount);
        }
        return wordCount * Long.BYTES;
    }

    private void checkLastWord(final int index, final long word)
    {
        if ((word & ~lastWordMask) != 0)
        {
            throw new IllegalArgumentException("word " + index + " has bits set past bit count " + bitCount + ": 0x" +
                Long.toHexString(word));
        }
    }
}
