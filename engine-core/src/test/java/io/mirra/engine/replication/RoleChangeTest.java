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
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Role changes with copies away, as the randomized checker (system-tests) found them going wrong: nodes a, b, c with
 * disks and d diskless, the Primary changing while links and nodes come and go. After each, every copy must end up
 * UpToDate and identical, with every acknowledged write, and a copy that missed writes must never become Primary.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RoleChangeTest
{
    private static final long SEED = Long.getLong("mirra.test.seed", System.nanoTime());
    private static final long SIZE = 8L << 20;
    private static final int BLOCK = 4096;

    @TempDir
    Path dir;

    private EngineCluster cluster;
    private final Random random = new Random(SEED);
    /** What the checker keeps: the last acknowledged content of each written block. */
    private final byte[][] acknowledged = new byte[(int)(SIZE / BLOCK)][];

    @AfterEach
    void tearDown()
    {
        if (cluster != null)
        {
            cluster.close();
        }
    }

    private EngineCluster.Builder fourNodes()
    {
        System.out.println("seed " + SEED);
        return EngineCluster.builder("r", dir).volumes(SIZE).quorum(ResourceSpec.QUORUM_MAJORITY, false)
            .diskNodes("a", "b", "c").disklessNodes("d").proxies(true);
    }

    /** Write {@code count} random blocks through {@code node}, half of them in the first 64 blocks. */
    private void writeSome(final String node, final int count)
    {
        final EngineCluster.Node n = cluster.node(node);
        for (int i = 0; i < count; i++)
        {
            final int block = random.nextBoolean() ? random.nextInt(64) : random.nextInt(acknowledged.length);
            final byte[] data = new byte[BLOCK];
            random.nextBytes(data);
            n.write(0, (long)block * BLOCK, data, false);
            acknowledged[block] = data;
        }
    }

    private DiskState disk(final String node)
    {
        return cluster.node(node).resource.status().devices().get(0).diskState();
    }

    private boolean settled(final String... disks)
    {
        for (final String n : cluster.names())
        {
            final ResourceStatus s = cluster.node(n).resource.status();
            if (Arrays.asList(disks).contains(n) && s.devices().get(0).diskState() != DiskState.UP_TO_DATE)
            {
                return false;
            }
            for (final ResourceStatus.ConnectionStatus c : s.connections())
            {
                final ResourceStatus.PeerDeviceStatus pd = c.peerDevices().get(0);
                if (c.connectionState() != ConnectionState.CONNECTED ||
                    pd.replicationState() != ReplicationState.ESTABLISHED || pd.outOfSyncBytes() != 0)
                {
                    return false;
                }
            }
        }
        return true;
    }

    /** Every copy UpToDate, every connection Established with nothing out of sync, every copy holding every write. */
    private void awaitConverged()
    {
        try
        {
            awaitCondition("every copy UpToDate, every connection Established with nothing out of sync",
                () -> settled("a", "b", "c"));
        }
        catch (final AssertionError ex)
        {
            final StringBuilder states = new StringBuilder(ex.getMessage());
            for (final String n : cluster.names())
            {
                states.append('\n').append(cluster.node(n).resource.status());
            }
            throw new AssertionError(states.toString(), ex);
        }
        for (final String n : new String[] {"a", "b", "c"})
        {
            for (int block = 0; block < acknowledged.length; block++)
            {
                final byte[] want = acknowledged[block] == null ? new byte[BLOCK] : acknowledged[block];
                final byte[] got;
                try
                {
                    got = cluster.node(n).readDisk(0, (long)block * BLOCK, BLOCK);
                }
                catch (final Exception ex)
                {
                    throw new AssertionError(ex);
                }
                assertTrue(Arrays.equals(want, got), n + " block " + block + " holds its last acknowledged write");
            }
        }
    }

    private boolean sees(final String node, final String peer, final boolean up)
    {
        return cluster.node(node).resource.status().connections().stream().filter((c) -> c.peerName().equals(peer))
            .allMatch((c) -> (c.connectionState() == ConnectionState.CONNECTED) == up);
    }

    @Test
    void shouldNotPromoteACopyCutOffFromAWritingPrimary() throws Exception
    {
        cluster = fourNodes().build();
        cluster.awaitAllConnected();
        cluster.node("d").promote();
        writeSome("d", 20);
        cluster.proxy("a", "d").cut();
        awaitCondition("a and d apart", () -> sees("a", "d", false) && sees("d", "a", false));
        writeSome("d", 20); // acknowledged by b and c; a misses them
        // b and c took d's new generation: a learns from them that its copy is older.
        awaitCondition("a knows its copy is Outdated", () -> disk("a") == DiskState.OUTDATED);
        final Throwable refused = assertThrows(Throwable.class, () -> cluster.node("a").promote(),
            "a lacks acknowledged writes: it must not become Primary");
        assertTrue(String.valueOf(refused).contains("Outdated"), String.valueOf(refused));
        // Once d is no Primary any more, a resyncs from b or c (no Primary to wait for).
        await(cluster.node("d").resource.demote());
        cluster.proxy("a", "d").heal();
        awaitConverged();
    }

    @Test
    void shouldNotPromoteANodeCutOffFromARunningPrimary() throws Exception
    {
        cluster = fourNodes().build();
        cluster.awaitAllConnected();
        cluster.node("d").promote();
        writeSome("d", 5);
        cluster.proxy("a", "d").cut();
        awaitCondition("a and d apart", () -> sees("a", "d", false) && sees("d", "a", false));
        // a's copy is current (nothing written since), and it has quorum with b and c: but d is still Primary,
        // and b and c, which hear it, refuse a second one.
        final Throwable refused = assertThrows(Throwable.class, () -> cluster.node("a").promote(),
            "d is still Primary: a second Primary would split the data");
        assertTrue(String.valueOf(refused).contains("d is Primary"), String.valueOf(refused));
        assertEquals(Role.SECONDARY, cluster.node("a").resource.status().role());
        writeSome("d", 5);
        cluster.proxy("a", "d").heal();
        awaitConverged();
    }

    @Test
    void shouldResyncACopyWhileTheDisklessNodeIsPrimary() throws Exception
    {
        cluster = fourNodes().build();
        cluster.awaitAllConnected();
        cluster.node("d").promote();
        writeSome("d", 20);
        cluster.stop("a");
        writeSome("d", 40);
        cluster.start("a");
        writeSome("d", 20);
        awaitConverged();
        assertEquals(Role.PRIMARY, cluster.node("d").resource.status().role());
    }

    @Test
    void shouldResyncAnAttachedDiskWhileTheDisklessNodeIsPrimary() throws Exception
    {
        cluster = fourNodes().build();
        cluster.awaitAllConnected();
        cluster.node("d").promote();
        writeSome("d", 20);
        cluster.node("b").resource.detach(0);
        awaitCondition("b diskless", () -> disk("b") == DiskState.DISKLESS);
        writeSome("d", 20);
        cluster.node("b").resource.attach(0);
        writeSome("d", 20);
        awaitConverged();
    }

    @Test
    void shouldResyncARestartedFormerPrimaryFromTheNewOne() throws Exception
    {
        // The checker's seed 7, cycle 2: kill the Primary c, promote b, restart c.
        cluster = fourNodes().build();
        cluster.awaitAllConnected();
        cluster.node("c").promote();
        writeSome("c", 20);
        cluster.crash("c");
        awaitCondition("nobody sees c Primary", () -> cluster.node("b").resource.otherPrimary() == null &&
            cluster.node("a").resource.otherPrimary() == null && cluster.node("d").resource.otherPrimary() == null);
        cluster.node("b").promote();
        writeSome("b", 40);
        cluster.start("c");
        writeSome("b", 20);
        awaitConverged();
    }

    @Test
    void shouldResyncAnOutdatedCopyAfterTheDisklessPrimaryIsDemoted() throws Exception
    {
        // The checker's seed 11, cycle 11: d Primary, cut b-d, heal, demote d.
        cluster = fourNodes().build();
        cluster.awaitAllConnected();
        cluster.node("d").promote();
        writeSome("d", 20);
        cluster.proxy("b", "d").cut();
        awaitCondition("b and d apart", () -> sees("b", "d", false) && sees("d", "b", false));
        writeSome("d", 20);
        cluster.proxy("b", "d").heal();
        awaitCondition("b and d together", () -> sees("b", "d", true) && sees("d", "b", true));
        await(cluster.node("d").resource.demote());
        awaitConverged();
    }

    @Test
    void shouldLeaveNothingOutOfSyncAfterSwitchingOverAndBack() throws Exception
    {
        // The checker's seed 42, cycle 6: a to c and back to a, writing all along.
        cluster = fourNodes().build();
        cluster.awaitAllConnected();
        cluster.node("a").promote();
        writeSome("a", 40);
        await(cluster.node("a").resource.demote());
        cluster.node("c").promote();
        writeSome("c", 40);
        await(cluster.node("c").resource.demote());
        cluster.node("a").promote();
        writeSome("a", 40);
        awaitConverged();
    }

    @Test
    void shouldForgetADisklessPrimarysBitsWhenItIsDemoted() throws Exception
    {
        // The checker's seed 2, cycle 2: b to d, c's disk fails, d to b, c attached again.
        cluster = fourNodes().build();
        cluster.awaitAllConnected();
        cluster.node("b").promote();
        writeSome("b", 20);
        await(cluster.node("b").resource.demote());
        cluster.node("d").promote();
        writeSome("d", 10);
        cluster.node("c").resource.detach(0);
        awaitCondition("c diskless", () -> disk("c") == DiskState.DISKLESS);
        writeSome("d", 20); // d counts them against c, in memory
        await(cluster.node("d").resource.demote());
        cluster.node("b").promote();
        writeSome("b", 20);
        cluster.node("c").resource.attach(0);
        writeSome("b", 10);
        awaitConverged();
    }

    @Test
    void shouldSettleAFormerPrimarysBitsOnceTheNextPrimaryResyncedThePeer() throws Exception
    {
        // The checker's seed 20261125, cycle 7: b to a, b's disk fails, a to d, b attached again (resynced by d).
        cluster = fourNodes().build();
        cluster.awaitAllConnected();
        cluster.node("b").promote();
        writeSome("b", 20);
        await(cluster.node("b").resource.demote());
        cluster.node("a").promote();
        writeSome("a", 10);
        cluster.node("b").resource.detach(0);
        awaitCondition("b diskless", () -> disk("b") == DiskState.DISKLESS);
        writeSome("a", 20); // a counts them against b
        await(cluster.node("a").resource.demote());
        cluster.node("d").promote();
        writeSome("d", 10);
        cluster.node("b").resource.attach(0);
        writeSome("d", 10);
        awaitConverged();
    }

    @Test
    void shouldSettleAFormerPrimarysBitsOnceThePeerResyncedFromASecondary() throws Exception
    {
        // The checker's seed 7, cycle 14: c Primary, b's disk fails, c to b, b demoted and attached again (resynced
        // with no Primary around).
        cluster = fourNodes().build();
        cluster.awaitAllConnected();
        cluster.node("c").promote();
        writeSome("c", 10);
        cluster.node("b").resource.detach(0);
        awaitCondition("b diskless", () -> disk("b") == DiskState.DISKLESS);
        writeSome("c", 20); // c counts them against b
        await(cluster.node("c").resource.demote());
        cluster.node("b").promote();
        writeSome("b", 10);
        await(cluster.node("b").resource.demote());
        cluster.node("b").resource.attach(0);
        awaitConverged();
    }
}
