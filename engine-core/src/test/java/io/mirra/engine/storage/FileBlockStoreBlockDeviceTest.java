package io.mirra.engine.storage;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.mirra.engine.storage.StorageTestSupport.KIB;
import static io.mirra.engine.storage.StorageTestSupport.MIB;
import static io.mirra.engine.storage.StorageTestSupport.assertPattern;
import static io.mirra.engine.storage.StorageTestSupport.assertStorageError;
import static io.mirra.engine.storage.StorageTestSupport.assertZeros;
import static io.mirra.engine.storage.StorageTestSupport.extents;
import static io.mirra.engine.storage.StorageTestSupport.pattern;
import static io.mirra.engine.storage.StorageTestSupport.read;
import static io.mirra.engine.storage.StorageTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link FileBlockStore} on a real block device: a loop device over a 64 MiB sparse file.
 * <p>
 * Needs root and loop devices, as on every machine of this project (CI included). It is deliberately not skipped
 * when {@code losetup} fails: the test fails with the command's output instead.
 */
@Timeout(120)
class FileBlockStoreBlockDeviceTest
{
    private static final long DEVICE_SIZE = 64L * MIB;

    @TempDir
    Path tempDir;

    private Path backingFile;
    private Path device;

    @BeforeEach
    void attachLoopDevice() throws Exception
    {
        backingFile = tempDir.resolve("backing.img");
        try (RandomAccessFile file = new RandomAccessFile(backingFile.toFile(), "rw"))
        {
            file.setLength(DEVICE_SIZE);
        }
        device = Paths.get(run(List.of("losetup", "--find", "--show", backingFile.toString())).trim());
    }

    @AfterEach
    void detachLoopDevice() throws Exception
    {
        if (null != device)
        {
            run(List.of("losetup", "-d", device.toString()));
        }
    }

    @Test
    void shouldReportGeometryAndRoundTripData() throws Exception
    {
        try (FileBlockStore store = FileBlockStore.open(device, false))
        {
            assertTrue(store.isBlockDevice());
            assertEquals(DEVICE_SIZE, store.sizeBytes());
            assertEquals(512, store.preferredBlockSizeBytes());
            assertTrue(store.canTrim());
            assertFalse(store.canReportExtents());

            final long offset = 5 * MIB + 123;
            store.write(pattern(true, 100_000, offset, 1), offset);
            store.write(pattern(false, 777, DEVICE_SIZE - 777, 2), DEVICE_SIZE - 777);
            store.flush();

            assertPattern(read(store, offset, 100_000), offset, 1);
            assertPattern(read(store, DEVICE_SIZE - 777, 777), DEVICE_SIZE - 777, 2);
            assertZeros(read(store, 0, 64 * KIB), 0);

            // The data went through the device: after the flush it is in the backing file.
            try (FileChannel backing = FileChannel.open(backingFile, StandardOpenOption.READ))
            {
                final ByteBuffer buffer = ByteBuffer.allocate(100_000);
                backing.read(buffer, offset);
                assertPattern(buffer.flip(), offset, 1);
            }

            assertEquals("D" + DEVICE_SIZE, extents(store, 0, DEVICE_SIZE));
            assertEquals("D1000", extents(store, 7, 1000));
            assertStorageError(StorageException.EINVAL, () -> store.read(ByteBuffer.allocate(2), DEVICE_SIZE - 1));
        }
    }

    @Test
    void shouldTrimWholeBlocksAndZeroRanges() throws Exception
    {
        try (FileBlockStore store = FileBlockStore.open(device, false))
        {
            store.write(pattern(true, MIB, 0, 3), 0);
            store.flush();

            // Discard covers only whole 512-byte blocks: [4608, 69632) of [4196, 69732).
            store.trim(4096 + 100, 64 * KIB);
            assertPattern(read(store, 0, 4608), 0, 3);
            assertZeros(read(store, 4608, 69632 - 4608), 4608);
            assertPattern(read(store, 69632, 1000), 69632, 3);

            // On a loop device the discard reaches the backing file as a punched hole: whole 4 KiB fs blocks of
            // [4608, 69632), i.e. [8192, 69632).
            try (FileBlockStore backing = FileBlockStore.open(backingFile, true))
            {
                assertEquals("D4096 H61440", extents(backing, 4096, 64 * KIB));
            }

            assertTrue(store.zero(200_007, 300_000, false, false));
            assertPattern(read(store, 190_000, 10_007), 190_000, 3);
            assertZeros(read(store, 200_007, 300_000), 200_007);
            assertPattern(read(store, 500_007, 10_000), 500_007, 3);

            assertTrue(store.zero(600_000, 100_001, true, true), "BLKZEROOUT is a fast zero");
            assertZeros(read(store, 600_000, 100_001), 600_000);
            assertPattern(read(store, 700_001, 1000), 700_001, 3);

            assertTrue(store.zero(800_001, 10, false, true), "a range inside one block is written");
            assertZeros(read(store, 800_001, 10), 800_001);
            assertPattern(read(store, 800_011, 1000), 800_011, 3);
        }
    }

    @Test
    void shouldClaimAWritableDeviceExclusively() throws Exception
    {
        try (FileBlockStore store = FileBlockStore.open(device, false))
        {
            store.write(pattern(true, 4096, 0, 4), 0);
            store.flush();

            final StorageException ex = assertStorageError(16, () -> FileBlockStore.open(device, false));
            assertTrue(ex.getMessage().contains("in use"), ex.getMessage());

            try (FileBlockStore reader = FileBlockStore.open(device, true))
            {
                assertTrue(reader.isReadOnly());
                assertPattern(read(reader, 0, 4096), 0, 4);
                assertStorageError(StorageException.EROFS, () -> reader.zero(0, 4096, false, false));
            }
        }

        try (FileBlockStore again = FileBlockStore.open(device, false))
        {
            assertPattern(read(again, 0, 4096), 0, 4);
        }
    }

    @Test
    void shouldRefuseToResizeADevice() throws Exception
    {
        final StorageException ex = assertStorageError(
            StorageException.EINVAL, () -> FileBlockStore.openOrCreate(device, 32 * MIB, false));
        assertTrue(ex.getMessage().contains("is 67108864 bytes but --size is 33554432 bytes"), ex.getMessage());

        try (FileBlockStore store = FileBlockStore.openOrCreate(device, DEVICE_SIZE, false))
        {
            assertEquals(DEVICE_SIZE, store.sizeBytes());
        }
    }

    @Test
    void shouldWorkWithFileChannelOnlyWithoutNativeIo() throws Exception
    {
        try (FileBlockStore store = FileBlockStore.openOrCreate(device, -1, false, false))
        {
            assertTrue(store.isBlockDevice());
            assertEquals(DEVICE_SIZE, store.sizeBytes());
            assertEquals(512, store.preferredBlockSizeBytes());
            assertFalse(store.canTrim());

            store.write(pattern(true, 64 * KIB, 0, 5), 0);
            assertFalse(store.zero(0, 8192, true, true), "no fast zeroing without native I/O");
            assertPattern(read(store, 0, 8192), 0, 5);
            assertTrue(store.zero(100, 8192, true, false));
            assertZeros(read(store, 100, 8192), 100);
            assertPattern(read(store, 8292, 1000), 8292, 5);
            assertEquals("D" + DEVICE_SIZE, extents(store, 0, DEVICE_SIZE));
        }
    }
}
