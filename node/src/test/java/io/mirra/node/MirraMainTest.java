package io.mirra.node;

import io.mirra.node.TestSupport.Result;
import io.mirra.node.admin.AdminClient;
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

    @Test
    void shouldAskWhichNodeAnAdminCommandGoesTo()
    {
        assertEquals(new Result(2, "", "mirra status: say which node: --config DIR --name NODE or --admin HOST:PORT\n"),
            TestSupport.run("status"));
        assertEquals(new Result(2, "", "mirra primary: --config DIR needs --name NODE, the node to ask\n"),
            TestSupport.run("--config", dir.toString(), "primary", "r1"));
        assertEquals(new Result(2, "", "mirra events: --name NODE needs --config DIR (or give --admin HOST:PORT)\n"),
            TestSupport.run("events", "--name", "alpha"));
        assertEquals(new Result(2, "", "mirra up: give either --config DIR --name NODE or --admin HOST:PORT," +
            " not both\n"),
            TestSupport.run("--admin", "127.0.0.1:7801", "--name", "alpha", "up", "r1"));
        assertEquals(new Result(2, "", "--admin: 'localhost' is not HOST:PORT with a port 0..65535" +
            " (IPv6 as [ADDR]:PORT)\n"),
            TestSupport.run("--admin", "localhost", "status"));
        assertEquals(new Result(2, "", "mirra status: option --name given twice\n"),
            TestSupport.run("--name", "alpha", "status", "--name", "bravo"));
        assertEquals(new Result(2, "", "mirra: option --config needs a value\n"), TestSupport.run("--config"));
        assertEquals(new Result(2, "", "mirra: a command is missing after the options (see mirra --help)\n"),
            TestSupport.run("--config", dir.toString(), "--name", "alpha"));
        assertEquals(new Result(2, "", "mirra: unknown option --frob (see mirra --help)\n"),
            TestSupport.run("--frob", "status"));
        assertEquals(new Result(2, "", "mirra: unknown command 'stats' (see mirra --help)\n"),
            TestSupport.run("--admin", "127.0.0.1:7801", "stats"));
    }

    @Test
    void shouldReportTheMistakesOfAnAdminCommandBeforeContactingTheNode()
    {
        // port 1 on loopback: nobody answers, and the usage check comes first anyway
        assertEquals(new Result(2, "", "mirra primary: RES is required (see mirra primary --help)\n"),
            TestSupport.run("--admin", "127.0.0.1:1", "primary"));
        assertEquals(new Result(2, "", "mirra down: unexpected argument 'x'\n"),
            TestSupport.run("--admin", "127.0.0.1:1", "down", "r1", "x"));
        assertEquals(new Result(2, "", "mirra secondary: unknown option --force (see mirra secondary --help)\n"),
            TestSupport.run("--admin", "127.0.0.1:1", "secondary", "r1", "--force"));
    }

    @Test
    void shouldPrintTheUsageOfEveryCommand()
    {
        final Result top = TestSupport.run("--help");
        assertEquals(0, top.code());
        assertTrue(top.out().contains(AdminClient.COMMANDS_SUMMARY), top.out());
        for (final String command : new String[] {"demo", "node", "serve", "check-config", "version"})
        {
            assertTrue(top.out().contains("\n  " + command + " "), command + " in " + top.out());
        }
        assertEquals(new Result(0, AdminClient.STATUS_USAGE + "\n", ""), TestSupport.run("status", "--help"));
        assertEquals(new Result(0, AdminClient.PRIMARY_USAGE + "\n", ""),
            TestSupport.run("--config", dir.toString(), "--name", "alpha", "primary", "--help"));
        assertEquals(new Result(0, MirraMain.NODE_USAGE + "\n", ""), TestSupport.run("node", "--help"));
        assertEquals(new Result(0, MirraMain.DEMO_USAGE + "\n", ""), TestSupport.run("demo", "--help"));
        assertEquals(2, TestSupport.run().code());
    }

    @Test
    void shouldCheckTheOptionsOfNode()
    {
        assertEquals(new Result(2, "", "mirra node: --config DIR is required (see mirra node --help)\n"),
            TestSupport.run("node"));
        assertEquals(new Result(2, "", "mirra node: --name NODE is required (see mirra node --help)\n"),
            TestSupport.run("node", "--config", dir.toString()));
        assertEquals(new Result(2, "", "mirra node: unexpected argument 'alpha'\n"),
            TestSupport.run("node", "--config", dir.toString(), "alpha"));
        assertEquals(new Result(2, "", "--io-threads: '0' must be a number from 1 to 256\n"),
            TestSupport.run("node", "--config", dir.toString(), "--name", "alpha", "--io-threads", "0"));
        assertEquals(new Result(2, "", "mirra node: --admin is for the admin commands; give --config DIR" +
            " --name NODE\n"),
            TestSupport.run("--admin", "127.0.0.1:7801", "node"));
        assertEquals(new Result(2, "", "mirra node: option --name given twice\n"),
            TestSupport.run("--name", "alpha", "node", "--name", "bravo"));
        assertEquals(new Result(2, "", "mirra serve: --config goes with node, check-config and the admin commands" +
            " (see mirra --help)\n"), TestSupport.run("--config", dir.toString(), "serve", "--disk", "x"));
    }

    @Test
    void shouldCheckTheOptionsOfDemo()
    {
        assertEquals(new Result(2, "", "mirra demo: --listen is gone: the addresses are in DIR/config/demo.yaml" +
            " (see mirra demo --help)\n"), TestSupport.run("demo", "--listen", "127.0.0.1:10809"));
        assertEquals(new Result(2, "", "--size: '1000' must be a multiple of 4 KiB (4096 bytes)\n"),
            TestSupport.run("demo", "--dir", dir.toString(), "--size", "1000"));
        assertEquals(new Result(2, "", "--size: '2P' must be at most 1 PiB\n"),
            TestSupport.run("demo", "--dir", dir.toString(), "--size", "2P"));
        assertEquals(new Result(2, "", "mirra demo: unexpected argument 'now'\n"), TestSupport.run("demo", "now"));
    }

    @Test
    void shouldReportEveryConfigurationErrorOfANodeWithExitTwo() throws Exception
    {
        Files.writeString(dir.resolve("r1.yaml"), RESOURCE.replace("    nbd: 127.0.0.1:8002",
            "    nbd: 127.0.0.1:8002\n    colour: blue") + "options:\n  quorum: most\n");
        for (final String[] args : new String[][] {
            {"node", "--config", dir.toString(), "--name", "bravo"},
            {"--config", dir.toString(), "--name", "bravo", "node"},
            {"--config", dir.toString(), "--name", "bravo", "status"},
        })
        {
            final Result result = TestSupport.run(args);
            assertEquals(2, result.code(), String.join(" ", args));
            assertEquals("", result.out());
            final List<String> lines = result.err().lines().toList();
            assertEquals(2, lines.size(), result.err());
            assertTrue(lines.get(0).startsWith("r1.yaml:17: nodes.bravo.colour: unknown key"), result.err());
            assertTrue(lines.get(1).startsWith("r1.yaml:26: options.quorum: "), result.err());
        }
    }

    @Test
    void shouldRefuseAnAdminCommandForANodeInNoResource() throws Exception
    {
        Files.writeString(dir.resolve("r1.yaml"), RESOURCE);
        final Result result = TestSupport.run("--config", dir.toString(), "--name", "delta", "status");
        assertEquals(2, result.code());
        assertTrue(result.err().contains("node 'delta' is in no resource; the nodes named are: alpha, bravo"),
            result.err());
    }

    @Test
    void shouldSayWhenTheNodeCannotBeReached() throws Exception
    {
        Files.writeString(dir.resolve("r1.yaml"), RESOURCE.replace("127.0.0.1:9001",
            "127.0.0.1:" + TestSupport.freePorts(1)[0]));
        final Result result = TestSupport.run("--config", dir.toString(), "--name", "alpha", "status");
        assertEquals(3, result.code());
        assertTrue(result.err().startsWith("mirra: cannot reach the admin endpoint of alpha at 127.0.0.1:"),
            result.err());
    }
}
