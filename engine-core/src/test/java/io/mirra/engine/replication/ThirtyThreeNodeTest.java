package io.mirra.engine.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * SPEC §1: a resource lives on up to 33 nodes, so a Primary replicates to 32 peers. 33 nodes in this JVM, a small
 * volume, protocol C: every write is on all 32 peers' disks when it completes.
 */
class ThirtyThreeNodeTest
{
    private static final long SEED = Long.getLong("mirra.test.seed", System.nanoTime());

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void shouldReplicateEveryWriteToThirtyTwoPeers() throws Exception
    {
        System.out.println("seed " + SEED);
        final Random random = new Random(SEED);
        final List<String> names = new ArrayList<>();
        for (int i = 0; i < 33; i++)
        {
            names.add(String.format("n%02d", i));
        }
        try (EngineCluster cluster = EngineCluster.builder("big", dir).volumes(256L << 10).diskThreads(1)
            .diskNodes(names.toArray(new String[0])).build())
        {
            cluster.awaitAllConnected();
            final EngineCluster.Node primary = cluster.node("n17");
            primary.promote();
            assertEquals(32, primary.resource.status().connections().stream()
                .filter((c) -> c.connectionState() == ConnectionState.CONNECTED).count());
            for (int i = 0; i < 16; i++)
            {
                final byte[] data = new byte[4096 * (1 + random.nextInt(3))];
                random.nextBytes(data);
                final long offset = 4096L * random.nextInt(60);
                primary.write(0, offset, data, false);
                for (final String peer : names)
                {
                    assertArrayEquals(data, cluster.node(peer).readDisk(0, offset, data.length),
                        "write " + i + " on " + peer);
                }
            }
        }
    }
}
