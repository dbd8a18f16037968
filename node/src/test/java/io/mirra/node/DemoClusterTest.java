package io.mirra.node;

import io.mirra.node.TestSupport.Result;
import io.mirra.node.config.ConfigLoader;
import io.mirra.node.config.ResourceConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The 3-node cluster of {@code mirra demo}, on free ports in a temporary directory. */
class DemoClusterTest
{
    @TempDir
    Path dir;

    @Test
    @Timeout(10)
    void shouldWriteTheExampleOfTheConfigurationGuide() throws Exception
    {
        // the demo's file is the one docs/configuration.md shows and explains, word for word
        final String guide = Files.readString(Path.of("..", "docs", "configuration.md"), StandardCharsets.UTF_8);
        final int start = guide.indexOf("```yaml\n") + "```yaml\n".length();
        final String example = guide.substring(start, guide.indexOf("```\n", start));
        assertEquals(example, DemoCluster.configYaml(DemoCluster.DEFAULT_SIZE, DemoCluster.DEFAULT_PORTS));
    }

    @Test
    @Timeout(10)
    void shouldWriteAValidConfigurationForAnySizeAndPorts() throws Exception
    {
        final String yaml = DemoCluster.configYaml(512L << 20, List.of(new DemoCluster.NodePorts(40001, 40002, 40003),
            new DemoCluster.NodePorts(40011, 40012, 40013), new DemoCluster.NodePorts(40021, 40022, 40023)));
        assertTrue(yaml.contains("    size: 512M                  # 512 MiB; units K"), yaml);
        assertTrue(yaml.contains("    address: 127.0.0.1:40001    # replication address of alpha"), yaml);
        Files.writeString(dir.resolve("demo.yaml"), yaml);
        final ResourceConfig demo = ConfigLoader.load(dir).get(0);
        assertEquals(512L << 20, demo.volumes().get(0).sizeBytes());
        assertEquals(40022, demo.node("charlie").orElseThrow().nbd().port());
        assertTrue(demo.node("charlie").orElseThrow().isDiskless(0));
        assertEquals("3T", DemoCluster.sizeText(3L << 40));
        assertEquals("12K", DemoCluster.sizeText(12288));
        assertEquals("1 GiB", DemoCluster.humanSize(DemoCluster.DEFAULT_SIZE));
    }

    @Test
    @Timeout(90)
    void shouldStartThreeConnectedNodesAndReuseTheirDataOnTheNextStart() throws Exception
    {
        final int[] free = TestSupport.freePorts(9);
        final List<DemoCluster.NodePorts> ports = List.of(new DemoCluster.NodePorts(free[0], free[1], free[2]),
            new DemoCluster.NodePorts(free[3], free[4], free[5]), new DemoCluster.NodePorts(free[6], free[7], free[8]));
        final Path demoDir = dir.resolve("mirra-demo");
        final String config = demoDir.resolve("config").toString();

        final String banner;
        try (DemoCluster cluster = DemoCluster.start(demoDir, 16L << 20, ports))
        {
            assertTrue(cluster.created());
            assertTrue(cluster.awaitConnected(DemoCluster.CONNECT_DEADLINE), "the demo's nodes connect");
            banner = banner(cluster);
            assertTrue(banner.startsWith("mirra demo: created " + config + "/demo.yaml: resource demo, one volume" +
                " of 16 MiB, replicated with protocol C\n"), banner);
            for (int i = 0; i < 3; i++)
            {
                assertTrue(banner.contains("nbd://127.0.0.1:" + free[3 * i + 1] + "/demo "), banner);
                assertTrue(banner.contains("127.0.0.1:" + free[3 * i + 2] + "\n"), banner);
            }
            assertTrue(banner.contains("  charlie  nbd://127.0.0.1:" + free[7] + "/demo"), banner);
            assertTrue(banner.contains("\n  charlie:\n    demo role:Secondary\n      disk:Diskless client:yes\n" +
                "      alpha role:Secondary\n        peer-disk:UpToDate\n      bravo role:Secondary\n"), banner);
            assertTrue(banner.contains("qemu-io -f raw -c 'write -P 1 0 1M' nbd://127.0.0.1:" + free[1] + "/demo"),
                banner);
            assertTrue(banner.contains("./mirra --config " + config + " --name alpha status"), banner);
            assertFalse(banner.contains("Not every node connected"), banner);

            // every admin command works on the demo with --config DIR/config --name NODE
            final Result status = TestSupport.run("--config", config, "--name", "bravo", "status", "demo");
            assertEquals(0, status.code(), status.err());
            assertEquals(String.join("\n",
                "demo role:Secondary",
                "  disk:UpToDate",
                "  alpha role:Secondary",
                "    peer-disk:UpToDate",
                "  charlie role:Secondary",
                "    peer-disk:Diskless peer-client:yes",
                "", ""), status.out());
            assertEquals(0, TestSupport.run("--config", config, "--name", "charlie", "primary", "demo").code());
            TestSupport.await("alpha sees charlie Primary", () -> TestSupport.run("--config", config, "--name",
                "alpha", "status").out().contains("charlie role:Primary"), () -> "");
            assertEquals(0, TestSupport.run("--config", config, "--name", "charlie", "secondary", "demo").code());

            // a StandAlone connection does not retry by itself: waiting for it ends at once
            assertEquals(0, TestSupport.run("--config", config, "--name", "alpha", "disconnect", "demo", "bravo")
                .code());
            assertEquals(0, TestSupport.run("--config", config, "--name", "bravo", "disconnect", "demo", "alpha")
                .code());
            TestSupport.await("alpha is StandAlone from bravo", () -> banner(cluster).contains(
                "\n  alpha:\n    demo role:Secondary\n      disk:UpToDate\n      bravo connection:StandAlone"),
                () -> banner(cluster));
            assertTrue(cluster.awaitConnected(DemoCluster.CONNECT_DEADLINE));
            assertEquals(0, TestSupport.run("--config", config, "--name", "alpha", "connect", "demo").code());
            assertEquals(0, TestSupport.run("--config", config, "--name", "bravo", "connect", "demo").code());
            TestSupport.await("alpha and bravo connect again", () -> TestSupport.run("--config", config, "--name",
                "alpha", "status").out().contains("  bravo role:Secondary"), () -> banner(cluster));
        }
        assertTrue(Files.exists(demoDir.resolve("alpha/demo-0.img")));
        assertTrue(Files.exists(demoDir.resolve("bravo/demo-0.img")));
        assertFalse(Files.exists(demoDir.resolve("charlie/demo-0.img")));

        // again: the configuration and the data are reused, and the size of a new demo does not apply
        try (DemoCluster cluster = DemoCluster.start(demoDir, 32L << 20, ports))
        {
            assertFalse(cluster.created());
            assertTrue(cluster.awaitConnected(DemoCluster.CONNECT_DEADLINE), "the demo's nodes connect again");
            final String again = banner(cluster);
            assertTrue(again.startsWith("mirra demo: reusing " + config + "/demo.yaml and the data in " + demoDir +
                ": resource demo, one volume of 16 MiB"), again);
            assertTrue(again.contains("\n  alpha:\n    demo role:Secondary\n      disk:UpToDate\n"), again);
        }
    }

    private static String banner(final DemoCluster cluster)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        cluster.printBanner(new PrintStream(out, true, StandardCharsets.UTF_8), true);
        return out.toString(StandardCharsets.UTF_8);
    }
}
