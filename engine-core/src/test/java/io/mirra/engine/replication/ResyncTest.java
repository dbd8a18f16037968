package io.mirra.engine.replication;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static io.mirra.engine.replication.EngineCluster.await;
import static io.mirra.engine.replication.EngineCluster.awaitCondition;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A copy that missed writes catches up by resync (SPEC §1, §2.4): only the blocks marked out of sync are copied,
 * applications keep writing meanwhile, and the copy is declared UpToDate only when it equals its source.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ResyncTest
{
    private static final long SEED = Long.getLong("mirra.test.seed", System.nanoTime());
    private static final long SIZE = 16L << 20;

    @TempDir
    Path dir;

    private EngineCluster cluster;

    @AfterEach
    void tearDown()
    {
        if (cluster != null)
        {
            cluster.close();
        }
    }

    private ResourceStatus.ConnectionStatus connection(final String node, final String peer)
    {
        return cluster.node(node).resource.status().connections().stream()
            .filter((c) -> c.peerName().equals(peer)).findFirst().orElseThrow();
    }

    private void awaitEqualDisks(final String a, final String b)
    {
        awaitCondition(a + " and " + b + " hold the same data", () ->
        {
            try
            {
                return Arrays.equals(cluster.node(a).readDisk(0, 0, (int)SIZE), cluster.node(b).readDisk(0, 0,
                    (int)SIZE));
            }
            catch (final Exception ex)
            {
                throw new AssertionError(ex);
            }
        });
    }

    private void awaitUpToDate(final String node)
    {
        awaitCondition(node + " UpToDate", () ->
            cluster.node(node).resource.status().devices().get(0).diskState() == DiskState.UP_TO_DATE);
    }

    @Test
    void shouldCopyExactlyTheBlocksWrittenWhileAPeerWasAway() throws Exception
    {
        System.out.println("seed " + SEED);
        final Random random = new Random(SEED);
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        a.write(0, 0, new byte[4096], false);
        cluster.proxy("a", "b").cut();
        awaitCondition("a lost b", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED);
        // About 1% of the volume, in distinct 4 KiB blocks.
        final int blocks = (int)(SIZE / 4096 / 100);
        final java.util.Set<Integer> written = new java.util.HashSet<>();
        while (written.size() < blocks)
        {
            final int block = random.nextInt((int)(SIZE / 4096));
            final byte[] data = new byte[4096];
            random.nextBytes(data);
            a.write(0, 4096L * block, data, false);
            written.add(block);
        }
        final long outOfSync = connection("a", "b").peerDevices().get(0).outOfSyncBytes();
        assertEquals(4096L * blocks, outOfSync);
        final long sentBefore = connection("a", "b").peerDevices().get(0).sentBytes();
        cluster.proxy("a", "b").heal();
        awaitUpToDate("b");
        awaitCondition("a replicates to b again", () ->
            connection("a", "b").peerDevices().get(0).replicationState() == ReplicationState.ESTABLISHED);
        assertEquals(outOfSync, connection("a", "b").peerDevices().get(0).sentBytes() - sentBefore,
            "the resync copied exactly the out-of-sync blocks");
        assertEquals(0, connection("a", "b").peerDevices().get(0).outOfSyncBytes());
        awaitEqualDisks("a", "b");
        assertEquals(cluster.node("a").resource.currentGeneration(0), cluster.node("b").resource.currentGeneration(0));
        awaitCondition("a sees b UpToDate", () -> connection("a", "b").peerDevices().get(0).peerDiskState() ==
            DiskState.UP_TO_DATE);
        assertEquals(0L, await(a.resource.verify("b")), "an online verify after the resync finds no difference");
        // Replication goes on after the resync.
        a.write(0, 8192, new byte[] {42}, false);
        assertEquals(42, cluster.node("b").readDisk(0, 8192, 1)[0]);
    }

    @Test
    void shouldResyncWritesThatWereInFlightWhenTheLinkWentDown() throws Exception
    {
        final Random random = new Random(SEED);
        // Protocol A: writes complete on the local disk; the peer's copy is behind by what the link still carried.
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).protocol(Protocol.A).diskNodes("a", "b")
            .proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        a.write(0, 0, new byte[4096], false);
        awaitEqualDisks("a", "b");
        final String genBefore = a.resource.currentGeneration(0);
        // The link hangs: what a sends from here never reaches b, and no write follows the drop.
        cluster.proxy("a", "b").blackhole();
        final byte[] data = new byte[64 * 1024];
        random.nextBytes(data);
        a.write(0, 1 << 20, data, false);
        cluster.proxy("a", "b").cut();
        awaitCondition("a lost b", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED);
        awaitCondition("a marked the write b may lack", () ->
            connection("a", "b").peerDevices().get(0).outOfSyncBytes() == data.length);
        assertTrue(!a.resource.currentGeneration(0).equals(genBefore),
            "a write b missed starts a new generation even when no write follows the drop");
        cluster.proxy("a", "b").heal();
        awaitCondition("b resynced from a", () -> connection("a", "b").peerDevices().get(0).replicationState() ==
            ReplicationState.ESTABLISHED && connection("a", "b").peerDevices().get(0).outOfSyncBytes() == 0);
        awaitUpToDate("b");
        awaitEqualDisks("a", "b");
    }

    /** Write random 64 KiB blocks through a until stopped; returns the writer. */
    private Thread writeUntilStopped(final EngineCluster.Node a, final long seed,
        final java.util.concurrent.atomic.AtomicBoolean stop, final java.util.concurrent.atomic.AtomicLong written)
    {
        final Thread writer = new Thread(() ->
        {
            final Random random = new Random(seed);
            final byte[] block = new byte[64 * 1024];
            while (!stop.get())
            {
                random.nextBytes(block);
                a.write(0, (long)random.nextInt((int)(SIZE / block.length)) * block.length, block, false);
                written.addAndGet(block.length);
            }
        }, "test-writer");
        writer.start();
        return writer;
    }

    private void resyncUnderConstantWrites(final boolean withoutReplication) throws Exception
    {
        resyncUnderConstantWrites(withoutReplication, false);
    }

    private void resyncUnderConstantWrites(final boolean withoutReplication, final boolean checksums) throws Exception
    {
        System.out.println("seed " + SEED + ", resync without replication: " + withoutReplication + ", checksums: " +
            checksums);
        // The resync (4 MiB/s) is slower than the writes: chasing them with bits alone would never end.
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).resyncRateMax(4L << 20)
            .resyncWithoutReplication(withoutReplication).resyncChecksums(checksums).diskNodes("a", "b").proxies(true)
            .build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        cluster.proxy("a", "b").cut();
        awaitCondition("a lost b", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED);
        final byte[] block = new byte[64 * 1024];
        final Random random = new Random(SEED);
        for (int i = 0; i < 48; i++)
        {
            random.nextBytes(block);
            a.write(0, (long)random.nextInt((int)(SIZE / block.length)) * block.length, block, false);
        }
        final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        final java.util.concurrent.atomic.AtomicLong written = new java.util.concurrent.atomic.AtomicLong();
        final Thread writer = writeUntilStopped(a, SEED + 1, stop, written);
        try
        {
            cluster.proxy("a", "b").heal();
            awaitUpToDate("b"); // while the writer still runs
            assertTrue(writer.isAlive(), "the resync ended while the application kept writing");
            awaitCondition("a replicates to b", () -> connection("a", "b").peerDevices().get(0).replicationState() ==
                ReplicationState.ESTABLISHED);
        }
        finally
        {
            stop.set(true);
            writer.join(30_000);
        }
        System.out.println("application wrote " + written.get() + " bytes during the resync");
        awaitEqualDisks("a", "b");
    }

    @Test
    void shouldFinishAResyncThatApplicationWritesOutpaceByReplicatingTheFinalPass() throws Exception
    {
        resyncUnderConstantWrites(true);
    }

    @Test
    void shouldResyncWithReplicationWhenConfigured() throws Exception
    {
        resyncUnderConstantWrites(false);
    }

    @Test
    void shouldKeepWritesInOrderWithAChecksumBasedResync() throws Exception
    {
        resyncUnderConstantWrites(true, true);
    }

    @Test
    void shouldResyncWhileTheApplicationKeepsWriting() throws Exception
    {
        final Random random = new Random(SEED);
        // A resync rate limit (8 MiB/s for about 4 MiB out of sync) keeps the resync going while the writes land.
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).resyncRateMax(8L << 20).diskNodes("a", "b")
            .proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        cluster.proxy("a", "b").cut();
        awaitCondition("a lost b", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED);
        final byte[] block = new byte[64 * 1024];
        for (int i = 0; i < 64; i++)
        {
            random.nextBytes(block);
            a.write(0, (long)random.nextInt((int)(SIZE / block.length)) * block.length, block, false);
        }
        cluster.proxy("a", "b").heal();
        // Writes continue while b resyncs, some to blocks under resync.
        for (int i = 0; i < 300; i++)
        {
            random.nextBytes(block);
            a.write(0, (long)random.nextInt((int)(SIZE / block.length)) * block.length, block, false);
        }
        awaitUpToDate("b");
        awaitEqualDisks("a", "b");
    }

    private long sentTo(final String from, final String to)
    {
        return connection(from, to).peerDevices().get(0).sentBytes();
    }

    /** Write through a, crash it, and leave on its disk a write in extent 3 that no peer got (never acknowledged). */
    private void crashPrimaryWithAnUnacknowledgedWrite(final Random random) throws Exception
    {
        cluster.awaitAllConnected();
        cluster.node("a").promote();
        final byte[] data = new byte[1 << 20];
        random.nextBytes(data);
        cluster.node("a").write(0, 0, data, false); // extent 0
        cluster.node("a").write(0, SIZE - 8192, new byte[] {5}, false); // extent 3
        cluster.crash("a");
        try (io.mirra.engine.storage.FileBlockStore disk = io.mirra.engine.storage.FileBlockStore.openOrCreate(
            dir.resolve("a").resolve("disk-0.img"), SIZE, false))
        {
            disk.write(java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3, 4}), SIZE - 4096);
        }
        awaitCondition("b sees a gone", () -> connection("b", "a").connectionState() != ConnectionState.CONNECTED);
    }

    @Test
    void shouldResyncOnlyTheActivityLogExtentsOfACopyThatCrashedAsPrimary() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").build();
        crashPrimaryWithAnUnacknowledgedWrite(new Random(SEED));
        final long sentBefore = sentTo("b", "a");
        cluster.start("a");
        cluster.awaitAllConnected();
        awaitUpToDate("a");
        awaitEqualDisks("a", "b");
        assertArrayEquals(new byte[4], cluster.node("a").readDisk(0, SIZE - 4096, 4));
        assertEquals(2 * ActivityLog.EXTENT_SIZE, sentTo("b", "a") - sentBefore,
            "exactly the two extents of a's activity log were resynced, not the 16 MiB volume");
    }

    @Test
    void shouldFullySyncACopyThatCrashedAsPrimaryWhenItsActivityLogIsUnreadable() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").build();
        crashPrimaryWithAnUnacknowledgedWrite(new Random(SEED));
        final Path log = dir.resolve("a").resolve("meta").resolve("r-0.al");
        final byte[] garbage = Files.readAllBytes(log);
        for (int i = 0; i < garbage.length; i += 512)
        {
            garbage[i] ^= 0x5A; // both transactions fail their checksum
        }
        Files.write(log, garbage);
        final long sentBefore = sentTo("b", "a");
        cluster.start("a");
        cluster.awaitAllConnected();
        awaitUpToDate("a");
        awaitEqualDisks("a", "b");
        assertEquals(SIZE, sentTo("b", "a") - sentBefore, "nothing bounds the crash: a full resync");
    }

    /** a is Primary, b is cut off, a writes 256 random 4 KiB blocks of extent 2 (8..12 MiB). */
    private java.util.Set<Integer> writeWhileBIsAway(final Random random, final int fromBlock, final int blocks)
    {
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        cluster.proxy("a", "b").cut();
        awaitCondition("a lost b", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED);
        final java.util.Set<Integer> written = new java.util.HashSet<>();
        while (written.size() < blocks)
        {
            final int block = fromBlock + random.nextInt(1024);
            final byte[] data = new byte[4096];
            random.nextBytes(data);
            a.write(0, 4096L * block, data, false);
            written.add(block);
        }
        return written;
    }

    @Test
    void shouldResyncOnlyTheDirtyBlocksAfterTheSourceRestarted() throws Exception
    {
        System.out.println("seed " + SEED);
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").proxies(true).build();
        final java.util.Set<Integer> written = writeWhileBIsAway(new Random(SEED), 2048, 200);
        cluster.stop("a"); // its bitmap for b is persisted
        cluster.start("a");
        cluster.proxy("a", "b").heal();
        cluster.awaitAllConnected();
        awaitUpToDate("b");
        awaitEqualDisks("a", "b");
        assertEquals(4096L * written.size(), sentTo("a", "b"),
            "the restarted source sent exactly the blocks written while b was away");
    }

    @Test
    void shouldBoundTheResyncByTheActivityLogAfterTheSourceCrashed() throws Exception
    {
        System.out.println("seed " + SEED);
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").proxies(true).build();
        writeWhileBIsAway(new Random(SEED), 2048, 200);
        cluster.crash("a"); // the bits in memory are lost; the activity log holds extent 2
        cluster.start("a");
        cluster.proxy("a", "b").heal();
        cluster.awaitAllConnected();
        awaitUpToDate("b");
        awaitEqualDisks("a", "b");
        assertEquals(ActivityLog.EXTENT_SIZE, sentTo("a", "b"), "one activity-log extent, not the volume");
    }

    @Test
    void shouldChangeTheBitmapBlockSizeOfARunningResourceWithoutAFullResync() throws Exception
    {
        System.out.println("seed " + SEED);
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").proxies(true).build();
        final java.util.Set<Integer> written = writeWhileBIsAway(new Random(SEED), 2048, 40);
        final EngineCluster.Node a = cluster.node("a");
        a.resource.changeBitmapBlockSize(128 * 1024); // live, while b is away and a keeps writing
        a.write(0, 0, new byte[4096], false);
        written.add(0);
        assertThrows(IllegalArgumentException.class, () -> a.resource.changeBitmapBlockSize(3000));
        a.resource.pauseSync("b");
        cluster.proxy("a", "b").heal();
        awaitCondition("the resync waits, paused", () ->
            connection("a", "b").peerDevices().get(0).replicationState() == ReplicationState.PAUSED_SYNC_S);
        final IllegalStateException busy = assertThrows(IllegalStateException.class,
            () -> a.resource.changeBitmapBlockSize(4096));
        assertTrue(busy.getMessage().contains("when that is done"), busy.getMessage());
        a.resource.resumeSync("b");
        awaitUpToDate("b");
        awaitEqualDisks("a", "b");
        final java.util.Set<Integer> wide = new java.util.HashSet<>();
        for (final int block : written)
        {
            wide.add(block / 32);
        }
        assertEquals(128L * 1024 * wide.size(), sentTo("a", "b"), "the 4 KiB bits widened to 128 KiB, none lost");
    }

    @Test
    void shouldKeepTheBitsWhenTheBitmapBlockSizeChangesAndPeersUseDifferentSizes() throws Exception
    {
        System.out.println("seed " + SEED);
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").proxies(true).build();
        final java.util.Set<Integer> written = writeWhileBIsAway(new Random(SEED), 2048, 40);
        cluster.stop("a");
        cluster.bitmapBlockSize("a", 64 * 1024); // b keeps 4 KiB
        cluster.start("a");
        cluster.proxy("a", "b").heal();
        cluster.awaitAllConnected();
        awaitUpToDate("b");
        awaitEqualDisks("a", "b");
        final java.util.Set<Integer> wide = new java.util.HashSet<>();
        for (final int block : written)
        {
            wide.add(block / 16);
        }
        assertEquals(65536L * wide.size(), sentTo("a", "b"),
            "the 4 KiB bits were widened to 64 KiB blocks, none lost, no full resync");
    }

    @Test
    void shouldFindExactlyTheDamagedBlocksByOnlineVerifyAndResyncThem() throws Exception
    {
        final Random random = new Random(SEED);
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        final byte[] data = new byte[1 << 20];
        random.nextBytes(data);
        a.write(0, 3 << 20, data, false);
        assertEquals(0L, await(a.resource.verify(null, 0)));
        // Two blocks of b's disk change behind mirra's back (a failing disk, a stray dd).
        try (io.mirra.engine.storage.FileBlockStore disk = io.mirra.engine.storage.FileBlockStore.openOrCreate(
            dir.resolve("b").resolve("disk-0.img"), SIZE, false))
        {
            disk.write(java.nio.ByteBuffer.wrap(new byte[] {1}), (3 << 20) + 5000);
            disk.write(java.nio.ByteBuffer.wrap(new byte[] {1}), SIZE - 1);
        }
        // Writes go on while the verify runs; none of them is reported as a difference.
        final java.util.concurrent.CompletableFuture<Long> verify = a.resource.verify("b");
        for (int i = 0; i < 50; i++)
        {
            a.write(0, 4096L * random.nextInt(256), data, false);
        }
        assertEquals(2 * 4096L, await(verify), "exactly the two damaged 4 KiB blocks");
        assertEquals(2 * 4096L, connection("a", "b").peerDevices().get(0).outOfSyncBytes());
        a.resource.disconnect("b");
        awaitCondition("a let b go", () -> connection("a", "b").connectionState() == ConnectionState.STAND_ALONE &&
            connection("a", "b").peerDevices().get(0).replicationState() == ReplicationState.OFF);
        final IllegalStateException refused = org.junit.jupiter.api.Assertions.assertThrows(
            IllegalStateException.class, () -> a.resource.verify("b"));
        assertTrue(refused.getMessage().contains("b is not connected"), refused.getMessage());
        a.resource.connect("b");
        awaitCondition("b resynced, and a knows it", () -> connection("a", "b").peerDevices().get(0)
            .outOfSyncBytes() == 0 && connection("a", "b").peerDevices().get(0).replicationState() ==
            ReplicationState.ESTABLISHED && connection("a", "b").peerDevices().get(0).peerDiskState() ==
            DiskState.UP_TO_DATE);
        awaitEqualDisks("a", "b");
        assertEquals(0L, await(a.resource.verify("b")));
    }

    @Test
    void shouldResyncAnInvalidatedCopyFullyAndRefuseToInvalidateThePrimary() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        cluster.node("a").promote();
        cluster.node("a").write(0, 0, new byte[] {7}, false);
        final IllegalStateException primary = org.junit.jupiter.api.Assertions.assertThrows(
            IllegalStateException.class, () -> cluster.node("a").resource.invalidate());
        assertTrue(primary.getMessage().contains("is Primary"), primary.getMessage());
        // b's disk was damaged behind mirra's back; the operator invalidates it.
        try (io.mirra.engine.storage.FileBlockStore disk = io.mirra.engine.storage.FileBlockStore.openOrCreate(
            dir.resolve("b").resolve("disk-0.img"), SIZE, false))
        {
            disk.write(java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3}), 5 << 20);
        }
        final IllegalArgumentException noVolume = org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class, () -> cluster.node("b").resource.invalidate(3));
        assertEquals("resource r has volume 0, not 3", noVolume.getMessage());
        final long sentBefore = sentTo("a", "b");
        cluster.node("b").resource.invalidate(0);
        awaitCondition("b resynced fully", () -> sentTo("a", "b") - sentBefore == SIZE);
        awaitUpToDate("b");
        awaitEqualDisks("a", "b");
        cluster.node("a").write(0, 1, new byte[] {8}, false); // and replication goes on
        assertEquals(8, cluster.node("b").readDisk(0, 1, 1)[0]);
    }

    @Test
    void shouldGiveUpAPeerThatStopsAnsweringSoThePrimaryNeverWaitsForever() throws Exception
    {
        final Random random = new Random(SEED);
        // Protocol C waits for b's disk; b's link starts dropping everything without closing (a hung peer).
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).peerTimeoutMs(1000).diskNodes("a", "b")
            .proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        a.write(0, 0, new byte[4096], false);
        cluster.proxy("a", "b").blackhole();
        final byte[] data = new byte[64 * 1024];
        random.nextBytes(data);
        a.write(0, 1 << 20, data, false); // completes once the peer timeout gave b up
        assertEquals(ConnectionState.CONNECTING, connection("a", "b").connectionState()); // (retries go on)
        assertEquals(data.length, connection("a", "b").peerDevices().get(0).outOfSyncBytes());
        cluster.proxy("a", "b").heal();
        awaitCondition("b resynced from a", () -> connection("a", "b").peerDevices().get(0).replicationState() ==
            ReplicationState.ESTABLISHED && connection("a", "b").peerDevices().get(0).outOfSyncBytes() == 0);
        awaitEqualDisks("a", "b");
    }

    @Test
    void shouldSendOnlyTheBlocksThatDifferWithChecksumBasedResync() throws Exception
    {
        // Two copies of one image (say, restored from the same backup), three blocks apart; mirra knows neither.
        final Random random = new Random(SEED);
        final byte[] image = new byte[(int)SIZE];
        random.nextBytes(image);
        final byte[] other = image.clone();
        for (final int block : new int[] {0, 1000, (int)(SIZE / 4096) - 1})
        {
            other[block * 4096 + 7] ^= 1;
        }
        Files.createDirectories(dir.resolve("a"));
        Files.createDirectories(dir.resolve("b"));
        Files.write(dir.resolve("a").resolve("disk-0.img"), image);
        Files.write(dir.resolve("b").resolve("disk-0.img"), other);
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).resyncChecksums(true).diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        await(cluster.node("a").resource.promote(true)); // a's image is the truth: a full sync to b
        awaitUpToDate("b");
        awaitEqualDisks("a", "b");
        assertEquals(3 * 4096L, sentTo("a", "b"), "only the three blocks that differ crossed the link");
    }

    @Test
    void shouldHoldAPausedResyncUntilResumed() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        cluster.proxy("a", "b").cut();
        awaitCondition("a lost b", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED);
        final byte[] block = new byte[64 * 1024];
        new Random(SEED).nextBytes(block);
        for (int i = 0; i < 16; i++)
        {
            a.write(0, (long)i * 2 * block.length, block, false);
        }
        a.resource.pauseSync("b");
        cluster.proxy("a", "b").heal();
        awaitCondition("the resync waits, paused", () ->
            connection("a", "b").peerDevices().get(0).replicationState() == ReplicationState.PAUSED_SYNC_S);
        final IllegalStateException onTarget = org.junit.jupiter.api.Assertions.assertThrows(
            IllegalStateException.class, () -> cluster.node("b").resource.pauseSync("a"));
        assertTrue(onTarget.getMessage().contains("pause the resync on the SyncSource, a"), onTarget.getMessage());
        a.write(0, block.length, block, false); // a round trip through a: still nothing sent
        assertEquals(0, sentTo("a", "b"), "a paused resync sends nothing");
        assertEquals(17L * block.length, connection("a", "b").peerDevices().get(0).outOfSyncBytes());
        a.resource.resumeSync("b");
        awaitUpToDate("b");
        awaitEqualDisks("a", "b");
    }

    @Test
    void shouldSkipTheInitialSyncOfIdenticalNewDisksWithNewCurrentGenerationClearBitmap() throws Exception
    {
        // Two disks that exist before mirra sees them (Inconsistent), known to be identical (both all zeros).
        for (final String node : new String[] {"a", "b"})
        {
            Files.createDirectories(dir.resolve(node));
            Files.write(dir.resolve(node).resolve("disk-0.img"), new byte[(int)SIZE]);
        }
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        awaitCondition("a sees b Inconsistent", () -> connection("a", "b").peerDevices().get(0).peerDiskState() ==
            DiskState.INCONSISTENT);
        cluster.node("a").resource.newCurrentGenerationClearBitmap();
        awaitUpToDate("a");
        awaitUpToDate("b");
        awaitCondition("a and b replicate", () ->
            connection("a", "b").peerDevices().get(0).replicationState() == ReplicationState.ESTABLISHED &&
            connection("b", "a").peerDevices().get(0).replicationState() == ReplicationState.ESTABLISHED);
        assertEquals(0, sentTo("a", "b"), "no resync");
        assertEquals(0, sentTo("b", "a"), "no resync");
        assertEquals(cluster.node("a").resource.currentGeneration(0), cluster.node("b").resource.currentGeneration(0));
        // Only new, Inconsistent copies can be declared identical.
        final IllegalStateException refused = org.junit.jupiter.api.Assertions.assertThrows(
            IllegalStateException.class, () -> cluster.node("b").resource.newCurrentGenerationClearBitmap());
        assertTrue(refused.getMessage().contains("only Inconsistent"), refused.getMessage());
        cluster.node("a").promote();
        cluster.node("a").write(0, 4096, new byte[] {9}, false);
        assertEquals(9, cluster.node("b").readDisk(0, 4096, 1)[0]);
    }

    @Test
    void shouldSyncANewDiskFromTheNodeMadePrimaryByForce() throws Exception
    {
        // b's disk exists before mirra sees it: its content is unknown (Inconsistent) until synced.
        Files.createDirectories(dir.resolve("b"));
        final byte[] junk = new byte[(int)SIZE];
        new Random(SEED).nextBytes(junk);
        Files.write(dir.resolve("b").resolve("disk-0.img"), junk);
        Files.createDirectories(dir.resolve("a"));
        Files.write(dir.resolve("a").resolve("disk-0.img"), new byte[(int)SIZE]);
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        assertEquals(DiskState.INCONSISTENT, cluster.node("a").resource.status().devices().get(0).diskState());
        final RuntimeException refused = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class,
            () -> cluster.node("a").promote());
        assertTrue(refused.getMessage().contains("Inconsistent"), refused.getMessage());
        await(cluster.node("a").resource.promote(true));
        awaitUpToDate("b");
        awaitEqualDisks("a", "b");
    }

    @Test
    void shouldReportResyncProgressWithRateAndTimeLeft() throws Exception
    {
        // 1 MiB/s for 4 MiB out of sync: the first second's worth goes at once, the rest takes about three seconds
        // (the target's rate needs two progress reports, a second apart).
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).resyncRateMax(1L << 20).diskNodes("a", "b")
            .proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        cluster.proxy("a", "b").cut();
        awaitCondition("a lost b", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED);
        a.write(0, 0, new byte[4 << 20], false);
        cluster.proxy("a", "b").heal();
        awaitCondition("a reports the resync with its rate and time left", () ->
        {
            final ResourceStatus.PeerDeviceStatus pd = connection("a", "b").peerDevices().get(0);
            return pd.replicationState() == ReplicationState.SYNC_SOURCE && pd.resyncBytesPerSec() > 0 &&
                pd.resyncSecondsLeft() >= 0 && pd.percentInSync() < 100.0;
        });
        awaitCondition("b, the target, reports the source's progress with rate and time left", () ->
        {
            final ResourceStatus.PeerDeviceStatus pd = connection("b", "a").peerDevices().get(0);
            return pd.replicationState() == ReplicationState.SYNC_TARGET && pd.outOfSyncBytes() > 0 &&
                pd.resyncBytesPerSec() > 0 && pd.resyncSecondsLeft() >= 0 && pd.percentInSync() < 100.0;
        });
        awaitUpToDate("b");
        final ResourceStatus.PeerDeviceStatus done = connection("a", "b").peerDevices().get(0);
        assertEquals(0, done.resyncBytesPerSec());
        assertEquals(-1, done.resyncSecondsLeft());
        awaitEqualDisks("a", "b");
    }
}
