package io.mirra.bitmap;

/**
 * Immutable mapping between a volume's bytes and the bits of an out-of-sync bitmap: one bit per "bitmap block".
 * <p>
 * The block size is a power of two from {@link #MIN_BLOCK_SIZE} (4 KiB) to {@link #MAX_BLOCK_SIZE} (1 MiB). The
 * volume size need not be a multiple of the block size: the last block is then partial and only its bytes inside the
 * volume count (see {@link #blockByteLength(long)}).
 * <p>
 * Memory use is one bit per block, held in 64-bit words: {@link #memoryBytes()} for this volume, or
 * {@link #bytesPerTiB(int)} per TiB of volume (per peer): 32 MiB at 4 KiB blocks, 128 KiB at 1 MiB blocks.
 * <p>
 * <b>Threading:</b> immutable, so safe to share between threads without synchronisation.
 */
public final class BitmapGeometry
{
    /** Smallest bitmap block size in bytes (4 KiB). */
    public static final int MIN_BLOCK_SIZE = 4096;
    /** Largest bitmap block size in bytes (1 MiB). */
    public static final int MAX_BLOCK_SIZE = 1024 * 1024;
    /** Block size used when none is configured (4 KiB, as in DRBD). */
    public static final int DEFAULT_BLOCK_SIZE = MIN_BLOCK_SIZE;
    /** Largest number of 64-bit words a bitmap may have: a Java array cannot be longer (with VM headroom). */
    public static final int MAX_WORDS = Integer.MAX_VALUE - 8;

    private static final long TIB = 1L << 40;

    private final long volumeSizeBytes;
    private final int blockSize;
    private final int blockShift;
    private final long bitCount;
    private final int wordCount;

    /**
     * @param volumeSizeBytes size of the volume in bytes, at least 1.
     * @param blockSize       bytes per bit: a power of two in [{@link #MIN_BLOCK_SIZE}, {@link #MAX_BLOCK_SIZE}].
     * @throws IllegalArgumentException if the block size is invalid, the volume size is not positive, or the bitmap
     *                                  would need more than {@link #MAX_WORDS} words.
     */
    public BitmapGeometry(final long volumeSizeBytes, final int blockSize)
    {
        validateBlockSize(blockSize);
        if (volumeSizeBytes <= 0)
        {
            throw new IllegalArgumentException("volume size must be positive: " + volumeSizeBytes);
        }

        final int shift = Integer.numberOfTrailingZeros(blockSize);
        // Written without (size + blockSize - 1) so that a huge size cannot overflow.
        final long bits = (volumeSizeBytes >>> shift) + ((volumeSizeBytes & (blockSize - 1)) != 0 ? 1 : 0);
        final long words = (bits + 63) >>> 6;
        if (words > MAX_WORDS)
        {
            throw new IllegalArgumentException("volume of " + volumeSizeBytes + " bytes is too large for block size " +
                blockSize + ": needs " + words + " bitmap words, at most " + MAX_WORDS);
        }

        this.volumeSizeBytes = volumeSizeBytes;
        this.blockSize = blockSize;
        this.blockShift = shift;
        this.bitCount = bits;
        this.wordCount = (int)words;
    }

    /**
     * Geometry with the {@link #DEFAULT_BLOCK_SIZE}.
     *
     * @param volumeSizeBytes size of the volume in bytes, at least 1.
     * @return the geometry.
     */
    public static BitmapGeometry withDefaultBlockSize(final long volumeSizeBytes)
    {
        return new BitmapGeometry(volumeSizeBytes, DEFAULT_BLOCK_SIZE);
    }

    /**
     * @param blockSize candidate bitmap block size in bytes.
     * @return true if it is a power of two in [{@link #MIN_BLOCK_SIZE}, {@link #MAX_BLOCK_SIZE}].
     */
    public static boolean isValidBlockSize(final int blockSize)
    {
        return blockSize >= MIN_BLOCK_SIZE && blockSize <= MAX_BLOCK_SIZE && Integer.bitCount(blockSize) == 1;
    }

    /**
     * @param blockSize candidate bitmap block size in bytes.
     * @throws IllegalArgumentException naming the rule broken, if the block size is not valid.
     */
    public static void validateBlockSize(final int blockSize)
    {
        if (!isValidBlockSize(blockSize))
        {
            throw new IllegalArgumentException("bitmap block size must be a power of two from " + MIN_BLOCK_SIZE +
                " to " + MAX_BLOCK_SIZE + " bytes: " + blockSize);
        }
    }

    /**
     * Bitmap memory per TiB of volume, per peer: {@code 2^40 / blockSize} bits, i.e. {@code 2^37 / blockSize} bytes
     * (32 MiB at 4 KiB blocks, 128 KiB at 1 MiB blocks).
     *
     * @param blockSize a valid bitmap block size.
     * @return bytes of bitmap memory for one TiB of volume.
     * @throws IllegalArgumentException if the block size is invalid.
     */
    public static long bytesPerTiB(final int blockSize)
    {
        validateBlockSize(blockSize);
        return (TIB / blockSize) / Byte.SIZE;
    }

    /**
     * @param newBlockSize the block size of the new geometry.
     * @return a geometry for the same volume with another block size.
     */
    public BitmapGeometry withBlockSize(final int newBlockSize)
    {
        return newBlockSize == blockSize ? this : new BitmapGeometry(volumeSizeBytes, newBlockSize);
    }

    /**
     * @return size of the volume in bytes.
     */
    public long volumeSizeBytes()
    {
        return volumeSizeBytes;
    }

    /**
     * @return bytes covered by one bit.
     */
    public int blockSize()
    {
        return blockSize;
    }

    /**
     * @return log2 of {@link #blockSize()}.
     */
    public int blockShift()
    {
        return blockShift;
    }

    /**
     * @return number of bits (blocks), the last one possibly partial.
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
        return wordCount;
    }

    /**
     * @return bytes of bitmap memory for this volume ({@link #wordCount()} * 8).
     */
    public long memoryBytes()
    {
        return (long)wordCount * Long.BYTES;
    }

    /**
     * @return true if the volume size is not a multiple of the block size, so the last block is partial.
     */
    public boolean hasPartialLastBlock()
    {
        return (volumeSizeBytes & (blockSize - 1)) != 0;
    }

    /**
     * @param byteOffset offset of a byte within the volume.
     * @return index of the block holding that byte.
     * @throws IndexOutOfBoundsException if the offset is not in [0, volume size).
     */
    public long blockIndex(final long byteOffset)
    {
        if (byteOffset < 0 || byteOffset >= volumeSizeBytes)
        {
            throw new IndexOutOfBoundsException("byte offset " + byteOffset + " outside volume of " +
                volumeSizeBytes + " bytes");
        }
        return byteOffset >>> blockShift;
    }

    /**
     * First block touched by a range starting at {@code byteOffset}: the block holding that byte.
     *
     * @param byteOffset start of a range, in [0, volume size).
     * @return index of the block holding the first byte.
     * @throws IndexOutOfBoundsException if the offset is outside the volume.
     */
    public long firstBlock(final long byteOffset)
    {
        return blockIndex(byteOffset);
    }

    /**
     * Last block touched by a non-empty byte range: the block holding its last byte.
     *
     * @param byteOffset start of the range.
     * @param length     bytes in the range, at least 1.
     * @return index of the block holding byte {@code byteOffset + length - 1}.
     * @throws IllegalArgumentException  if the length is not positive.
     * @throws IndexOutOfBoundsException if the range is not inside the volume.
     */
    public long lastBlockInclusive(final long byteOffset, final long length)
    {
        if (length <= 0)
        {
            throw new IllegalArgumentException("length must be positive: " + length);
        }
        checkByteRange(byteOffset, length);
        return (byteOffset + length - 1) >>> blockShift;
    }

    /**
     * First block that starts at or after {@code byteOffset}: the first block a range starting there can cover
     * completely. Used to clear bits conservatively.
     *
     * @param byteOffset start of a range, in [0, volume size].
     * @return index of that block, {@link #bitCount()} if there is none.
     * @throws IndexOutOfBoundsException if the offset is outside [0, volume size].
     */
    public long firstFullyCoveredBlock(final long byteOffset)
    {
        checkByteRange(byteOffset, 0);
        return Math.min(bitCount, (byteOffset >>> blockShift) + ((byteOffset & (blockSize - 1)) != 0 ? 1 : 0));
    }

    /**
     * End (exclusive) of the blocks that a byte range covers completely. A range reaching the end of the volume
     * covers a partial last block completely, since that block has no bytes beyond the volume.
     *
     * @param byteOffset start of the range.
     * @param length     bytes in the range, at least 0.
     * @return one past the last completely covered block; may be below {@link #firstFullyCoveredBlock(long)} when
     * the range covers no block completely.
     * @throws IllegalArgumentException  if the length is negative.
     * @throws IndexOutOfBoundsException if the range is not inside the volume.
     */
    public long fullyCoveredBlocksEnd(final long byteOffset, final long length)
    {
        checkByteRange(byteOffset, length);
        final long end = byteOffset + length;
        return end == volumeSizeBytes ? bitCount : end >>> blockShift;
    }

    /**
     * @param block a block index in [0, {@link #bitCount()}).
     * @return offset of the block's first byte.
     * @throws IndexOutOfBoundsException if the block does not exist.
     */
    public long blockByteOffset(final long block)
    {
        checkBlock(block);
        return block << blockShift;
    }

    /**
     * @param block a block index in [0, {@link #bitCount()}).
     * @return bytes of the volume in that block: the block size, or less for a partial last block.
     * @throws IndexOutOfBoundsException if the block does not exist.
     */
    public long blockByteLength(final long block)
    {
        checkBlock(block);
        return Math.min(blockSize, volumeSizeBytes - (block << blockShift));
    }

    /**
     * Bytes of the volume covered by the blocks in [fromBlock, toBlockExclusive): the byte length of a run of bits,
     * clipped at the end of the volume.
     *
     * @param fromBlock        first block.
     * @param toBlockExclusive one past the last block.
     * @return bytes covered.
     * @throws IndexOutOfBoundsException if the blocks are not within [0, {@link #bitCount()}] in order.
     */
    public long blocksByteLength(final long fromBlock, final long toBlockExclusive)
    {
        if (fromBlock < 0 || fromBlock > toBlockExclusive || toBlockExclusive > bitCount)
        {
            throw new IndexOutOfBoundsException("blocks [" + fromBlock + ", " + toBlockExclusive +
                ") outside [0, " + bitCount + ")");
        }
        return Math.min(toBlockExclusive << blockShift, volumeSizeBytes) - (fromBlock << blockShift);
    }

    /**
     * @param byteOffset start of a range.
     * @param length     bytes in the range.
     * @throws IllegalArgumentException  if the length is negative.
     * @throws IndexOutOfBoundsException if the range is not inside [0, volume size].
     */
    public void checkByteRange(final long byteOffset, final long length)
    {
        if (length < 0)
        {
            throw new IllegalArgumentException("length must not be negative: " + length);
        }
        // Compared as "length > size - offset" so that offset + length cannot overflow.
        if (byteOffset < 0 || byteOffset > volumeSizeBytes || length > volumeSizeBytes - byteOffset)
        {
            throw new IndexOutOfBoundsException("byte range offset=" + byteOffset + " length=" + length +
                " outside volume of " + volumeSizeBytes + " bytes");
        }
    }

    private void checkBlock(final long block)
    {
        if (block < 0 || block >= bitCount)
        {
            throw new IndexOutOfBoundsException("block " + block + " outside [0, " + bitCount + ")");
        }
    }

    @Override
    public boolean equals(final Object o)
    {
        if (this == o)
        {
            return true;
        }
        if (!(o instanceof BitmapGeometry))
        {
            return false;
        }
        final BitmapGeometry that = (BitmapGeometry)o;
        return volumeSizeBytes == that.volumeSizeBytes && blockSize == that.blockSize;
    }

    @Override
    public int hashCode()
    {
        return 31 * Long.hashCode(volumeSizeBytes) + blockSize;
    }

    @Override
    public String toString()
    {
        return "BitmapGeometry{volumeSizeBytes=" + volumeSizeBytes + ", blockSize=" + blockSize +
            ", bitCount=" + bitCount + ", memoryBytes=" + memoryBytes() + "}";
    }
}
