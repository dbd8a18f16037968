package io.mirra.engine.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The volume metadata survives torn writes: two checksummed slots, the newer valid one wins, garbage is refused. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class VolumeMetaTest
{
    private static final String[] PEERS = {"bravo", "charlie"};

    @TempDir
    Path dir;

    private VolumeMeta load(final Path file) throws IOException
    {
        return VolumeMeta.loadOrCreate(file, true, 1L << 30, 4096, PEERS);
    }

    @Test
    void shouldPersistEveryFieldAndThePeerRecords() throws IOException
    {
        final Path file = dir.resolve("r-0.meta");
        final VolumeMeta meta = load(file);
        assertEquals(DiskState.UP_TO_DATE, meta.diskState());
        assertEquals(VolumeMeta.GEN_JUST_CREATED, meta.currentGen());
        final long gen = meta.newGeneration();
        meta.setPeer(1, VolumeMeta.GEN_JUST_CREATED, VolumeMeta.PEER_BITMAP_UNTRUSTED);
        meta.setPrimary(true);
        meta.setClean(false);
        meta.setDiskState(DiskState.OUTDATED);

        // Reloaded with the peers in another order and one new peer: records follow the names.
        final VolumeMeta again = VolumeMeta.loadOrCreate(file, false, 1L << 30, 4096,
            new String[] {"charlie", "delta", "bravo"});
        assertEquals(DiskState.OUTDATED, again.diskState());
        assertEquals(gen, again.currentGen());
        assertArrayEquals(new long[] {VolumeMeta.GEN_JUST_CREATED}, again.historyCopy());
        assertTrue(again.wasPrimary());
        assertFalse(again.wasClean());
        assertEquals(VolumeMeta.GEN_JUST_CREATED, again.peerBitmapGen(0));
        assertEquals(VolumeMeta.PEER_BITMAP_UNTRUSTED, again.peerFlags(0));
        assertEquals(0, again.peerBitmapGen(1));
        assertEquals(0, again.peerBitmapGen(2));
    }

    @Test
    void shouldFallBackToThePreviousRecordWhenTheLatestWriteIsTorn() throws IOException
    {
        final Path file = dir.resolve("r-0.meta");
        final VolumeMeta meta = load(file);
        final long first = meta.newGeneration();
        final long second = meta.newGeneration(); // the newest record: its slot is torn below
        assertTrue(first != second);
        final byte[] bytes = Files.readAllBytes(file);
        final int newest = findSlotWithGen(bytes, second);
        for (int i = newest + 2048; i < newest + 4096; i++)
        {
            bytes[i] = 0; // the second half of the slot never reached the disk
        }
        Files.write(file, bytes);
        final VolumeMeta loaded = load(file);
        assertEquals(first, loaded.currentGen(), "the record before the torn write");
        assertNotNull(loaded.loadNote());
        assertTrue(loaded.loadNote().contains("checksum"), loaded.loadNote());
    }

    private static int findSlotWithGen(final byte[] bytes, final long gen)
    {
        final java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at < bytes.length; at += VolumeMeta.SLOT_SIZE)
        {
            if (b.getLong(at + 40) == gen)
            {
                return at;
            }
        }
        throw new AssertionError("no slot with generation " + VolumeMeta.hex(gen));
    }

    @Test
    void shouldRefuseMetadataWhoseBothCopiesFailTheirChecksum() throws IOException
    {
        final Path file = dir.resolve("r-0.meta");
        load(file).newGeneration();
        final byte[] bytes = Files.readAllBytes(file);
        bytes[40] ^= 1; // a flipped bit in each slot's generation
        bytes[VolumeMeta.SLOT_SIZE + 40] ^= 1;
        Files.write(file, bytes);
        final IOException refused = assertThrows(IOException.class, () -> load(file));
        assertTrue(refused.getMessage().contains("neither copy of the metadata is valid"), refused.getMessage());
        assertTrue(refused.getMessage().contains(file.toString()), refused.getMessage());
    }

    @Test
    void shouldRefuseATruncatedFileAndAnotherVolumeSize() throws IOException
    {
        final Path file = dir.resolve("r-0.meta");
        load(file);
        final IOException size = assertThrows(IOException.class,
            () -> VolumeMeta.loadOrCreate(file, false, 2L << 30, 4096, PEERS));
        assertTrue(size.getMessage().contains("cannot change size"), size.getMessage());
        Files.write(file, java.util.Arrays.copyOf(Files.readAllBytes(file), 100));
        final IOException truncated = assertThrows(IOException.class, () -> load(file));
        assertTrue(truncated.getMessage().contains("truncated"), truncated.getMessage());
    }

    @Test
    void shouldUpgradeTheTextFormatOfEarlierVersions() throws IOException
    {
        final Path file = dir.resolve("r-0.meta");
        Files.writeString(file, "# mirra volume metadata\nversion=1\ndisk-state=Outdated\ncurrent-gen=00000000000000F0\n" +
            "history=0000000000000004\nprimary=1\n", StandardCharsets.UTF_8);
        final VolumeMeta meta = load(file);
        assertEquals(DiskState.OUTDATED, meta.diskState());
        assertEquals(0xF0, meta.currentGen());
        assertTrue(meta.wasPrimary());
        assertFalse(meta.wasClean(), "a Primary flag left set was a crash");
        assertEquals(2 * VolumeMeta.SLOT_SIZE, Files.size(file), "rewritten in the checksummed format");
        assertEquals(0xF0, load(file).currentGen());
    }
}
