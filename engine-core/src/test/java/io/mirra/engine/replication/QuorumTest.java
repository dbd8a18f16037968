package io.mirra.engine.replication;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.mirra.engine.replication.EngineCluster.await;
import static io.mirra.engine.replication.EngineCluster.awaitCondition;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Quorum: without it a node cannot become Primary, and a Primary that loses it suspends or fails its I/O, as
 * configured; a node that leaves cleanly is Outdated and does not count against the others.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class QuorumTest
{
    private static final long SIZE = 4L << 20;

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

    /** a, b with disks and c diskless (the tiebreaker); a isolated from both. */
    private void isolateA()
    {
        cluster.proxy("a", "b").cut();
        cluster.proxy("a", "c").cut();
        // Both ends of both links: b and c must have seen a go too (a promotion there is voted on their views).
        awaitCondition("a alone", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED &&
            connection("a", "c").connectionState() != ConnectionState.CONNECTED &&
            connection("b", "a").connectionState() != ConnectionState.CONNECTED &&
            connection("c", "a").connectionState() != ConnectionState.CONNECTED);
    }

    @Test
    void shouldSuspendThePrimarysIoWithoutQuorumAndResumeItWhenQuorumReturns() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).quorum(ResourceSpec.QUORUM_MAJORITY, true)
            .diskNodes("a", "b").disklessNodes("c").proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        a.write(0, 0, new byte[] {1}, false);
        isolateA();
        final ByteBuf data = Unpooled.directBuffer(1).writeByte(2);
        final CompletableFuture<Void> held = a.writeAsync(0, 4096, data);
        awaitCondition("a reports its I/O suspended", () -> a.resource.status().suspended());
        assertFalse(held.isDone(), "the write waits for quorum");
        // b and c have quorum together (2 of 3): b may become Primary there.
        await(cluster.node("b").resource.promote(false));
        await(cluster.node("b").resource.demote());
        cluster.proxy("a", "c").heal();
        await(held);
        data.release();
        assertFalse(a.resource.status().suspended());
        assertEquals(2, a.readDisk(0, 4096, 1)[0], "the held write went through once quorum returned");
    }

    @Test
    void shouldFailThePrimarysIoWithoutQuorumWhenConfigured() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).quorum(ResourceSpec.QUORUM_MAJORITY, false)
            .diskNodes("a", "b").disklessNodes("c").proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        isolateA();
        final ByteBuf data = Unpooled.directBuffer(1).writeByte(3);
        final CompletableFuture<Void> write = a.writeAsync(0, 0, data);
        final Throwable failed = assertThrows(Throwable.class, () -> await(write));
        data.release();
        assertTrue(String.valueOf(failed).contains("no quorum: a reaches 1 of 3 nodes"), String.valueOf(failed));
        assertEquals(0, a.readDisk(0, 0, 1)[0], "nothing written");
    }

    @Test
    void shouldRefuseToPromoteWithoutQuorum() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).quorum(ResourceSpec.QUORUM_MAJORITY, true)
            .diskNodes("a", "b").disklessNodes("c").proxies(true).build();
        cluster.awaitAllConnected();
        isolateA();
        final Throwable refused = assertThrows(Throwable.class, () -> cluster.node("a").promote());
        assertTrue(String.valueOf(refused).contains("no quorum"), String.valueOf(refused));
    }

    @Test
    void shouldNotCountANodeThatLeftCleanlyAgainstTheOthers() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).quorum(ResourceSpec.QUORUM_MAJORITY, false)
            .diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        cluster.stop("b"); // down cleanly: b's copy goes Outdated and a learns it
        awaitCondition("a sees b gone", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED);
        cluster.node("a").promote(); // 1 of 1 counting node
        cluster.node("a").write(0, 0, new byte[] {5}, false);
        // b comes back: it missed a write, resyncs it, and is UpToDate.
        cluster.start("b");
        awaitCondition("b UpToDate again", () -> cluster.node("b").resource.status().devices().get(0).diskState() ==
            DiskState.UP_TO_DATE);
        awaitCondition("b has the write", () ->
        {
            try
            {
                return cluster.node("b").readDisk(0, 0, 1)[0] == 5;
            }
            catch (final Exception ex)
            {
                throw new AssertionError(ex);
            }
        });
    }

    @Test
    void shouldCountANodeThatCrashed() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).quorum(ResourceSpec.QUORUM_MAJORITY, false)
            .diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        cluster.crash("b");
        awaitCondition("a sees b gone", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED);
        final Throwable refused = assertThrows(Throwable.class, () -> cluster.node("a").promote());
        assertTrue(String.valueOf(refused).contains("no quorum: a reaches 1 of 2 nodes"), String.valueOf(refused));
    }

    @Test
    void shouldComeBackUpToDateWithoutResyncAfterACleanLeaveWithoutWrites() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).quorum(ResourceSpec.QUORUM_MAJORITY, true)
            .diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        cluster.stop("b");
        awaitCondition("a sees b gone", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED);
        cluster.node("a").promote(); // b left cleanly: it does not count against a
        await(cluster.node("a").resource.demote());
        cluster.start("b");
        awaitCondition("b UpToDate again", () -> cluster.node("b").resource.status().devices().get(0).diskState() ==
            DiskState.UP_TO_DATE);
        assertEquals(0, connection("a", "b").peerDevices().get(0).sentBytes(), "no resync");
    }
}
