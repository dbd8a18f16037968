package io.mirra.benchmarks.compression;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
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
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * LZ4 block compression of volume data, as a candidate for compressing the replication stream or the resync.
 * <p>
 * <b>No production class yet:</b> mirra does not compress anything so far, so this benchmark lives in
 * {@code io.mirra.benchmarks.compression} rather than in the package of a measured class. It measures
 * {@code at.yawk.lz4:lz4-java} directly: {@link LZ4Factory#fastestInstance()} (the JNI binding when its native
 * library loads, which it does on linux-x86_64), its fast compressor and its safe decompressor (the one that
 * validates its input, as data from a peer must be). Buffers are direct, as block data is in mirra.
 * <p>
 * Data, in blocks of 4 KiB or 64 KiB (16 different blocks, used in turn):
 * <ul>
 * <li>{@code zeros}: all zero (unwritten or trimmed space).</li>
 * <li>{@code random}: incompressible (encrypted or already compressed data).</li>
 * <li>{@code mixed}: filesystem-like: each 512-byte sector is zeros (30%), English-like text (30%), inode-table-like
 * fixed-size records (20%) or random bytes (20%). It compresses to about half.</li>
 * </ul>
 * The setup prints the compressed size of each data set and checks that every block decompresses to itself.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class Lz4BlockBenchmark
{
    private static final int BLOCKS = 16;
    private static final int SECTOR = 512;
    private static final String[] WORDS = (
        "the of and to in is that for it as was with be by on not he this are or his from at which but have an they " +
        "you were her she there been one all would their we him has when who will more no if out so said what up " +
        "its about into than them can only other new some could time these two may then do first any my now such " +
        "like our over man me even most made after also did many before must through back years where much your " +
        "way well down should because each just those people how too little state good very make world still own " +
        "volume block replica primary secondary resync bitmap write read flush trim zero export device kernel")
        .split(" ");

    /** Bytes per block. */
    @Param({"4096", "65536"})
    public int blockSize;

    /** Block contents: zeros, random or mixed. */
    @Param({"zeros", "random", "mixed"})
    public String data;

    private final LZ4Factory factory = LZ4Factory.fastestInstance();
    private final LZ4Compressor compressor = factory.fastCompressor();
    private final LZ4SafeDecompressor decompressor = factory.safeDecompressor();
    private ByteBuffer blocks;
    private ByteBuffer compressed;
    private final int[] compressedOffsets = new int[BLOCKS];
    private final int[] compressedLengths = new int[BLOCKS];
    private ByteBuffer out;
    private int next;

    /**
     * Generates the blocks, compresses them once for the decompression benchmark and checks the round trip.
     */
    @Setup(Level.Trial)
    public void setUp()
    {
        blocks = ByteBuffer.allocateDirect(BLOCKS * blockSize);
        final SplittableRandom random = new SplittableRandom(42);
        final byte[] block = new byte[blockSize];
        for (int i = 0; i < BLOCKS; i++)
        {
            fill(block, random);
            blocks.put(i * blockSize, block);
        }

        final int maxCompressed = compressor.maxCompressedLength(blockSize);
        out = ByteBuffer.allocateDirect(Math.max(maxCompressed, blockSize));
        compressed = ByteBuffer.allocateDirect(BLOCKS * maxCompressed);
        long total = 0;
        for (int i = 0; i < BLOCKS; i++)
        {
            compressedOffsets[i] = i * maxCompressed;
            compressedLengths[i] = compressor.compress(blocks, i * blockSize, blockSize, compressed,
                compressedOffsets[i], maxCompressed);
            total += compressedLengths[i];

            final int length = decompressor.decompress(compressed, compressedOffsets[i], compressedLengths[i], out, 0,
                blockSize);
            if (length != blockSize || !out.duplicate().limit(blockSize)
                .equals(blocks.duplicate().position(i * blockSize).limit((i + 1) * blockSize)))
            {
                throw new IllegalStateException("LZ4 round trip changed block " + i);
            }
        }
        System.out.printf("# %s, %s %d-byte blocks compress to %.1f%% on average%n", factory, data, blockSize,
            100.0 * total / ((long)BLOCKS * blockSize));
    }

    /**
     * Compresses the next block.
     *
     * @return compressed length.
     */
    @Benchmark
    public int compress()
    {
        final int i = next++ & (BLOCKS - 1);
        return compressor.compress(blocks, i * blockSize, blockSize, out, 0, out.capacity());
    }

    /**
     * Decompresses the next block, validating its input.
     *
     * @return decompressed length.
     */
    @Benchmark
    public int decompress()
    {
        final int i = next++ & (BLOCKS - 1);
        return decompressor.decompress(compressed, compressedOffsets[i], compressedLengths[i], out, 0, blockSize);
    }

    private void fill(final byte[] block, final SplittableRandom random)
    {
        switch (data)
        {
            case "zeros":
                Arrays.fill(block, (byte)0);
                break;
            case "random":
                random.nextBytes(block);
                break;
            case "mixed":
                for (int sector = 0; sector < block.length; sector += SECTOR)
                {
                    fillSector(block, sector, random);
                }
                break;
            default:
                throw new IllegalArgumentException("unknown data: " + data);
        }
    }

    private static void fillSector(final byte[] block, final int from, final SplittableRandom random)
    {
        final int to = from + SECTOR;
        final int kind = random.nextInt(10);
        if (kind < 3)
        {
            Arrays.fill(block, from, to, (byte)0);
        }
        else if (kind < 6)
        {
            int i = from;
            while (i < to)
            {
                final byte[] word = WORDS[random.nextInt(WORDS.length)].getBytes(StandardCharsets.US_ASCII);
                for (int k = 0; k < word.length && i < to; k++)
                {
                    block[i++] = word[k];
                }
                if (i < to)
                {
                    block[i++] = (byte)(random.nextInt(12) == 0 ? '\n' : random.nextInt(15) == 0 ? ',' : ' ');
                }
            }
        }
        else if (kind < 8)
        {
            // Inode-table-like: 128-byte records with an increasing number, nearby timestamps and small fields.
            final ByteBuffer records = ByteBuffer.wrap(block, from, SECTOR);
            final long inode = random.nextInt(1 << 20);
            final int time = 1_700_000_000 + random.nextInt(1 << 20);
            for (int r = 0; r < SECTOR / 128; r++)
            {
                final int base = from + r * 128;
                Arrays.fill(block, base, base + 128, (byte)0);
                records.putShort(base, (short)0x81a4)
                    .putInt(base + 4, random.nextInt(1 << 16))
                    .putInt(base + 8, time + random.nextInt(3600))
                    .putInt(base + 12, time + random.nextInt(3600))
                    .putInt(base + 16, time)
                    .putShort(base + 26, (short)1)
                    .putInt(base + 28, 8)
                    .putLong(base + 40, inode + r)
                    .putInt(base + 48, random.nextInt());
            }
        }
        else
        {
            for (int i = from; i < to; i++)
            {
                block[i] = (byte)random.nextInt();
            }
        }
    }
}
