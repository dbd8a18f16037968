package io.mirra.engine.replication;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static io.mirra.engine.replication.EngineCluster.await;
import static io.mirra.engine.replication.EngineCluster.awaitCondition;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
        assertEquals(data.length, connection("a", "b").peerDevices().get(0).outOfSyncBytes());
        assertTrue(!a.resource.currentGeneration(0).equals(genBefore),
            "a write b missed starts a new generation even when no write follows the drop");
        cluster.proxy("a", "b").heal();
        awaitCondition("b resynced from a", () -> connection("a", "b").peerDevices().get(0).replicationState() ==
            ReplicationState.ESTABLISHED && connection("a", "b").peerDevices().get(0).outOfSyncBytes() == 0);
        awaitUpToDate("b");
        awaitEqualDisks("a", "b");
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

    @Test
    void shouldFullySyncACopyThatCrashedAsPrimary() throws Exception
    {
        final Random random = new Random(SEED);
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        cluster.node("a").promote();
        final byte[] data = new byte[1 << 20];
        random.nextBytes(data);
        cluster.node("a").write(0, 0, data, false);
        cluster.stop("a");
        // What a crash leaves behind: the Primary flag still set in a's metadata, and on a's disk a write that was
        // never acknowledged (so no peer has it).
        final Path meta = dir.resolve("a").resolve("meta").resolve("r-0.meta");
        Files.writeString(meta, Files.readString(meta, StandardCharsets.UTF_8).replace("primary=0", "primary=1"));
        try (io.mirra.engine.storage.FileBlockStore disk = io.mirra.engine.storage.FileBlockStore.openOrCreate(
            dir.resolve("a").resolve("disk-0.img"), SIZE, false))
        {
            disk.write(java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3, 4}), SIZE - 4096);
        }
        awaitCondition("b sees a gone", () -> connection("b", "a").connectionState() != ConnectionState.CONNECTED);
        cluster.start("a");
        cluster.awaitAllConnected();
        awaitUpToDate("a");
        awaitEqualDisks("a", "b");
        assertArrayEquals(new byte[4], cluster.node("a").readDisk(0, SIZE - 4096, 4));
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
        // 1 MiB/s for 3 MiB out of sync: the first second's worth goes at once, the rest takes about two seconds.
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).resyncRateMax(1L << 20).diskNodes("a", "b")
            .proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        cluster.proxy("a", "b").cut();
        awaitCondition("a lost b", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED);
        a.write(0, 0, new byte[3 << 20], false);
        cluster.proxy("a", "b").heal();
        awaitCondition("a reports the resync with its rate and time left", () ->
        {
            final ResourceStatus.PeerDeviceStatus pd = connection("a", "b").peerDevices().get(0);
            return pd.replicationState() == ReplicationState.SYNC_SOURCE && pd.resyncBytesPerSec() > 0 &&
                pd.resyncSecondsLeft() >= 0 && pd.percentInSync() < 100.0;
        });
        awaitUpToDate("b");
        final ResourceStatus.PeerDeviceStatus done = connection("a", "b").peerDevices().get(0);
        assertEquals(0, done.resyncBytesPerSec());
        assertEquals(-1, done.resyncSecondsLeft());
        awaitEqualDisks("a", "b");
    }
}
