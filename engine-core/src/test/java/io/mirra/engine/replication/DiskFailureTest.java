package io.mirra.engine.replication;

import io.mirra.engine.storage.StorageException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.mirra.engine.replication.EngineCluster.await;
import static io.mirra.engine.replication.EngineCluster.awaitCondition;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SPEC §2.7: a local disk failure is survived. On an I/O error the node detaches the disk (Failed, then Diskless),
 * the request in flight and every later one is served by the peers, and the client sees no error while an UpToDate
 * peer is reachable; {@code attach} brings the repaired disk back through a full resync.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DiskFailureTest
{
    private static final long SEED = Long.getLong("mirra.test.seed", System.nanoTime());
    private static final long SIZE = 8L << 20;

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

    private DiskState disk(final String node)
    {
        return cluster.node(node).resource.status().devices().get(0).diskState();
    }

    @Test
    void shouldServeWritesAndReadsThroughThePeerWhenThePrimarysDiskFailsAndResyncOnAttach() throws Exception
    {
        System.out.println("seed " + SEED);
        final Random random = new Random(SEED);
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        final byte[] expected = new byte[(int)SIZE];
        final byte[] block = new byte[64 * 1024];
        random.nextBytes(block);
        a.write(0, 0, block, false);
        System.arraycopy(block, 0, expected, 0, block.length);

        a.disk(0).failIo(StorageException.EIO);
        random.nextBytes(block);
        a.write(0, 1 << 20, block, false); // the local write fails; b has it: no error for the client
        System.arraycopy(block, 0, expected, 1 << 20, block.length);
        assertEquals(DiskState.DISKLESS, disk("a"), "the failed disk is detached");
        for (int i = 0; i < 20; i++)
        {
            random.nextBytes(block);
            final int offset = block.length * random.nextInt((int)(SIZE / block.length));
            a.write(0, offset, block, false);
            System.arraycopy(block, 0, expected, offset, block.length);
        }
        assertArrayEquals(expected, a.read(0, 0, (int)SIZE), "reads come from b");
        assertArrayEquals(expected, cluster.node("b").readDisk(0, 0, (int)SIZE));

        // Repaired: attach it again (on a Secondary); it is Inconsistent until a full resync from b.
        a.disk(0).failIo(0);
        final IllegalStateException primary = assertThrows(IllegalStateException.class, () -> a.resource.attach(0));
        assertTrue(primary.getMessage().contains("make it Secondary first"), primary.getMessage());
        await(a.resource.demote());
        final long sentBefore = cluster.node("b").resource.status().connections().get(0).peerDevices().get(0)
            .sentBytes();
        a.resource.attach(0);
        awaitCondition("a's disk resynced", () -> disk("a") == DiskState.UP_TO_DATE);
        assertEquals(SIZE, cluster.node("b").resource.status().connections().get(0).peerDevices().get(0).sentBytes() -
            sentBefore, "a full resync from b");
        assertArrayEquals(expected, a.readDisk(0, 0, (int)SIZE));
        a.promote();
        a.write(0, 0, new byte[] {7}, false);
        assertEquals(7, a.readDisk(0, 0, 1)[0], "the attached disk takes writes again");
        assertEquals(7, cluster.node("b").readDisk(0, 0, 1)[0]);
    }

    @Test
    void shouldRetryAFailedReadFromAPeer() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        final byte[] data = new byte[4096];
        new Random(SEED).nextBytes(data);
        a.write(0, 8192, data, false);
        a.disk(0).failIo(StorageException.EIO);
        assertArrayEquals(data, a.read(0, 8192, 4096), "served by b after the local read failed");
        assertEquals(DiskState.DISKLESS, disk("a"));
    }

    @Test
    void shouldFailTheRequestWhenNoPeerHasTheData() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        cluster.proxy("a", "b").cut();
        awaitCondition("a lost b", () -> a.resource.status().connections().get(0).connectionState() !=
            ConnectionState.CONNECTED);
        a.disk(0).failIo(StorageException.ENOSPC); // a full disk, handled like a failing one
        final RuntimeException failed = assertThrows(RuntimeException.class,
            () -> a.write(0, 0, new byte[4096], false));
        assertTrue(failed.getMessage().contains("injected fault"), failed.getMessage());
        assertEquals(DiskState.DISKLESS, disk("a"));
        final CompletableFuture<Void> read = new CompletableFuture<>();
        a.resource.read(0, 0, java.nio.ByteBuffer.allocateDirect(4096), EngineCluster::complete, read);
        final Throwable error = assertThrows(Throwable.class, () -> await(read));
        assertTrue(Arrays.toString(new Object[] {error}).contains("no UpToDate copy"), String.valueOf(error));
    }

    @Test
    void shouldDetachAFailingSecondaryDiskAndGoOnWithoutIt() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        cluster.node("b").disk(0).failIo(StorageException.EIO);
        a.write(0, 0, new byte[] {1}, false); // b fails to apply it: a's write still completes
        awaitCondition("b detached its disk", () -> disk("b") == DiskState.DISKLESS);
        awaitCondition("a stopped replicating to b", () -> a.resource.status().connections().get(0).peerDevices()
            .get(0).replicationState() == ReplicationState.OFF);
        a.write(0, 4096, new byte[] {2}, false);
        assertEquals(2, a.read(0, 4096, 1)[0]);
        assertEquals(2, cluster.node("b").read(0, 4096, 1)[0], "b reads through a, as a diskless node does");
    }

    @Test
    void shouldFailADisklessPrimarysWriteThatNoDiskConfirmed() throws Exception
    {
        // c is diskless and Primary; a's disk is detached; the link to b, the last copy, stops answering.
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).peerTimeoutMs(1000).diskNodes("a", "b")
            .disklessNodes("c").proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node c = cluster.node("c");
        c.promote();
        c.write(0, 0, new byte[] {1}, false);
        cluster.node("a").resource.detach(0);
        awaitCondition("a diskless", () -> disk("a") == DiskState.DISKLESS);
        cluster.proxy("b", "c").blackhole();
        final io.netty.buffer.ByteBuf data = io.netty.buffer.Unpooled.directBuffer(1).writeByte(2);
        final CompletableFuture<Void> write = c.writeAsync(0, 4096, data);
        // The peer timeout drops b: no disk is known to hold the write, so it must not be reported done.
        final Throwable failed = assertThrows(Throwable.class, () -> await(write));
        data.release();
        assertTrue(String.valueOf(failed).contains("no copy of volume 0 is known to hold"), String.valueOf(failed));
    }
}
