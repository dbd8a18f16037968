package io.mirra.node;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(30)
class MirraMainTest
{
    private static final String RESOURCE = String.join("\n",
        "resource: r1",
        "volumes:",
        "  0:",
        "    size: 1G",
        "nodes:",
        "  alpha:",
        "    address: 127.0.0.1:7001",
        "    nbd: 127.0.0.1:8001",
        "    admin: 127.0.0.1:9001",
        "    state-dir: alpha",
        "    volumes:",
        "      0:",
        "        disk: alpha/r1-0.img",
        "  bravo:",
        "    address: 127.0.0.1:7002",
        "    nbd: 127.0.0.1:8002",
        "    admin: 127.0.0.1:9002",
        "    state-dir: bravo",
        "    volumes:",
        "      0:",
        "        disk: diskless",
        "connection:",
        "  secret: s3cret-s3cret",
        "");

    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(final String... args)
    {
        return MirraMain.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void shouldSummarizeAValidConfiguration() throws Exception
    {
        Files.writeString(dir.resolve("r1.yaml"), RESOURCE);
        assertEquals(0, run("check-config", "--config", dir.toString()), err.toString(StandardCharsets.UTF_8));
        final String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("resource r1 (r1.yaml): 1 volume(s), 2 node(s), protocol C"), text);
        assertTrue(text.contains("volume 0: 1073741824 bytes, NBD export r1/0 or r1"), text);
        assertTrue(text.contains("node bravo: replication 127.0.0.1:7002"), text);
        assertTrue(text.contains("disks 0=diskless"), text);
        assertTrue(text.endsWith("configuration OK: 1 resource(s)\n"), text);
        assertTrue(!text.contains("s3cret"), "the secret is never printed: " + text);
    }

    @Test
    void shouldReportEveryErrorWithFileLineAndKeyAndExitTwo() throws Exception
    {
        Files.writeString(dir.resolve("r1.yaml"), RESOURCE
            .replace("    nbd: 127.0.0.1:8002", "    nbd: 127.0.0.1:8002\n    colour: blue") + "options:\n  quorum: most\n");
        assertEquals(2, run("check-config", "--config", dir.toString()));
        final String text = err.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("r1.yaml:17: nodes.bravo.colour:"), text);
        assertTrue(text.contains("r1.yaml:26: options.quorum:"), text);
        assertEquals(2, text.lines().count(), text);
        assertEquals("", out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void shouldRefuseANodeThatIsInNoResource() throws Exception
    {
        Files.writeString(dir.resolve("r1.yaml"), RESOURCE);
        assertEquals(2, run("check-config", "--config", dir.toString(), "--name", "delta"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("node 'delta' is in no resource"),
            err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void shouldRequireTheConfigDirectory()
    {
        assertEquals(2, run("check-config"));
        assertEquals("mirra check-config: --config DIR is required (see mirra check-config --help)\n",
            err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void shouldRejectUnknownCommandsAndOptions()
    {
        assertEquals(2, run("frobnicate"));
        assertEquals(2, run("serve", "--disk", "x", "--sise", "1G"));
        final String text = err.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("mirra: unknown command 'frobnicate'"), text);
        assertTrue(text.contains("mirra serve: unknown option --sise"), text);
    }
}
