package io.mirra.engine.storage;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.mirra.engine.storage.StorageTestSupport.KIB;
import static io.mirra.engine.storage.StorageTestSupport.MIB;
import static io.mirra.engine.storage.StorageTestSupport.allocatedBlocks;
import static io.mirra.engine.storage.StorageTestSupport.assertPattern;
import static io.mirra.engine.storage.StorageTestSupport.assertStorageError;
import static io.mirra.engine.storage.StorageTestSupport.assertZeros;
import static io.mirra.engine.storage.StorageTestSupport.extents;
import static io.mirra.engine.storage.StorageTestSupport.pattern;
import static io.mirra.engine.storage.StorageTestSupport.read;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link FileBlockStore} on regular files in a temporary directory (ext4 on the project's machines).
 */
@Timeout(60)
class FileBlockStoreTest
{
    @TempDir
    Path tempDir;

    @BeforeAll
    static void nativeIoMustLoad()
    {
        // Without it every native path below would silently test the fallback instead.
        assertTrue(LibC.isAvailable(), () -> "jnr-ffi binding failed to load: " + LibC.unavailableReason());
    }

    @Test
    void shouldCreateSparseFileWithOneHole() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, 8 * MIB))
        {
            assertEquals(8 * MIB, store.sizeBytes());
            assertEquals(8 * MIB, Files.size(path));
            assertFalse(store.isBlockDevice());
            assertFalse(store.isReadOnly());
            assertEquals(4096, store.preferredBlockSizeBytes());
            assertTrue(store.canTrim());
            assertTrue(store.canReportExtents());
            assertEquals("H" + 8 * MIB, extents(store, 0, 8 * MIB));
            assertEquals(0, allocatedBlocks(path));
            assertZeros(read(store, 3 * MIB + 17, 64 * KIB), 3 * MIB + 17);
        }
    }

    @Test
    void shouldWriteManyBuffersInOneGatheringWrite() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, 4 * MIB))
        {
            for (final boolean direct : new boolean[] {true, false})
            {
                // 150 pieces of uneven sizes (more than one pwritev batch), each a view with a non-zero position
                // into one pattern buffer, as a payload split over socket reads is.
                final long byteOffset = direct ? 4093 : 2 * MIB + 1;
                final int seed = direct ? 11 : 12;
                final int total = 150 * 7001;
                final ByteBuffer whole = pattern(direct, total + 5, byteOffset - 5, seed);
                final ByteBuffer[] pieces = new ByteBuffer[150];
                for (int i = 0; i < pieces.length; i++)
                {
                    final ByteBuffer view = whole.duplicate();
                    view.limit(5 + (i + 1) * 7001).position(5 + i * 7001);
                    pieces[i] = view;
                }
                store.write(pieces, byteOffset);
                for (final ByteBuffer piece : pieces)
                {
                    assertEquals(piece.limit(), piece.position(), "every buffer must be consumed");
                }
                assertPattern(read(store, byteOffset, total), byteOffset, seed);
            }
            assertZeros(read(store, 0, 4093), 0);

            final ByteBuffer[] pastEnd = { ByteBuffer.allocateDirect(4096), ByteBuffer.allocateDirect(4096) };
            assertStorageError(StorageException.EINVAL, () -> store.write(pastEnd, 4 * MIB - 4096));
            assertEquals(0, pastEnd[0].position(), "a refused write consumes nothing");
        }
    }

    @Test
    void shouldRoundTripWritesAtUnalignedOffsets() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, MIB))
        {
            final long[] offsets = { 0, 1, 4093, 65535, MIB - 10_001 };
            for (int i = 0; i < offsets.length; i++)
            {
                final boolean direct = 0 == i % 2;
                final ByteBuffer src = pattern(direct, 10_001, offsets[i], i);
                store.write(src, offsets[i]);
                assertEquals(src.limit(), src.position(), "write must consume the buffer");

                final ByteBuffer heapDst = ByteBuffer.allocate(10_001);
                store.read(heapDst, offsets[i]);
                assertEquals(heapDst.limit(), heapDst.position());
                assertPattern(heapDst.flip(), offsets[i], i);
                assertPattern(read(store, offsets[i], 10_001), offsets[i], i);
            }

            // A read that starts in one write and ends in a never-written range.
            final ByteBuffer mixed = read(store, 65535 + 10_000, 2);
            assertEquals(StorageTestSupport.patternByte(65535 + 10_000, 3), mixed.get(0));
            assertEquals(0, mixed.get(1));
        }
    }

    @Test
    void shouldReadZerosPastTheEndOfATruncatedFile() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, 64 * KIB))
        {
            store.write(pattern(true, 64 * KIB, 0, 7), 0);
            try (FileChannel other = FileChannel.open(path, StandardOpenOption.WRITE))
            {
                other.truncate(10_000); // someone shrank the file behind the store's back
            }

            final ByteBuffer buffer = read(store, 8192, 64 * KIB - 8192);
            assertPattern(buffer.slice(0, 10_000 - 8192), 8192, 7);
            assertZeros(buffer.slice(10_000 - 8192, buffer.limit() - (10_000 - 8192)), 10_000);
            assertEquals("D1808 H55536", extents(store, 8192, 64 * KIB - 8192)); // data ends at the new EOF
        }
    }

    @Test
    void shouldFlushWrittenDataSoThatAnotherOpenSeesIt() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, MIB))
        {
            store.write(pattern(true, 8192, 4096, 1), 4096);
            store.flush();
            try (FileBlockStore reader = FileBlockStore.open(path, true))
            {
                assertPattern(read(reader, 4096, 8192), 4096, 1);
                reader.flush(); // a no-op on a read-only store, but allowed
            }
        }
    }

    @Test
    void shouldTrimToAHoleThatReadsAsZeros() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, MIB))
        {
            store.write(pattern(true, 64 * KIB, 0, 2), 0);
            store.flush();
            assertEquals(128, allocatedBlocks(path));

            store.trim(16 * KIB, 16 * KIB);

            assertZeros(read(store, 16 * KIB, 16 * KIB), 16 * KIB);
            assertPattern(read(store, 0, 16 * KIB), 0, 2);
            assertPattern(read(store, 32 * KIB, 32 * KIB), 32 * KIB, 2);
            assertEquals("D16384 H16384 D32768 H" + (MIB - 64 * KIB), extents(store, 0, MIB));
            assertEquals(96, allocatedBlocks(path));
        }
    }

    @Test
    void shouldZeroWithoutPunchingAndKeepTheRangeAllocated() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, MIB))
        {
            store.write(pattern(true, 64 * KIB, 0, 3), 0);
            store.flush();
            assertEquals(128, allocatedBlocks(path));

            assertTrue(store.zero(16 * KIB + 100, 16 * KIB, false, false));

            assertPattern(read(store, 0, 16 * KIB + 100), 0, 3);
            assertZeros(read(store, 16 * KIB + 100, 16 * KIB), 16 * KIB + 100);
            assertPattern(read(store, 32 * KIB + 100, 32 * KIB - 100), 32 * KIB + 100, 3);
            // NO_HOLE means no deallocation: the blocks stay. (ext4 keeps them as unwritten extents, which
            // SEEK_DATA reports as a hole until the page cache holds them; only the allocation tells them apart.)
            assertEquals(128, allocatedBlocks(path));
        }
    }

    @Test
    void shouldZeroByPunchingAHoleWhenAllowed() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, MIB))
        {
            store.write(pattern(true, 64 * KIB, 0, 4), 0);
            store.flush();

            assertTrue(store.zero(32 * KIB, 32 * KIB, true, true));

            assertZeros(read(store, 32 * KIB, 32 * KIB), 32 * KIB);
            assertPattern(read(store, 0, 32 * KIB), 0, 4);
            assertEquals("D32768 H" + (MIB - 32 * KIB), extents(store, 0, MIB));
            assertEquals(64, allocatedBlocks(path));
        }
    }

    @Test
    void shouldZeroFastOnlyOnExt4WithoutWritingZeros() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, MIB))
        {
            // FALLOC_FL_ZERO_RANGE, so no zeros are written. (Extents cannot tell: ext4 reports its unwritten
            // extents as holes, or as data once a read has brought them into the page cache.)
            assertTrue(store.zero(256 * KIB, 512 * KIB, false, true));
            assertZeros(read(store, 256 * KIB, 512 * KIB), 256 * KIB);

            store.write(pattern(true, 8192, 0, 5), 0);
            assertTrue(store.zero(0, 8192, false, true));
            assertZeros(read(store, 0, 8192), 0);
        }
    }

    @Test
    void shouldFallBackToFileChannelWithoutNativeIo() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.openOrCreate(path, MIB, false, false))
        {
            assertFalse(store.canTrim());
            assertFalse(store.canReportExtents());
            store.write(pattern(true, 64 * KIB, 0, 6), 0);

            store.trim(0, 16 * KIB); // does nothing: trim is advice
            assertPattern(read(store, 0, 16 * KIB), 0, 6);

            assertFalse(store.zero(16 * KIB, 16 * KIB, true, true), "no fast zeroing without native I/O");
            assertPattern(read(store, 16 * KIB, 16 * KIB), 16 * KIB, 6);

            assertTrue(store.zero(16 * KIB, 3 * MIB / 4, true, false));
            assertZeros(read(store, 16 * KIB, 3 * MIB / 4), 16 * KIB);
            assertPattern(read(store, 0, 16 * KIB), 0, 6);

            assertEquals("D" + MIB, extents(store, 0, MIB));
            assertEquals("D100", extents(store, 5, 100));
        }
    }

    @Test
    void shouldWriteZerosInChunksWithoutNativeIo() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        final int size = 3 * MIB + 4096;
        try (FileBlockStore store = FileBlockStore.openOrCreate(path, size, false, false))
        {
            store.write(pattern(true, size, 0, 8), 0);
            assertTrue(store.zero(1, size - 2, false, false));
            final ByteBuffer all = read(store, 0, size);
            assertEquals(StorageTestSupport.patternByte(0, 8), all.get(0));
            assertEquals(StorageTestSupport.patternByte(size - 1, 8), all.get(size - 1));
            assertZeros(all.slice(1, size - 2), 1);
        }
    }

    @Test
    void shouldReportExtentsExactlyAndClipped() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, MIB))
        {
            store.write(pattern(true, 64 * KIB, 0, 9), 0);
            store.write(pattern(true, 64 * KIB, 256 * KIB, 9), 256 * KIB);

            assertEquals("D65536 H196608 D65536 H720896", extents(store, 0, MIB));
            assertEquals("D32768 H196608 D32768", extents(store, 32 * KIB, 256 * KIB));
            assertEquals("H102400", extents(store, 100 * KIB, 100 * KIB));
            assertEquals("D1", extents(store, 300 * KIB, 1));
            assertEquals("H65536", extents(store, MIB - 64 * KIB, 64 * KIB));
            assertEquals("H65536 D65536 H65536", extents(store, 192 * KIB, 192 * KIB));
            assertEquals("", extents(store, 0, 0));
        }
    }

    @Test
    void shouldStopReportingExtentsWhenTheSinkSaysSo() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, MIB))
        {
            store.write(pattern(true, 4096, 0, 10), 0);
            store.write(pattern(true, 4096, 512 * KIB, 10), 512 * KIB);

            final List<String> runs = new ArrayList<>();
            store.extents(0, MIB, (length, hole) -> runs.add((hole ? "H" : "D") + length) && runs.size() < 2);

            assertEquals(List.of("D4096", "H" + (512 * KIB - 4096)), runs);
        }
    }

    @Test
    void shouldRejectWritesTrimAndZeroOnAReadOnlyStore() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore writer = FileBlockStore.create(path, MIB))
        {
            writer.write(pattern(true, 8192, 0, 11), 0);
        }

        try (FileBlockStore store = FileBlockStore.open(path, true))
        {
            assertTrue(store.isReadOnly());
            assertFalse(store.canTrim());
            assertStorageError(StorageException.EROFS, () -> store.write(pattern(true, 10, 0, 0), 0));
            assertStorageError(StorageException.EROFS, () -> store.trim(0, 4096));
            assertStorageError(StorageException.EROFS, () -> store.zero(0, 4096, true, false));
            assertPattern(read(store, 0, 8192), 0, 11);
            assertEquals("D8192 H" + (MIB - 8192), extents(store, 0, MIB));
        }
    }

    @Test
    void shouldFailEveryCallWithEioOnceClosed() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        final FileBlockStore store = FileBlockStore.create(path, MIB);
        store.close();
        store.close(); // idempotent

        final List<StorageTestSupport.StorageCall> calls = List.of(
            () -> store.read(ByteBuffer.allocate(10), 0),
            () -> store.write(ByteBuffer.allocate(10), 0),
            store::flush,
            () -> store.trim(0, 4096),
            () -> store.zero(0, 4096, false, false),
            () -> store.extents(0, 4096, (length, hole) -> true));
        for (final StorageTestSupport.StorageCall call : calls)
        {
            final StorageException ex = assertStorageError(StorageException.EIO, call);
            assertTrue(ex.getMessage().startsWith("store closed: "), ex.getMessage());
            assertTrue(ex.getMessage().contains(path.toString()), ex.getMessage());
        }
        assertEquals(MIB, store.sizeBytes());
    }

    @Test
    void shouldRejectRangesOutsideTheStoreWithEinval() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, MIB))
        {
            final StorageException ex = assertStorageError(
                StorageException.EINVAL, () -> store.read(ByteBuffer.allocate(2), MIB - 1));
            assertEquals("read " + path + " offset=1048575 length=2 is outside the store of 1048576 bytes",
                ex.getMessage());

            assertStorageError(StorageException.EINVAL, () -> store.read(ByteBuffer.allocate(1), -1));
            assertStorageError(StorageException.EINVAL, () -> store.write(ByteBuffer.allocate(1), MIB));
            assertStorageError(StorageException.EINVAL, () -> store.write(ByteBuffer.allocate(1), Long.MAX_VALUE));
            assertStorageError(StorageException.EINVAL, () -> store.trim(MIB - 4096, 8192));
            assertStorageError(StorageException.EINVAL, () -> store.trim(4096, -1));
            assertStorageError(StorageException.EINVAL, () -> store.zero(1, Long.MAX_VALUE, true, false));
            assertStorageError(StorageException.EINVAL, () -> store.extents(MIB, 1, (length, hole) -> true));

            store.read(ByteBuffer.allocate(0), MIB); // an empty range at the very end is fine
            assertEquals(MIB, Files.size(path), "nothing may grow the file");
        }
    }

    @Test
    void shouldExplainOpenOrCreateErrors() throws Exception
    {
        final Path missing = tempDir.resolve("missing.img");
        StorageException ex = assertStorageError(
            StorageException.EINVAL, () -> FileBlockStore.openOrCreate(missing, -1, false));
        assertEquals(missing + " does not exist; give --size to create it", ex.getMessage());
        assertStorageError(StorageException.EINVAL, () -> FileBlockStore.openOrCreate(missing, MIB, true));
        assertStorageError(StorageException.EINVAL, () -> FileBlockStore.openOrCreate(missing, 0, false));
        assertFalse(Files.exists(missing));

        final Path full = tempDir.resolve("full.img");
        try (FileBlockStore store = FileBlockStore.create(full, MIB))
        {
            store.write(pattern(true, 100, 0, 12), 0);
        }
        ex = assertStorageError(StorageException.EINVAL, () -> FileBlockStore.openOrCreate(full, 2 * MIB, false));
        assertTrue(ex.getMessage().contains("1048576 bytes but --size is 2097152 bytes"), ex.getMessage());
        ex = assertStorageError(StorageException.EINVAL, () -> FileBlockStore.create(full, MIB));
        assertEquals("cannot create " + full + ": it already exists", ex.getMessage());
        assertEquals(MIB, Files.size(full));

        final Path empty = Files.createFile(tempDir.resolve("empty.img"));
        ex = assertStorageError(StorageException.EINVAL, () -> FileBlockStore.open(empty, false));
        assertEquals(empty + " is empty; give --size to set its size", ex.getMessage());

        ex = assertStorageError(StorageException.EINVAL, () -> FileBlockStore.open(tempDir, false));
        assertTrue(ex.getMessage().contains("is a directory"), ex.getMessage());
        ex = assertStorageError(StorageException.EINVAL, () -> FileBlockStore.open(Paths.get("/dev/null"), true));
        assertTrue(ex.getMessage().contains("neither a regular file nor a block device"), ex.getMessage());
        ex = assertStorageError(
            StorageException.EINVAL, () -> FileBlockStore.create(tempDir.resolve("no/such/dir.img"), MIB));
        assertTrue(ex.getMessage().contains("its directory does not exist"), ex.getMessage());
    }

    @Test
    void shouldCreateMissingFileAndExtendOnlyAnEmptyOne() throws Exception
    {
        final Path created = tempDir.resolve("created.img");
        try (FileBlockStore store = FileBlockStore.openOrCreate(created, 2 * MIB, false))
        {
            assertEquals(2 * MIB, store.sizeBytes());
            store.write(pattern(true, 4096, 4096, 13), 4096);
        }
        try (FileBlockStore store = FileBlockStore.openOrCreate(created, 2 * MIB, false))
        {
            assertPattern(read(store, 4096, 4096), 4096, 13);
        }
        try (FileBlockStore store = FileBlockStore.openOrCreate(created, -1, true))
        {
            assertEquals(2 * MIB, store.sizeBytes());
        }

        final Path empty = Files.createFile(tempDir.resolve("empty.img"));
        try (FileBlockStore store = FileBlockStore.openOrCreate(empty, 3 * MIB, false))
        {
            assertEquals(3 * MIB, store.sizeBytes());
            assertEquals(3 * MIB, Files.size(empty));
            assertEquals("H" + 3 * MIB, extents(store, 0, 3 * MIB));
        }
    }

    @Test
    void shouldKeepTheStoreOpenWhenTheCallerHasAPendingInterrupt() throws Exception
    {
        final Path path = tempDir.resolve("disk.img");
        try (FileBlockStore store = FileBlockStore.create(path, MIB))
        {
            Thread.currentThread().interrupt();
            try
            {
                store.write(pattern(true, 4096, 0, 14), 0);
                assertTrue(Thread.currentThread().isInterrupted(), "the interrupt must be restored");
                assertPattern(read(store, 0, 4096), 0, 14);
                assertTrue(Thread.currentThread().isInterrupted(), "the interrupt must be restored");
            }
            finally
            {
                Thread.interrupted();
            }
            assertPattern(read(store, 0, 4096), 0, 14);
        }
    }
}
