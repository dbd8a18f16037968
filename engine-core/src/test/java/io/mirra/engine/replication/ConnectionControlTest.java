package io.mirra.engine.replication;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static io.mirra.engine.replication.EngineCluster.await;
import static io.mirra.engine.replication.EngineCluster.awaitCondition;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Connections the operator controls, and peers that must be refused (SPEC §2.6, §3). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ConnectionControlTest
{
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

    @Test
    void shouldRefuseAPeerWithAnotherSecretAndSayWhyOnBothSides() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).secret("b", "another-secret-99")
            .diskNodes("a", "b").build();
        awaitCondition("a names the refusal", () -> "AUTH_FAILED".equals(connection("a", "b").reason()));
        awaitCondition("b names the refusal", () -> "AUTH_FAILED".equals(connection("b", "a").reason()));
        assertEquals(ConnectionState.CONNECTING, connection("a", "b").connectionState());
        // Everything else keeps working: a is a usable single copy.
        cluster.node("a").promote();
        cluster.node("a").write(0, 0, new byte[] {1, 2, 3}, false);
        assertEquals(4096, connection("a", "b").peerDevices().get(0).outOfSyncBytes());
    }

    @Test
    void shouldStayStandAloneAfterDisconnectUntilConnect() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        cluster.node("b").resource.disconnect("a");
        awaitCondition("b StandAlone", () -> connection("b", "a").connectionState() == ConnectionState.STAND_ALONE);
        awaitCondition("a lost b", () -> connection("a", "b").connectionState() == ConnectionState.CONNECTING);
        // a (the dialer) keeps trying; b refuses while StandAlone.
        final long attempts = cluster.node("a").resource.transport().link("b").connectAttempts();
        awaitCondition("a retried", () -> cluster.node("a").resource.transport().link("b").connectAttempts() >
            attempts);
        assertEquals(ConnectionState.STAND_ALONE, connection("b", "a").connectionState());
        cluster.node("b").resource.connect("a");
        cluster.awaitAllConnected();
        final IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
            () -> cluster.node("b").resource.disconnect("zulu"));
        assertTrue(unknown.getMessage().contains("zulu is not a peer"), unknown.getMessage());
    }

    @Test
    void shouldFailWritesOfADisklessPrimaryThatLostEveryDiskAndKeepServingAfterReconnect() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).diskNodes("a").disklessNodes("c")
            .proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node c = cluster.node("c");
        c.promote();
        c.write(0, 0, new byte[] {7}, false);
        cluster.proxy("a", "c").cut();
        awaitCondition("c lost a", () -> connection("c", "a").connectionState() != ConnectionState.CONNECTED);
        final RuntimeException noDisk = assertThrows(RuntimeException.class, () -> c.read(0, 0, 4096));
        assertTrue(noDisk.getMessage().contains("no UpToDate copy"), noDisk.getMessage());
        final RuntimeException noWrite = assertThrows(RuntimeException.class,
            () -> c.write(0, 0, new byte[] {8}, false));
        assertTrue(noWrite.getMessage().contains("no UpToDate copy"), noWrite.getMessage());
        cluster.proxy("a", "c").heal();
        cluster.awaitAllConnected();
        awaitCondition("c uses a's copy again", () ->
            connection("c", "a").peerDevices().get(0).replicationState() == ReplicationState.ESTABLISHED);
        final byte[] expected = new byte[4096];
        expected[0] = 7;
        assertArrayEquals(expected, c.read(0, 0, 4096));
    }

    @Test
    void shouldKeepADisklessPrimarysDataWhenItLosesItsLastCopyWithAWriteInFlight() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).peerTimeoutMs(1000).diskNodes("a")
            .disklessNodes("c").proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node c = cluster.node("c");
        c.promote();
        c.write(0, 0, new byte[] {7}, false);
        // The last copy stops answering while a write is in flight: the write fails (no disk confirmed it), and c
        // must not start a generation that no disk holds (the copy would look older than c's data for good).
        cluster.proxy("a", "c").blackhole();
        final io.netty.buffer.ByteBuf data = io.netty.buffer.Unpooled.directBuffer(1).writeByte(8);
        final java.util.concurrent.CompletableFuture<Void> lost = c.writeAsync(0, 4096, data);
        assertThrows(RuntimeException.class, () -> await(lost));
        data.release();
        awaitCondition("c lost a", () -> connection("c", "a").connectionState() != ConnectionState.CONNECTED);
        cluster.proxy("a", "c").heal();
        cluster.awaitAllConnected();
        awaitCondition("c uses a's copy again", () ->
            connection("c", "a").peerDevices().get(0).replicationState() == ReplicationState.ESTABLISHED);
        assertEquals(7, c.read(0, 0, 1)[0]);
        c.write(0, 0, new byte[] {9}, false);
        assertEquals(9, cluster.node("a").readDisk(0, 0, 1)[0]);
    }

    @Test
    void shouldSendReadsToTheLeastBusyPeer() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).readBalancing(ReadBalancing.LEAST_PENDING)
            .diskNodes("a", "b").disklessNodes("c").build();
        cluster.awaitAllConnected();
        final EngineCluster.Node c = cluster.node("c");
        // Sequential reads never overlap: with nothing pending, ties go to the lowest node id (a).
        for (int i = 0; i < 10; i++)
        {
            c.read(0, 4096L * i, 4096);
        }
        assertEquals(40960, connection("a", "c").peerDevices().get(0).sentBytes());
        assertEquals(0, connection("b", "c").peerDevices().get(0).sentBytes());
        // a is slow with one read: the next reads go to b, the least busy.
        cluster.node("a").disk(0).holdReadAt(65536);
        final java.nio.ByteBuffer held = java.nio.ByteBuffer.allocateDirect(4096);
        final java.util.concurrent.CompletableFuture<Void> slow = c.readAsync(0, 65536, held);
        awaitCondition("a holds the read", () -> cluster.node("a").disk(0).isHolding());
        for (int i = 0; i < 5; i++)
        {
            c.read(0, 4096L * i, 4096);
        }
        assertEquals(20480, connection("b", "c").peerDevices().get(0).sentBytes());
        cluster.node("a").disk(0).release();
        EngineCluster.await(slow);
    }

    @Test
    void shouldNeverReadADisklessPrimarysDataFromACopyThatMissedWrites() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).diskNodes("a", "b").disklessNodes("c")
            .readBalancing(ReadBalancing.ROUND_ROBIN).proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node c = cluster.node("c");
        c.promote();
        c.write(0, 0, new byte[] {1}, false);
        // b is cut off; c goes on writing to a alone.
        cluster.proxy("a", "b").cut();
        cluster.proxy("b", "c").cut();
        awaitCondition("c lost b", () -> connection("c", "b").connectionState() != ConnectionState.CONNECTED);
        c.write(0, 0, new byte[] {2}, false);
        cluster.proxy("a", "b").heal();
        cluster.proxy("b", "c").heal();
        cluster.awaitAllConnected();
        // b is Outdated, then resynced by c (through a's copy): no read is served by it before it is UpToDate.
        for (int i = 0; i < 10; i++)
        {
            assertEquals(2, c.read(0, 0, 1)[0], "read " + i + " came from the stale copy");
        }
        awaitCondition("b resynced", () ->
        {
            try
            {
                return cluster.node("b").resource.status().devices().get(0).diskState() == DiskState.UP_TO_DATE &&
                    cluster.node("b").readDisk(0, 0, 1)[0] == 2;
            }
            catch (final java.io.IOException ex)
            {
                throw new AssertionError(ex);
            }
        });
    }

    @Test
    void shouldKeepADisklessNodeOnOneSideOfASplitBrain() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).diskNodes("a", "b").disklessNodes("c")
            .proxies(true).build();
        cluster.awaitAllConnected();
        // a and b are split; each is made Primary in turn while apart and writes its own data.
        cluster.node("a").promote();
        cluster.proxy("a", "b").cut();
        cluster.proxy("a", "c").cut();
        awaitCondition("a alone", () -> connection("a", "b").connectionState() != ConnectionState.CONNECTED &&
            connection("a", "c").connectionState() != ConnectionState.CONNECTED);
        cluster.node("a").write(0, 0, new byte[] {1}, false);
        // c votes on b's promotion: it must have seen a go too.
        awaitCondition("b and c see no Primary", () -> cluster.node("b").resource.otherPrimary() == null &&
            cluster.node("c").resource.otherPrimary() == null);
        cluster.node("b").promote();
        cluster.node("b").write(0, 0, new byte[] {2}, false);
        await(cluster.node("b").resource.demote());
        await(cluster.node("a").resource.demote());
        cluster.proxy("a", "b").heal();
        cluster.proxy("a", "c").heal();
        awaitCondition("a and c connected", () -> connection("c", "a").connectionState() == ConnectionState.CONNECTED);
        awaitCondition("a and b in split brain", () -> "SplitBrain".equals(connection("a", "b").reason()));
        // c followed b's writes: it never reads a's data.
        assertEquals(ReplicationState.OFF, connection("c", "a").peerDevices().get(0).replicationState());
        for (int i = 0; i < 10; i++)
        {
            assertEquals(2, cluster.node("c").read(0, 0, 1)[0], "read " + i);
        }
    }
}
