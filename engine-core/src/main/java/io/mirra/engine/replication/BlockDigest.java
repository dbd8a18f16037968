package io.mirra.engine.replication;

import java.nio.ByteBuffer;
import java.util.zip.Adler32;
import java.util.zip.CRC32C;

/**
 * The 64-bit digest of a block that an online verify compares between two copies: CRC-32C of the block in the high
 * half, Adler-32 in the low half (two different checks, both computed by the JDK's intrinsics). Not a cryptographic
 * hash: it finds damaged or diverged blocks, not forgeries. Not thread-safe: one instance per thread.
 */
final class BlockDigest
{
    private final CRC32C crc = new CRC32C();
    private final Adler32 adler = new Adler32();

    /**
     * Digest each block of a range.
     *
     * @param data      the range, from its position to its limit; its position is not changed.
     * @param blockSize bytes per digest (the last block may be shorter).
     * @param out       receives ceil(remaining / blockSize) digests.
     * @return how many digests were written.
     */
    int digests(final ByteBuffer data, final int blockSize, final long[] out)
    {
        final int start = data.position();
        final int end = data.limit();
        int n = 0;
        for (int at = start; at < end; at += blockSize)
        {
            final ByteBuffer block = data.duplicate();
            block.position(at).limit(Math.min(end, at + blockSize));
            crc.reset();
            crc.update(block);
            block.position(at);
            adler.reset();
            adler.update(block);
            out[n++] = crc.getValue() << 32 | adler.getValue();
        }
        return n;
    }

    /**
     * @param length    bytes of a range.
     * @param blockSize bytes per digest.
     * @return digests of the range.
     */
    static int count(final long length, final int blockSize)
    {
        return (int)((length + blockSize - 1) / blockSize);
    }
}
