package io.mirra.bitmap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(30)
class BitmapGeometryTest
{
    private static final long MIB = 1024 * 1024;
    private static final long TIB = 1L << 40;

    @ParameterizedTest
    @ValueSource(ints = { 0, -4096, 1, 512, 2048, 4095, 4097, 6144, 12288, 1024 * 1024 + 1, 2 * 1024 * 1024,
        Integer.MIN_VALUE, Integer.MAX_VALUE })
    void shouldRejectInvalidBlockSize(final int blockSize)
    {
        final IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> new BitmapGeometry(MIB, blockSize));
        assertTrue(ex.getMessage().contains("power of two from 4096 to 1048576"), ex.getMessage());
        assertTrue(ex.getMessage().contains(Integer.toString(blockSize)), ex.getMessage());
        assertFalse(BitmapGeometry.isValidBlockSize(blockSize));
        assertThrows(IllegalArgumentException.class, () -> BitmapGeometry.bytesPerTiB(blockSize));
    }

    @Test
    void shouldAcceptEveryPowerOfTwoFrom4KiBTo1MiB()
    {
        int count = 0;
        for (int blockSize = 4096; blockSize <= 1024 * 1024; blockSize <<= 1)
        {
            assertEquals(blockSize, new BitmapGeometry(MIB, blockSize).blockSize());
            assertTrue(BitmapGeometry.isValidBlockSize(blockSize));
            count++;
        }
        assertEquals(9, count);
        assertEquals(4096, BitmapGeometry.withDefaultBlockSize(MIB).blockSize());
    }

    @ParameterizedTest
    @ValueSource(longs = { 0, -1, Long.MIN_VALUE })
    void shouldRejectNonPositiveVolumeSize(final long volumeSize)
    {
        final IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> new BitmapGeometry(volumeSize, 4096));
        assertTrue(ex.getMessage().contains("volume size must be positive"), ex.getMessage());
    }

    @Test
    void shouldRejectVolumeTooLargeForWordArray()
    {
        // 1 EiB at 4 KiB needs 2^48 bits = 2^42 words.
        final IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> new BitmapGeometry(1L << 60, 4096));
        assertTrue(ex.getMessage().contains("too large"), ex.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new BitmapGeometry(Long.MAX_VALUE, 1024 * 1024));

        // The largest volume: MAX_WORDS * 64 blocks.
        final long maxVolume = (long)BitmapGeometry.MAX_WORDS * 64 * 4096;
        assertEquals(BitmapGeometry.MAX_WORDS, new BitmapGeometry(maxVolume, 4096).wordCount());
        assertThrows(IllegalArgumentException.class, () -> new BitmapGeometry(maxVolume + 1, 4096));
    }

    @Test
    void shouldComputeBitCountWithPartialLastBlock()
    {
        final BitmapGeometry exact = new BitmapGeometry(3 * 4096, 4096);
        assertEquals(3, exact.bitCount());
        assertFalse(exact.hasPartialLastBlock());
        assertEquals(1, exact.wordCount());

        final BitmapGeometry partial = new BitmapGeometry(3 * 4096 + 1, 4096);
        assertEquals(4, partial.bitCount());
        assertTrue(partial.hasPartialLastBlock());
        assertEquals(1, partial.blockByteLength(3));
        assertEquals(4096, partial.blockByteLength(2));
        assertEquals(3 * 4096, partial.blockByteOffset(3));

        final BitmapGeometry tiny = new BitmapGeometry(1, 1024 * 1024);
        assertEquals(1, tiny.bitCount());
        assertEquals(1, tiny.blockByteLength(0));
        assertEquals(20, tiny.blockShift());

        final BitmapGeometry words = new BitmapGeometry(65 * 4096, 4096);
        assertEquals(65, words.bitCount());
        assertEquals(2, words.wordCount());
        assertEquals(16, words.memoryBytes());
    }

    @Test
    void shouldMapByteOffsetsToBlocks()
    {
        final BitmapGeometry geometry = new BitmapGeometry(10_000, 4096);
        assertEquals(0, geometry.blockIndex(0));
        assertEquals(0, geometry.blockIndex(4095));
        assertEquals(1, geometry.blockIndex(4096));
        assertEquals(2, geometry.blockIndex(9999));
        assertEquals(1, geometry.firstBlock(8191));
        assertThrows(IndexOutOfBoundsException.class, () -> geometry.blockIndex(10_000));
        assertThrows(IndexOutOfBoundsException.class, () -> geometry.blockIndex(-1));

        assertEquals(0, geometry.lastBlockInclusive(0, 1));
        assertEquals(0, geometry.lastBlockInclusive(0, 4096));
        assertEquals(1, geometry.lastBlockInclusive(0, 4097));
        assertEquals(2, geometry.lastBlockInclusive(4095, 10_000 - 4095));
        assertThrows(IllegalArgumentException.class, () -> geometry.lastBlockInclusive(0, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> geometry.lastBlockInclusive(1, 10_000));
        assertThrows(IndexOutOfBoundsException.class, () -> geometry.lastBlockInclusive(5, Long.MAX_VALUE));
    }

    @Test
    void shouldComputeFullyCoveredBlocks()
    {
        final BitmapGeometry geometry = new BitmapGeometry(10_000, 4096);
        assertEquals(0, geometry.firstFullyCoveredBlock(0));
        assertEquals(1, geometry.firstFullyCoveredBlock(1));
        assertEquals(1, geometry.firstFullyCoveredBlock(4096));
        assertEquals(3, geometry.firstFullyCoveredBlock(8193));
        assertEquals(3, geometry.firstFullyCoveredBlock(10_000));

        assertEquals(0, geometry.fullyCoveredBlocksEnd(0, 4095));
        assertEquals(1, geometry.fullyCoveredBlocksEnd(0, 4096));
        assertEquals(2, geometry.fullyCoveredBlocksEnd(0, 9999));
        // Reaching the end of the volume covers the partial last block.
        assertEquals(3, geometry.fullyCoveredBlocksEnd(0, 10_000));
        assertEquals(3, geometry.fullyCoveredBlocksEnd(8192, 1808));
        assertThrows(IllegalArgumentException.class, () -> geometry.fullyCoveredBlocksEnd(0, -1));
        assertThrows(IndexOutOfBoundsException.class, () -> geometry.fullyCoveredBlocksEnd(10_000, 1));
    }

    @Test
    void shouldComputeByteLengthOfBlockRuns()
    {
        final BitmapGeometry geometry = new BitmapGeometry(10_000, 4096);
        assertEquals(10_000, geometry.blocksByteLength(0, 3));
        assertEquals(4096, geometry.blocksByteLength(1, 2));
        assertEquals(10_000 - 4096, geometry.blocksByteLength(1, 3));
        assertEquals(0, geometry.blocksByteLength(2, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> geometry.blocksByteLength(0, 4));
        assertThrows(IndexOutOfBoundsException.class, () -> geometry.blocksByteLength(2, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> geometry.blockByteOffset(3));
        assertThrows(IndexOutOfBoundsException.class, () -> geometry.blockByteLength(-1));
    }

    @Test
    void shouldDocumentMemoryPerTiB()
    {
        // 1 TiB / 4 KiB = 2^28 bits = 32 MiB; 1 TiB / 1 MiB = 2^20 bits = 128 KiB.
        assertEquals(32 * MIB, BitmapGeometry.bytesPerTiB(4096));
        assertEquals(128 * 1024, BitmapGeometry.bytesPerTiB(1024 * 1024));
        assertEquals(32 * MIB, new BitmapGeometry(TIB, 4096).memoryBytes());
        assertEquals(128 * 1024, new BitmapGeometry(TIB, 1024 * 1024).memoryBytes());
    }

    @Test
    void shouldCompareByVolumeAndBlockSize()
    {
        final BitmapGeometry a = new BitmapGeometry(MIB, 4096);
        assertEquals(a, new BitmapGeometry(MIB, 4096));
        assertEquals(a.hashCode(), new BitmapGeometry(MIB, 4096).hashCode());
        assertNotEquals(a, new BitmapGeometry(MIB, 8192));
        assertNotEquals(a, new BitmapGeometry(MIB + 1, 4096));
        assertSame(a, a.withBlockSize(4096));
        assertEquals(new BitmapGeometry(MIB, 65536), a.withBlockSize(65536));
        assertTrue(a.toString().contains("blockSize=4096"), a.toString());
    }
}
