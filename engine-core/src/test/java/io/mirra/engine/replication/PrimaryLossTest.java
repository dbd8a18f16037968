package io.mirra.engine.replication;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.mirra.engine.replication.EngineCluster.awaitCondition;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Primary dies with a write that reached one Secondary and not the other (never acknowledged: protocol C waits
 * for both). Whichever Secondary becomes Primary next, the other ends up with exactly its data: the blocks of the
 * lost Primary's last writes are resynced from the new Primary.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PrimaryLossTest
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

    private boolean sameDisks(final String x, final String y)
    {
        try
        {
            return Arrays.equals(cluster.node(x).readDisk(0, 0, (int)SIZE), cluster.node(y).readDisk(0, 0, (int)SIZE));
        }
        catch (final Exception ex)
        {
            throw new AssertionError(ex);
        }
    }

    @ParameterizedTest(name = "new Primary {0}")
    @ValueSource(strings = {"b", "c"})
    void shouldLeaveTheSecondariesIdenticalWhenThePrimaryDiesWithAWriteOnlyOneOfThemGot(final String newPrimary)
        throws Exception
    {
        System.out.println("seed " + SEED);
        final Random random = new Random(SEED);
        // The peer timeout (30 s) keeps a waiting for c: the write is never acknowledged before a dies.
        cluster = EngineCluster.builder("r", dir).volumes(SIZE).peerTimeoutMs(30_000).diskNodes("a", "b", "c")
            .proxies(true).build();
        cluster.awaitAllConnected();
        final EngineCluster.Node a = cluster.node("a");
        a.promote();
        final byte[] block = new byte[64 * 1024];
        for (int i = 0; i < 10; i++)
        {
            random.nextBytes(block);
            a.write(0, (long)block.length * i, block, false);
        }
        // c stops hearing a; the next write reaches b only and can never be acknowledged.
        cluster.proxy("a", "c").blackhole();
        random.nextBytes(block);
        final ByteBuf data = Unpooled.directBuffer(block.length).writeBytes(block);
        final CompletableFuture<Void> lost = a.writeAsync(0, 3L * block.length, data);
        awaitCondition("b has the write", () ->
        {
            try
            {
                return Arrays.equals(block, cluster.node("b").readDisk(0, 3L * block.length, block.length));
            }
            catch (final Exception ex)
            {
                throw new AssertionError(ex);
            }
        });
        assertFalse(lost.isDone(), "c never got it: not acknowledged");
        cluster.crash("a");
        data.release();
        assertFalse(sameDisks("b", "c"), "b and c differ in the block of the lost write");
        awaitCondition("b and c see a gone", () ->
            cluster.node("b").resource.otherPrimary() == null && cluster.node("c").resource.otherPrimary() == null);
        cluster.node(newPrimary).promote();
        final String other = newPrimary.equals("b") ? "c" : "b";
        awaitCondition(other + " resynced the lost Primary's last blocks from " + newPrimary, () ->
            cluster.node(other).resource.status().devices().get(0).diskState() == DiskState.UP_TO_DATE &&
            sameDisks("b", "c"));
        cluster.node(newPrimary).write(0, 0, new byte[] {9}, false);
        assertTrue(sameDisks("b", "c"), "and they replicate on");
    }
}
