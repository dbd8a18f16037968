package io.mirra.systemtest;

import io.mirra.engine.replication.ConnectionState;
import io.mirra.engine.replication.ResourceStatus;
import io.mirra.engine.replication.Role;
import io.mirra.node.ReplicationNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Auto-promote (SPEC §1) with real clients against three in-process nodes (a and b with disks, c diskless): the
 * first writer makes its node Primary, a client of another node meanwhile gets a read-only export and learns why,
 * the node goes back to Secondary when its last writer leaves, and then a diskless node can become Primary the
 * same way; every write is on both disks.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AutoPromoteSystemTest
{
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STATE_TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private final List<ReplicationNode> nodes = new ArrayList<>();
    private final List<Clients.Background> clients = new ArrayList<>();

    @AfterEach
    void tearDown()
    {
        clients.forEach(Clients.Background::close);
        nodes.forEach(ReplicationNode::close);
    }

    private static int freePort() throws IOException
    {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            return s.getLocalPort();
        }
    }

    private Path writeConfig() throws IOException
    {
        final Path config = dir.resolve("config");
        Files.createDirectories(config);
        final StringBuilder yaml = new StringBuilder()
            .append("resource: r\n")
            .append("volumes:\n  0:\n    size: 64M\n")
            .append("nodes:\n");
        for (final String node : List.of("a", "b", "c"))
        {
            yaml.append("  ").append(node).append(":\n")
                .append("    address: 127.0.0.1:").append(freePort()).append('\n')
                .append("    nbd: 127.0.0.1:").append(freePort()).append('\n')
                .append("    admin: 127.0.0.1:").append(freePort()).append('\n')
                .append("    state-dir: ../").append(node).append('\n')
                .append("    volumes:\n      0:\n        disk: ")
                .append(node.equals("c") ? "diskless" : "../" + node + "/disk.img").append('\n');
        }
        yaml.append("connection:\n  protocol: C\n  secret: auto-promote-test\n");
        Files.writeString(config.resolve("r.yaml"), yaml);
        return config;
    }

    private String uri(final int node)
    {
        return "nbd://127.0.0.1:" + nodes.get(node).nbdAddress().getPort() + "/r";
    }

    private ResourceStatus status(final int node)
    {
        try
        {
            return nodes.get(node).status(Optional.of("r")).get(0);
        }
        catch (final Exception ex)
        {
            throw new AssertionError(ex);
        }
    }

    private void awaitRole(final int node, final Role role)
    {
        Clients.await(STATE_TIMEOUT, "node " + node + " " + role.displayName(), () -> status(node).role() == role,
            () -> status(node).toString());
    }

    @Test
    void shouldPromoteTheFirstWriterAndRefuseOthersUntilItLeaves() throws Exception
    {
        final String qemuIo = Clients.require("qemu-io");
        final Path config = writeConfig();
        for (final String node : List.of("a", "b", "c"))
        {
            nodes.add(ReplicationNode.start(config, node, 2));
        }
        Clients.await(STATE_TIMEOUT, "all connected", () ->
        {
            for (int n = 0; n < 3; n++)
            {
                for (final ResourceStatus.ConnectionStatus c : status(n).connections())
                {
                    if (c.connectionState() != ConnectionState.CONNECTED)
                    {
                        return false;
                    }
                }
            }
            return true;
        }, () -> status(0) + "\n" + status(1) + "\n" + status(2));

        // A writer on a that stays connected: a becomes Primary.
        final Clients.Background writer = Clients.start(dir, "writer-a", Map.of(), qemuIo, "-f", "raw",
            "-c", "write -P 0x5a 0 1M", "-c", "flush", "-c", "sleep 60000", uri(0));
        clients.add(writer);
        awaitRole(0, Role.PRIMARY);
        Clients.await(STATE_TIMEOUT, "b sees a Primary", () -> status(1).connections().get(0).peerRole() ==
            Role.PRIMARY, () -> status(1).toString());

        // b's export is read-only now: nbdinfo shows it, and qemu-io cannot open it for writing (EACCES).
        final Clients.Result info = Clients.ok(CLIENT_TIMEOUT, Clients.require("nbdinfo"), "--json", uri(1));
        assertTrue(info.stdout().replace(" ", "").contains("\"is_read_only\":true"), info.describe());
        final Clients.Result refused = Clients.run(CLIENT_TIMEOUT, qemuIo, "-f", "raw", "-c", "write -P 1 0 4k",
            uri(1));
        assertNotEquals(0, refused.exitCode(), refused.describe());
        assertTrue(refused.stderr().contains("Permission denied"), refused.describe());
        // Reading through b is fine, and sees a's write (protocol C: on b's disk once acknowledged).
        Clients.ok(CLIENT_TIMEOUT, qemuIo, "-r", "-f", "raw", "-c", "read -P 0x5a 0 1M", uri(1));
        assertEquals(Role.SECONDARY, status(1).role());

        // The writer leaves: a goes back to Secondary.
        writer.close();
        awaitRole(0, Role.SECONDARY);

        // Now the diskless node c may become Primary by writing; both disks get the data.
        Clients.ok(CLIENT_TIMEOUT, qemuIo, "-f", "raw", "-c", "write -P 0xc3 1M 1M", "-c", "read -P 0xc3 1M 1M",
            "-c", "read -P 0x5a 0 1M", uri(2));
        awaitRole(2, Role.SECONDARY);
        for (final int disk : new int[] {0, 1})
        {
            Clients.ok(CLIENT_TIMEOUT, qemuIo, "-r", "-f", "raw", "-c", "read -P 0xc3 1M 1M", "-c",
                "read -P 0x5a 0 1M", uri(disk));
        }
    }
}
