package io.mirra.engine.replication;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.mirra.engine.replication.EngineCluster.await;
import static io.mirra.engine.replication.EngineCluster.awaitCondition;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Scenario tests of the replication engine on an in-process cluster with real loopback sockets (SPEC §1-§2).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReplicationClusterTest
{
    private static final long SEED = Long.getLong("mirra.test.seed", System.nanoTime());

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

    private static byte[] pattern(final Random random, final int length)
    {
        final byte[] data = new byte[length];
        random.nextBytes(data);
        return data;
    }

    @Test
    void shouldHaveEveryWriteOnEveryPeerDiskWhenItCompletesUnderProtocolC() throws Exception
    {
        System.out.println("seed " + SEED);
        final Random random = new Random(SEED);
        cluster = EngineCluster.builder("r", dir).volumes(8L << 20).diskNodes("a", "b", "c").build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        for (int i = 0; i < 200; i++)
        {
            final int length = 512 * (1 + random.nextInt(64));
            final long offset = 512L * random.nextInt((int)((8L << 20) - length) / 512);
            final byte[] data = pattern(random, length);
            a.write(0, offset, data, false);
            // Protocol C: completion means on every peer's disk already, no waiting.
            for (final String peer : List.of("b", "c"))
            {
                assertArrayEquals(data, cluster.node(peer).readDisk(0, offset, length),
                    "write " + i + " at " + offset + " on " + peer);
            }
        }
    }

    @Test
    void shouldSplitWritesLargerThanOneFrame() throws Exception
    {
        final Random random = new Random(SEED);
        cluster = EngineCluster.builder("r", dir).volumes(8L << 20).diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        cluster.node("a").promote();
        final byte[] data = pattern(random, 3 * 1024 * 1024 + 4096);
        cluster.node("a").write(0, 4096, data, true);
        assertArrayEquals(data, cluster.node("b").readDisk(0, 4096, data.length));
    }

    @Test
    void shouldCatchUpAsyncPeersUnderProtocolAAndB() throws Exception
    {
        for (final Protocol protocol : new Protocol[] {Protocol.A, Protocol.B})
        {
            final Random random = new Random(SEED);
            cluster = EngineCluster.builder("r", dir.resolve(protocol.name())).volumes(4L << 20).protocol(protocol)
                .diskNodes("a", "b").build();
            cluster.awaitAllConnected();
            cluster.node("a").promote();
            final byte[] expected = new byte[4 << 20];
            for (int i = 0; i < 100; i++)
            {
                final int offset = 4096 * random.nextInt(1023);
                final byte[] data = pattern(random, 4096);
                cluster.node("a").write(0, offset, data, false);
                System.arraycopy(data, 0, expected, offset, 4096);
            }
            awaitCondition("b applied every write under protocol " + protocol, () ->
            {
                try
                {
                    return Arrays.equals(expected, cluster.node("b").readDisk(0, 0, expected.length));
                }
                catch (final Exception ex)
                {
                    throw new AssertionError(ex);
                }
            });
            cluster.close();
            cluster = null;
        }
    }

    @Test
    void shouldApplyAWriteCompletedBeforeAnotherWasSubmittedFirstAcrossVolumes() throws Exception
    {
        // Protocol A: the Primary completes W1 without waiting for the peer, then submits W2 on another volume.
        // The peer's disk holds W1 back; W2 must not reach the peer's disk before W1 (SPEC §2.2).
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20, 1L << 20).protocol(Protocol.A)
            .diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        final EngineCluster.Node b = cluster.node("b");
        a.promote();
        b.disk(0).holdWriteAt(8192);
        try
        {
            a.write(0, 8192, new byte[4096], false);
            awaitCondition("b is applying W1", () -> b.disk(0).isHolding());
            a.write(1, 0, new byte[4096], false);
            awaitCondition("W2 reached b", () -> b.resource.status().connections().get(0).peerDevices().get(1)
                .receivedBytes() == 4096);
            assertEquals(List.of(), b.disk(1).writeOffsets, "W2 was applied while W1 was still being written");
        }
        finally
        {
            b.disk(0).release(); // never leave a disk thread blocked, even when the assertion fails
        }
        awaitCondition("W2 applied", () -> b.disk(1).writeOffsets.size() == 1);
        assertEquals(List.of(8192L), b.disk(0).writeOffsets);
    }

    @Test
    void shouldApplyOverlappingWritesInOneOrderOnEveryCopy() throws Exception
    {
        final Random random = new Random(SEED);
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).protocol(Protocol.A).diskNodes("a", "b", "c")
            .build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        final List<CompletableFuture<Void>> writes = new ArrayList<>();
        final List<ByteBuf> buffers = new ArrayList<>();
        byte[] last = null;
        for (int i = 0; i < 64; i++)
        {
            last = pattern(random, 8192);
            final ByteBuf buf = Unpooled.directBuffer(8192).writeBytes(last);
            buffers.add(buf);
            writes.add(a.writeAsync(0, 4096 * (i % 3), buf)); // overlapping neighbours, all in flight at once
        }
        writes.forEach(EngineCluster::await);
        buffers.forEach(ByteBuf::release);
        final byte[] expected = a.readDisk(0, 0, 16384);
        assertArrayEquals(last, Arrays.copyOfRange(expected, 4096 * (63 % 3), 4096 * (63 % 3) + 8192));
        for (final String peer : List.of("b", "c"))
        {
            awaitCondition(peer + " equals the primary", () ->
            {
                try
                {
                    return Arrays.equals(expected, cluster.node(peer).readDisk(0, 0, 16384));
                }
                catch (final Exception ex)
                {
                    throw new AssertionError(ex);
                }
            });
        }
    }

    @Test
    void shouldFlushEveryPeerTheProtocolWaitsForBeforeCompletingAFlush() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).diskNodes("a", "b", "c").build();
        cluster.awaitAllConnected();
        cluster.node("a").promote();
        cluster.node("a").write(0, 0, new byte[4096], false);
        final int before = cluster.node("b").disk(0).flushes.get();
        cluster.node("a").flush(0);
        assertEquals(before + 1, cluster.node("b").disk(0).flushes.get());
        assertTrue(cluster.node("c").disk(0).flushes.get() >= 1);
        final int fuaBefore = cluster.node("c").disk(0).flushes.get();
        cluster.node("a").write(0, 0, new byte[4096], true);
        assertEquals(fuaBefore + 1, cluster.node("c").disk(0).flushes.get(), "FUA write flushed on the peer");
    }

    @Test
    void shouldRefuseWritesOnASecondaryAndASecondPrimary() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        final RuntimeException secondary = assertThrows(RuntimeException.class,
            () -> cluster.node("b").write(0, 0, new byte[4096], false));
        assertTrue(secondary.getMessage().contains("b is Secondary"), secondary.getMessage());
        cluster.node("a").promote();
        awaitCondition("b sees a as Primary", () -> cluster.node("b").resource.status().connections().get(0)
            .peerRole() == Role.PRIMARY);
        final RuntimeException second = assertThrows(RuntimeException.class, () -> cluster.node("b").promote());
        assertTrue(second.getMessage().contains("a is Primary"), second.getMessage());
        await(cluster.node("a").resource.demote());
        awaitCondition("b sees a as Secondary", () -> cluster.node("b").resource.otherPrimary() == null);
        cluster.node("b").promote();
        assertEquals(Role.PRIMARY, cluster.node("b").resource.role());
    }

    @Test
    void shouldLetExactlyOneOfTwoConcurrentPromotionsWin() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).diskNodes("a", "b", "c").build();
        cluster.awaitAllConnected();
        for (int round = 0; round < 10; round++)
        {
            final CompletableFuture<Void> b = cluster.node("b").resource.promote(false);
            final CompletableFuture<Void> c = cluster.node("c").resource.promote(false);
            int won = 0;
            for (final CompletableFuture<Void> f : List.of(b, c))
            {
                try
                {
                    await(f);
                    won++;
                }
                catch (final RuntimeException ex)
                {
                    assertTrue(ex.getMessage().contains("Primary"), ex.getMessage());
                }
            }
            assertEquals(1, won, "round " + round);
            final EngineCluster.Node winner = cluster.node("b").resource.role() == Role.PRIMARY ?
                cluster.node("b") : cluster.node("c");
            await(winner.resource.demote());
            awaitCondition("nobody Primary", () -> cluster.node("a").resource.otherPrimary() == null &&
                cluster.node("b").resource.otherPrimary() == null && cluster.node("c").resource.otherPrimary() == null);
        }
    }

    @Test
    void shouldReadAndWriteThroughADisklessPrimary() throws Exception
    {
        final Random random = new Random(SEED);
        cluster = EngineCluster.builder("r", dir).volumes(4L << 20).diskNodes("a", "b").disklessNodes("c").build();
        cluster.awaitAllConnected();
        final EngineCluster.Node c = cluster.node("c");
        c.promote();
        for (int i = 0; i < 50; i++)
        {
            final int offset = 4096 * random.nextInt(1000);
            final byte[] data = pattern(random, 4096 * (1 + random.nextInt(4)));
            c.write(0, offset, data, false);
            assertArrayEquals(data, c.read(0, offset, data.length));
            assertArrayEquals(data, cluster.node("a").readDisk(0, offset, data.length));
            assertArrayEquals(data, cluster.node("b").readDisk(0, offset, data.length));
        }
        final byte[] big = pattern(random, 2 * 1024 * 1024 + 512);
        c.write(0, 0, big, false);
        assertArrayEquals(big, c.read(0, 0, big.length));
        // Round-robin: both disk nodes served reads.
        for (final String disk : List.of("a", "b"))
        {
            final long served = cluster.node(disk).resource.status().connections().stream()
                .filter((conn) -> conn.peerName().equals("c")).findFirst().orElseThrow().peerDevices().get(0)
                .sentBytes();
            assertTrue(served > 0, disk + " served no reads");
        }
    }

    @Test
    void shouldTellAPeerThatWasAwayItsCopyIsOlderAndResyncIt() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).diskNodes("a", "b", "c").proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        a.write(0, 0, new byte[4096], false);
        final String before = a.resource.currentGeneration(0);
        cluster.proxy("a", "c").cut();
        cluster.proxy("b", "c").cut();
        awaitCondition("a sees c gone", () -> a.resource.status().connections().get(1).connectionState() !=
            ConnectionState.CONNECTED);
        a.write(0, 4096, new byte[] {1, 2, 3, 4}, false);
        final ResourceStatus.PeerDeviceStatus cDevice = a.resource.status().connections().get(1).peerDevices().get(0);
        assertEquals("c", a.resource.status().connections().get(1).peerName());
        assertEquals(4096, cDevice.outOfSyncBytes());
        // The write c missed started a new generation; b, still connected, follows it.
        assertNotEquals(before, a.resource.currentGeneration(0));
        awaitCondition("b follows", () -> a.resource.currentGeneration(0).equals(
            cluster.node("b").resource.currentGeneration(0)));
        assertEquals(before, cluster.node("c").resource.currentGeneration(0));
        cluster.proxy("a", "c").heal();
        cluster.proxy("b", "c").heal();
        cluster.awaitAllConnected();
        final EngineCluster.Node c = cluster.node("c");
        awaitCondition("c resynced", () -> c.resource.status().devices().get(0).diskState() == DiskState.UP_TO_DATE &&
            a.resource.currentGeneration(0).equals(c.resource.currentGeneration(0)));
        assertArrayEquals(new byte[] {1, 2, 3, 4}, c.readDisk(0, 4096, 4));
        assertEquals(0, a.resource.status().connections().get(1).peerDevices().get(0).outOfSyncBytes());
    }

    @Test
    void shouldKeepEveryAcknowledgedWriteWhenThePrimaryCrashes() throws Exception
    {
        final Random random = new Random(SEED);
        cluster = EngineCluster.builder("r", dir).volumes(2L << 20).diskNodes("a", "b").disklessNodes("c").build();
        cluster.awaitAllConnected();
        cluster.node("a").promote();
        final byte[] expected = new byte[2 << 20];
        for (int i = 0; i < 100; i++)
        {
            final int offset = 4096 * random.nextInt(511);
            final byte[] data = pattern(random, 4096);
            cluster.node("a").write(0, offset, data, false);
            System.arraycopy(data, 0, expected, offset, 4096);
        }
        cluster.stop("a");
        // c votes on b's promotion: it must have seen a go too.
        awaitCondition("b and c see a gone", () -> cluster.node("b").resource.otherPrimary() == null &&
            cluster.node("c").resource.otherPrimary() == null);
        cluster.node("b").promote();
        assertArrayEquals(expected, cluster.node("b").read(0, 0, expected.length));
        assertArrayEquals(expected, cluster.node("c").read(0, 0, expected.length));
        cluster.node("b").write(0, 0, new byte[] {9}, false);
        // The old Primary comes back: its copy is older than b's, is recognised as such and resyncs from b.
        cluster.start("a");
        cluster.awaitAllConnected();
        awaitCondition("a resynced from b", () ->
            cluster.node("a").resource.status().devices().get(0).diskState() == DiskState.UP_TO_DATE);
        expected[0] = 9;
        assertArrayEquals(expected, cluster.node("a").readDisk(0, 0, expected.length));
    }

    @Test
    void shouldDetectSplitBrainAndStayDisconnected() throws Exception
    {
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20).diskNodes("a", "b").proxies(true).build();
        cluster.awaitAllConnected();
        cluster.proxy("a", "b").cut();
        awaitCondition("a and b apart", () -> cluster.node("a").resource.status().connections().get(0)
            .connectionState() != ConnectionState.CONNECTED && cluster.node("b").resource.status().connections()
            .get(0).connectionState() != ConnectionState.CONNECTED);
        // Without quorum both may become Primary while apart, and both write: two histories.
        cluster.node("a").promote();
        cluster.node("b").promote();
        cluster.node("a").write(0, 0, new byte[] {1}, false);
        cluster.node("b").write(0, 0, new byte[] {2}, false);
        cluster.proxy("a", "b").heal();
        for (final String node : List.of("a", "b"))
        {
            awaitCondition(node + " reports split brain, StandAlone", () ->
            {
                final ResourceStatus.ConnectionStatus c = cluster.node(node).resource.status().connections().get(0);
                return c.connectionState() == ConnectionState.STAND_ALONE && "SplitBrain".equals(c.reason());
            });
        }
        // Nothing was merged: each keeps its own data.
        assertEquals(1, cluster.node("a").readDisk(0, 0, 1)[0]);
        assertEquals(2, cluster.node("b").readDisk(0, 0, 1)[0]);
    }

    @Test
    void shouldStopReadingAPrimaryWhoseWritesPileUpAtTheGate() throws Exception
    {
        // Protocol A with a huge send bound: only the receiving side bounds what waits for a slow disk.
        cluster = EngineCluster.builder("r", dir).volumes(256L << 20).protocol(Protocol.A).asyncMaxUnacked(1L << 30)
            .diskNodes("a", "b").build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        final EngineCluster.Node b = cluster.node("b");
        a.promote();
        b.disk(0).holdWriteAt(0);
        final byte[] mib = new byte[1 << 20];
        a.write(0, 0, mib, false);
        awaitCondition("b holds the first write", () -> b.disk(0).isHolding());
        long maxPending = 0;
        for (int i = 1; i < 160; i++)
        {
            mib[0] = (byte)i;
            a.write(0, (long)i << 20, mib, false); // each completes at once (A) and is a new epoch at b
            maxPending = Math.max(maxPending, b.resource.status().connections().get(0).peerDevices().get(0)
                .pending());
        }
        final long received = b.resource.status().connections().get(0).peerDevices().get(0).receivedBytes();
        assertTrue(received < (130L << 20), "b read " + (received >> 20) + " MiB while its disk was stuck");
        assertTrue(maxPending <= 100, "pending at b: " + maxPending);
        b.disk(0).release();
        awaitCondition("b applied everything", () ->
        {
            try
            {
                return b.readDisk(0, 159L << 20, 1)[0] == (byte)159;
            }
            catch (final Exception ex)
            {
                throw new AssertionError(ex);
            }
        });
    }

    @Test
    void shouldKeepAnAsyncPeerACrashConsistentImageOfBothVolumesBehindASlowLink() throws Exception
    {
        // Records 1..N alternate between two volumes; each is written only after the previous one completed.
        // Sampled at any moment, the peer's copy must hold a prefix: if record i is there, every j < i is too.
        cluster = EngineCluster.builder("r", dir).volumes(1L << 20, 1L << 20).protocol(Protocol.A)
            .diskNodes("a", "b").proxies(true).build();
        cluster.awaitAllConnected();
        cluster.proxy("a", "b").delayMillis(1);
        final EngineCluster.Node a = cluster.node("a");
        final EngineCluster.Node b = cluster.node("b");
        a.promote();
        final int records = 400;
        final java.util.concurrent.atomic.AtomicBoolean writing = new java.util.concurrent.atomic.AtomicBoolean(true);
        final java.util.concurrent.atomic.AtomicReference<String> violation =
            new java.util.concurrent.atomic.AtomicReference<>();
        final java.util.concurrent.atomic.AtomicInteger samples = new java.util.concurrent.atomic.AtomicInteger();
        final Thread sampler = new Thread(() ->
        {
            int round = 0;
            while (writing.get() && violation.get() == null)
            {
                try
                {
                    // Read one volume block by block from the last slot down, then the other volume (alternating
                    // which comes first). Every earlier record is then read after the newest one seen in the first
                    // volume was already visible: if the order was kept, it must be visible too.
                    final int first = round++ % 2;
                    final byte[] one = new byte[200 * 4096];
                    for (int slot = 199; slot >= 0; slot--)
                    {
                        System.arraycopy(b.readDisk(first, 4096L * slot, 4096), 0, one, slot * 4096, 4096);
                    }
                    final byte[] two = b.readDisk(1 - first, 0, 200 * 4096);
                    int newestInFirst = 0;
                    for (int slot = 0; slot < 200; slot++)
                    {
                        newestInFirst = Math.max(newestInFirst, recordAt(one, slot));
                    }
                    for (int j = 1; j < newestInFirst; j++)
                    {
                        final byte[] where = (j % 2 == first) ? one : two;
                        if (recordAt(where, (j - 1) / 2) != j)
                        {
                            violation.set("record " + newestInFirst + " visible but " + j + " not");
                        }
                    }
                    samples.incrementAndGet();
                }
                catch (final Exception ex)
                {
                    violation.set(ex.toString());
                }
            }
        }, "sampler");
        sampler.start();
        final byte[] block = new byte[4096];
        for (int i = 1; i <= records; i++)
        {
            java.nio.ByteBuffer.wrap(block).putInt(0, i);
            a.write(i % 2, 4096L * ((i - 1) / 2), block, false);
        }
        awaitCondition("b caught up", () ->
        {
            try
            {
                return recordAt(b.readDisk(records % 2, 0, 200 * 4096), (records - 1) / 2) == records;
            }
            catch (final Exception ex)
            {
                throw new AssertionError(ex);
            }
        });
        writing.set(false);
        sampler.join(30_000);
        System.out.println("consistency samples: " + samples.get());
        assertEquals(null, violation.get());
        assertTrue(samples.get() > 0);
    }

    private static int recordAt(final byte[] volume, final int slot)
    {
        return java.nio.ByteBuffer.wrap(volume).getInt(slot * 4096);
    }
}
