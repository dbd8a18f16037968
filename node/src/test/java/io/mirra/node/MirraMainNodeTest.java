package io.mirra.node;

import io.mirra.node.TestSupport.Result;
import io.mirra.node.TestSupport.TestLifetime;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.mirra.node.TestSupport.await;
import static io.mirra.node.TestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code mirra node} and the admin commands against real nodes: a 2-node resource {@code r} (nodes {@code a} and
 * {@code b}, both with disks) on free loopback ports, in this JVM.
 */
class MirraMainNodeTest
{
    @TempDir
    Path dir;

    private int[] ports;
    private final List<ReplicationNode> nodes = new ArrayList<>();

    @BeforeEach
    void writeConfig() throws Exception
    {
        ports = TestSupport.freePorts(6);
        Files.writeString(dir.resolve("r.yaml"), String.join("\n",
            "resource: r",
            "volumes:",
            "  0:",
            "    size: 16M",
            "nodes:",
            node("a", 0),
            node("b", 1),
            "connection:",
            "  secret: test-secret-r",
            ""));
    }

    private String node(final String name, final int index)
    {
        return String.join("\n",
            "  " + name + ":",
            "    address: 127.0.0.1:" + ports[3 * index],
            "    nbd: 127.0.0.1:" + ports[3 * index + 1],
            "    admin: 127.0.0.1:" + ports[3 * index + 2],
            "    state-dir: " + name,
            "    volumes:",
            "      0:",
            "        disk: " + name + "/r-0.img");
    }

    @AfterEach
    void stopNodes()
    {
        nodes.forEach(ReplicationNode::close);
    }

    private void startNodes(final String... names) throws Exception
    {
        for (final String name : names)
        {
            nodes.add(ReplicationNode.start(dir, name, 1));
        }
    }

    private Result admin(final String node, final String... command)
    {
        final List<String> args = new ArrayList<>(List.of("--config", dir.toString(), "--name", node));
        args.addAll(List.of(command));
        return run(args.toArray(new String[0]));
    }

    /** Poll the status of a node through the command line until it contains the text. */
    private String awaitStatus(final String node, final String text)
    {
        final String[] last = {""};
        await(node + "'s status shows '" + text + "'", () ->
        {
            final Result result = admin(node, "status");
            last[0] = result.code() + " " + result.out() + result.err();
            return result.code() == 0 && result.out().contains(text);
        }, () -> last[0]);
        return last[0];
    }

    @Test
    @Timeout(60)
    void shouldShowStatusAndChangeRolesThroughTheAdminCommands() throws Exception
    {
        startNodes("a", "b");
        awaitStatus("a", "  b role:Secondary");
        final Result status = admin("a", "status");
        assertEquals(0, status.code(), status.err());
        assertTrue(status.out().startsWith("r role:Secondary\n  disk:UpToDate\n"), status.out());
        assertEquals("", status.err());

        final Result primary = admin("a", "primary", "r");
        assertEquals(new Result(0, "", ""), primary);
        assertTrue(admin("a", "status").out().startsWith("r role:Primary\n"));
        awaitStatus("b", "  a role:Primary");

        final Result refused = admin("b", "primary", "r");
        assertEquals(1, refused.code());
        assertEquals(1, refused.err().lines().count(), refused.err());
        assertTrue(refused.err().startsWith("mirra primary: ") && refused.err().contains("a is Primary"),
            refused.err());
        assertEquals("", refused.out());

        final Result unknown = admin("a", "primary", "nope");
        assertEquals(1, unknown.code());
        assertTrue(unknown.err().startsWith("mirra primary: ") && unknown.err().contains("unknown resource"),
            unknown.err());
        assertEquals(1, admin("b", "status", "nope").code());

        // the node options after the command, and --admin instead of --config/--name
        final Result json = run("status", "r", "--json", "--admin", "127.0.0.1:" + ports[5]);
        assertEquals(0, json.code(), json.err());
        assertTrue(json.out().contains("\"role\": \"Secondary\"") && json.out().contains("\"peer-role\": \"Primary\""),
            json.out());
        final Result after = run("status", "--name", "a", "--config", dir.toString());
        assertEquals(0, after.code(), after.err());
        assertTrue(after.out().startsWith("r role:Primary\n"), after.out());

        assertEquals(new Result(0, "", ""), admin("a", "secondary", "r"));
        awaitStatus("b", "  a role:Secondary");
    }

    @Test
    @Timeout(60)
    void shouldDisconnectAndConnectAPeer() throws Exception
    {
        startNodes("a", "b");
        awaitStatus("a", "  b role:Secondary");
        assertEquals(new Result(0, "", ""), admin("a", "disconnect", "r", "b"));
        awaitStatus("a", "  b connection:StandAlone");
        final Result wrongPeer = admin("a", "connect", "r", "zed");
        assertEquals(1, wrongPeer.code());
        assertTrue(wrongPeer.err().startsWith("mirra connect: "), wrongPeer.err());
        assertEquals(new Result(0, "", ""), admin("a", "connect", "r"));
        awaitStatus("a", "  b role:Secondary");
    }

    @Test
    @Timeout(60)
    void shouldApplyAChangedBitmapBlockSizeToTheRunningResourceAndRefuseWhatNeedsARestart() throws Exception
    {
        startNodes("a");
        awaitStatus("a", "r role:Secondary");
        assertEquals(new Result(0, "", ""), admin("a", "adjust"), "nothing changed");
        final Path file = dir.resolve("r.yaml");
        Files.writeString(file, Files.readString(file).replace("connection:\n",
            "options:\n  bitmap-block-size: 64K\nconnection:\n"));
        assertEquals(new Result(0, "applied r: bitmap-block-size 65536\n", ""), admin("a", "adjust", "r"));
        Files.writeString(file, Files.readString(file).replace("connection:\n", "connection:\n  protocol: A\n"));
        final Result restart = admin("a", "adjust");
        assertEquals(1, restart.code(), restart.toString());
        assertEquals("mirra adjust: changed settings that a running resource cannot take need 'down' and 'up' on " +
            "this node: r (connection)\n", restart.err());
        Files.writeString(file, "resource: [broken\n");
        final Result broken = run("--admin", "127.0.0.1:" + ports[2], "adjust");
        assertEquals(1, broken.code(), broken.toString());
        assertTrue(broken.err().contains("is invalid, nothing changed"), broken.err());
    }

    @Test
    @Timeout(60)
    void shouldTakeAResourceDownAndUp() throws Exception
    {
        startNodes("a", "b");
        awaitStatus("a", "  b role:Secondary");
        assertEquals(new Result(0, "", ""), admin("b", "down", "r"));
        assertEquals("# No resources to show on this node.\n", admin("b", "status").out());
        awaitStatus("a", "  b connection:Connecting");
        assertEquals(new Result(0, "", ""), admin("b", "up", "r"));
        awaitStatus("a", "  b role:Secondary");
    }

    @Test
    @Timeout(60)
    void shouldRunANodeInTheForegroundUntilStopped() throws Exception
    {
        startNodes("b");
        final TestLifetime lifetime = new TestLifetime();
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> MirraMain.run(
            new String[] {"node", "--config", dir.toString(), "--name", "a", "--io-threads", "2"},
            new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
            lifetime));
        assertTrue(lifetime.ready.await(20, TimeUnit.SECONDS), err.toString(StandardCharsets.UTF_8));
        final String nbd = "127.0.0.1:" + ports[1];
        assertEquals(String.join("\n",
            "mirra node a: export nbd://" + nbd + "/r/0 (volume 0 of r)",
            "mirra node a: export nbd://" + nbd + "/r (volume 0 of r)",
            "mirra node a: admin endpoint on 127.0.0.1:" + ports[2] + " (mirra --config " + dir + " --name a status)",
            ""), out.toString(StandardCharsets.UTF_8));
        awaitStatus("a", "  b role:Secondary");

        // the same node again: its addresses are taken
        final Result twice = run("node", "--config", dir.toString(), "--name", "a");
        assertEquals(1, twice.code());
        assertEquals(1, twice.err().lines().count(), twice.err());
        assertEquals("mirra node: cannot listen on 127.0.0.1:" + ports[0] + " (the replication address of a for r):" +
            " address already in use; is the node running already?\n", twice.err());

        lifetime.stop.countDown();
        assertEquals(0, exit.get(20, TimeUnit.SECONDS));
        final Result gone = admin("a", "status");
        assertEquals(3, gone.code());
        assertTrue(gone.err().startsWith("mirra: cannot reach the admin endpoint of a at 127.0.0.1:" + ports[2]),
            gone.err());
    }

    @Test
    @Timeout(30)
    void shouldRefuseADiskThatCannotBeOpened() throws Exception
    {
        // a directory where node a's disk file should be
        Files.createDirectories(dir.resolve("a/r-0.img"));
        final Result result = run("node", "--config", dir.toString(), "--name", "a");
        assertEquals(1, result.code());
        assertEquals(1, result.err().lines().count(), result.err());
        assertTrue(result.err().startsWith("mirra node: "), result.err());
        assertEquals("", result.out());
    }
}
