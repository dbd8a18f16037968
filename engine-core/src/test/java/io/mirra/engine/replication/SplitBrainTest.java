package io.mirra.engine.replication;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

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
 * Split brain created on purpose (both sides promoted and written while apart) is detected every time, kept down
 * without a policy, and resolved by {@code connect --discard-my-data} and by each after-split-brain policy: the
 * losing side becomes a copy of the winner, its changes since the split dropped, and only the blocks either side
 * changed are copied.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SplitBrainTest
{
    private static final long SEED = Long.getLong("mirra.test.seed", System.nanoTime());
    private static final long SIZE = 8L << 20;
    private static final int BLOCK = 4096;

    @TempDir
    Path dir;

    private EngineCluster cluster;
    private final Random random = new Random(SEED);

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

    private void build(final SplitBrainPolicy zero, final SplitBrainPolicy one) throws Exception
    {
        System.out.println("seed " + SEED);
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").proxies(true)
            .afterSplitBrain(zero, one).build();
        cluster.awaitAllConnected();
    }

    /** Cut a from b, let each write blocks (0 means: promoted by force, a new generation but no write). */
    private void split(final int blocksOnA, final int blocksOnB, final boolean aFirst) throws Exception
    {
        cluster.proxy("a", "b").cut();
        awaitCondition("a and b apart", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED &&
            connection("b", "a").connectionState() != ConnectionState.CONNECTED);
        for (final String node : aFirst ? new String[] {"a", "b"} : new String[] {"b", "a"})
        {
            final int blocks = node.equals("a") ? blocksOnA : blocksOnB;
            await(cluster.node(node).resource.promote(blocks == 0));
            for (int i = 0; i < blocks; i++)
            {
                final byte[] data = new byte[BLOCK];
                random.nextBytes(data);
                // a writes the first half of the volume, b the second: their changes never overlap
                final long region = node.equals("a") ? 0 : SIZE / 2;
                cluster.node(node).write(0, region + (long)BLOCK * random.nextInt((int)(SIZE / 2 / BLOCK)), data,
                    false);
            }
            // Primary since differs between the two by at least a millisecond
            final long since = System.currentTimeMillis();
            awaitCondition("the clock moved on", () -> System.currentTimeMillis() > since);
        }
    }

    private void demote(final String node)
    {
        await(cluster.node(node).resource.demote());
    }

    private byte[] disk(final String node) throws Exception
    {
        return cluster.node(node).readDisk(0, 0, (int)SIZE);
    }

    /** Heal and wait until the loser equals the winner, both UpToDate and connected again. */
    private void awaitResolved(final String winner, final String loser, final byte[] winnerData) throws Exception
    {
        awaitCondition(loser + " resynced from " + winner, () ->
            connection(winner, loser).peerDevices().get(0).replicationState() == ReplicationState.ESTABLISHED &&
            cluster.node(loser).resource.status().devices().get(0).diskState() == DiskState.UP_TO_DATE);
        assertArrayEquals(winnerData, disk(loser), loser + " holds " + winner + "'s data, its own changes dropped");
        assertArrayEquals(winnerData, disk(winner), winner + " kept its data");
        assertEquals(cluster.node(winner).resource.currentGeneration(0),
            cluster.node(loser).resource.currentGeneration(0));
    }

    private void awaitStandAlone()
    {
        for (final String node : new String[] {"a", "b"})
        {
            final String peer = node.equals("a") ? "b" : "a";
            awaitCondition(node + " StandAlone in SplitBrain", () ->
                connection(node, peer).connectionState() == ConnectionState.STAND_ALONE &&
                "SplitBrain".equals(connection(node, peer).reason()));
        }
    }

    @Test
    void shouldStayDownWithoutAPolicyAndResolveByDiscardMyData() throws Exception
    {
        build(SplitBrainPolicy.DISCONNECT, SplitBrainPolicy.DISCONNECT);
        split(20, 10, true);
        demote("a");
        demote("b");
        final byte[] aData = disk("a");
        final byte[] bData = disk("b");
        cluster.proxy("a", "b").heal();
        awaitStandAlone();
        assertArrayEquals(aData, disk("a"), "nothing merged");
        assertArrayEquals(bData, disk("b"), "nothing merged");
        // A Primary's data is in use: it cannot be discarded.
        await(cluster.node("b").resource.promote(false));
        assertThrows(IllegalStateException.class, () -> cluster.node("b").resource.connect("a", true));
        demote("b");
        final long sentBefore = connection("a", "b").peerDevices().get(0).sentBytes();
        cluster.node("b").resource.connect("a", true);
        cluster.node("a").resource.connect("b");
        awaitResolved("a", "b", aData);
        final long sent = connection("a", "b").peerDevices().get(0).sentBytes() - sentBefore;
        assertTrue(sent <= 30L * BLOCK, "only the blocks either side changed (the union of both bitmaps): " + sent);
        assertTrue(sent > 0);
        assertTrue(!Arrays.equals(aData, bData));
    }

    @Test
    void shouldDiscardTheSideWithoutChanges() throws Exception
    {
        build(SplitBrainPolicy.DISCARD_ZERO_CHANGES, SplitBrainPolicy.DISCONNECT);
        split(12, 0, true); // b: promoted by force (a new generation), wrote nothing
        demote("a");
        demote("b");
        final byte[] aData = disk("a");
        cluster.proxy("a", "b").heal();
        awaitResolved("a", "b", aData);
    }

    @Test
    void shouldDiscardTheSideWithFewerChanges() throws Exception
    {
        build(SplitBrainPolicy.DISCARD_LEAST_CHANGES, SplitBrainPolicy.DISCONNECT);
        split(5, 25, true);
        demote("a");
        demote("b");
        final byte[] bData = disk("b");
        cluster.proxy("a", "b").heal();
        awaitResolved("b", "a", bData);
    }

    @Test
    void shouldDiscardTheYoungerPrimary() throws Exception
    {
        build(SplitBrainPolicy.DISCARD_YOUNGER_PRIMARY, SplitBrainPolicy.DISCONNECT);
        split(30, 5, false); // b became Primary first, a later: a loses although it changed more
        demote("a");
        demote("b");
        final byte[] bData = disk("b");
        cluster.proxy("a", "b").heal();
        awaitResolved("b", "a", bData);
    }

    @Test
    void shouldDiscardTheSecondaryWhenOneSideIsPrimary() throws Exception
    {
        build(SplitBrainPolicy.DISCONNECT, SplitBrainPolicy.DISCARD_SECONDARY);
        split(8, 8, true);
        demote("a"); // b stays Primary
        final byte[] bData = disk("b");
        cluster.proxy("a", "b").heal();
        awaitResolved("b", "a", bData);
        cluster.node("b").write(0, 0, new byte[] {42}, false); // and replication goes on
        assertEquals(42, cluster.node("a").readDisk(0, 0, 1)[0]);
    }

    @Test
    void shouldKeepBothPrimariesApartWhateverThePolicy() throws Exception
    {
        build(SplitBrainPolicy.DISCARD_LEAST_CHANGES, SplitBrainPolicy.DISCARD_SECONDARY);
        split(3, 4, true);
        cluster.proxy("a", "b").heal();
        awaitStandAlone();
    }

    @Test
    void shouldReachTheSameVerdictFromEitherSide()
    {
        final Random r = new Random(SEED);
        for (int i = 0; i < 10_000; i++)
        {
            final SplitBrainVerdict.Side x = new SplitBrainVerdict.Side("x", 1, r.nextInt(4) == 0, r.nextInt(6) == 0,
                r.nextInt(4) - 1, r.nextInt(3));
            final SplitBrainVerdict.Side y = new SplitBrainVerdict.Side("y", 2, r.nextInt(4) == 0, r.nextInt(6) == 0,
                r.nextInt(4) - 1, r.nextInt(3));
            for (final SplitBrainPolicy zero : new SplitBrainPolicy[] {SplitBrainPolicy.DISCONNECT,
                SplitBrainPolicy.DISCARD_ZERO_CHANGES, SplitBrainPolicy.DISCARD_YOUNGER_PRIMARY,
                SplitBrainPolicy.DISCARD_LEAST_CHANGES})
            {
                for (final SplitBrainPolicy one : new SplitBrainPolicy[] {SplitBrainPolicy.DISCONNECT,
                    SplitBrainPolicy.DISCARD_SECONDARY, SplitBrainPolicy.CONSENSUS})
                {
                    final SplitBrainVerdict v1 = SplitBrainVerdict.decide(x, y, zero, one);
                    final SplitBrainVerdict v2 = SplitBrainVerdict.decide(y, x, zero, one);
                    assertEquals(v1, v2, x + " " + y + " " + zero + " " + one);
                    if (v1.victim() != null)
                    {
                        assertTrue(!v1.victim().primary(), "a Primary never loses its data: " + v1);
                    }
                    if (x.primary() && y.primary())
                    {
                        assertEquals(null, v1.victim());
                    }
                }
            }
        }
    }
}
