package io.mirra.node;

import io.mirra.engine.replication.ConnectionState;
import io.mirra.engine.replication.ResourceStatus;
import io.mirra.node.admin.AdminException;
import io.mirra.node.admin.StatusFormat;
import io.mirra.node.config.ConfigException;
import io.mirra.node.config.ConfigLoader;
import io.mirra.node.config.NodeConfig;
import io.mirra.node.config.ResourceConfig;
import io.mirra.node.config.Sizes;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The cluster of {@code mirra demo} (SPEC §3): the resource {@code demo} of docs/configuration.md on three nodes
 * running in this one process, {@code alpha} and {@code bravo} with disks and {@code charlie} diskless. The
 * configuration is an ordinary config directory ({@code DIR/config/demo.yaml}), so every admin command works on the
 * demo with {@code --config DIR/config --name NODE}.
 */
public final class DemoCluster implements AutoCloseable
{
    /** The demo's resource. */
    public static final String RESOURCE = "demo";
    /** The demo's nodes, in the order of the resource file. */
    public static final List<String> NODES = List.of("alpha", "bravo", "charlie");
    /** The ports of docs/configuration.md's example, which {@code mirra demo} uses. */
    public static final List<NodePorts> DEFAULT_PORTS = List.of(new NodePorts(7789, 10809, 7801),
        new NodePorts(7790, 10810, 7802), new NodePorts(7791, 10811, 7803));
    /** Size of a new demo volume unless {@code --size} says otherwise. */
    public static final long DEFAULT_SIZE = 1L << 30;
    /** How long the demo waits for its nodes to connect before it prints the status anyway (loopback: < 1 s). */
    public static final Duration CONNECT_DEADLINE = Duration.ofSeconds(15);

    private static final Pattern SHELL_SAFE = Pattern.compile("[A-Za-z0-9_./:=+-]+");

    private final Path dir;
    private final List<ReplicationNode> nodes;
    private final ResourceConfig config;
    private final boolean created;

    /**
     * The ports of one demo node, all on 127.0.0.1.
     *
     * @param replication its replication {@code address}.
     * @param nbd         its {@code nbd} address.
     * @param admin       its {@code admin} address.
     */
    public record NodePorts(int replication, int nbd, int admin)
    {
    }

    private DemoCluster(final Path dir, final List<ReplicationNode> nodes, final ResourceConfig config,
        final boolean created)
    {
        this.dir = dir;
        this.nodes = List.copyOf(nodes);
        this.config = config;
        this.created = created;
    }

    /**
     * Write {@code DIR/config/demo.yaml} unless it exists, then start alpha, bravo and charlie from it.
     *
     * @param dir       the demo directory: {@code config/} and each node's state directory are in it.
     * @param sizeBytes size of the volume of a new demo; ignored when the configuration exists.
     * @param ports     three entries: the ports of alpha, bravo and charlie for a new demo.
     * @return the running cluster; {@link #close} stops it.
     * @throws ConfigException      when an existing configuration is invalid.
     * @throws IOException          when a file, disk or port cannot be opened.
     * @throws InterruptedException while starting.
     */
    public static DemoCluster start(final Path dir, final long sizeBytes, final List<NodePorts> ports)
        throws ConfigException, IOException, InterruptedException
    {
        final Path configDir = dir.resolve("config");
        final Path file = configDir.resolve(RESOURCE + ".yaml");
        final boolean created = !Files.exists(file);
        if (created)
        {
            Files.createDirectories(configDir);
            Files.writeString(file, configYaml(sizeBytes, ports), StandardCharsets.UTF_8);
        }
        final Optional<ResourceConfig> demo = ConfigLoader.load(configDir).stream()
            .filter((r) -> r.name().equals(RESOURCE)).findFirst();
        if (demo.isEmpty())
        {
            throw new IOException(configDir + " has no resource '" + RESOURCE + "'; remove " + dir +
                " to start a new demo");
        }
        final List<ReplicationNode> started = new ArrayList<>();
        try
        {
            for (final String name : NODES)
            {
                started.add(ReplicationNode.start(configDir, name, StandaloneServer.IO_THREADS_DEFAULT));
            }
        }
        catch (final ConfigException | IOException | InterruptedException | RuntimeException ex)
        {
            closeAll(started);
            throw ex;
        }
        return new DemoCluster(dir, started, demo.get(), created);
    }

    /**
     * The demo's resource file: the example of docs/configuration.md with the given size and ports.
     *
     * @param sizeBytes the volume size: positive, a multiple of 4 KiB.
     * @param ports     the ports of alpha, bravo and charlie.
     * @return the YAML text.
     */
    public static String configYaml(final long sizeBytes, final List<NodePorts> ports)
    {
        if (ports.size() != NODES.size())
        {
            throw new IllegalArgumentException("the demo has " + NODES.size() + " nodes, got " + ports.size() +
                " port sets");
        }
        final NodePorts a = ports.get(0);
        final NodePorts b = ports.get(1);
        final NodePorts c = ports.get(2);
        return String.join("\n",
            "# demo.yaml: the resource \"demo\", the same file on every node.",
            "resource: demo                  # the resource name; need not match the file name",
            "",
            "volumes:                        # volume number -> settings; numbers are 0, 1, 2, ... without gaps",
            "  0:",
            commented("    size: " + sizeText(sizeBytes), humanSize(sizeBytes) +
                "; units K, M, G, T, P (also KiB, MiB, ...) are powers of 1024"),
            "",
            "nodes:                          # node name -> settings; at most 33 nodes",
            "  alpha:",
            "    node-id: 0                  # 0..32, unique; kept in the metadata, so never renumber a node",
            commented("    address: 127.0.0.1:" + a.replication(), "replication address of alpha for this resource"),
            commented("    nbd: 127.0.0.1:" + a.nbd(), "NBD listen address of alpha (all of alpha's resources)"),
            commented("    admin: 127.0.0.1:" + a.admin(), "admin endpoint of alpha (mirra status, primary, ...)"),
            "    state-dir: ../alpha         # metadata, bitmaps, generation identifiers",
            "    volumes:",
            "      0:",
            "        disk: ../alpha/demo-0.img   # a file (created sparse) or a block device",
            "  bravo:",
            "    node-id: 1",
            "    address: 127.0.0.1:" + b.replication(),
            "    nbd: 127.0.0.1:" + b.nbd(),
            "    admin: 127.0.0.1:" + b.admin(),
            "    state-dir: ../bravo",
            "    volumes:",
            "      0:",
            "        disk: ../bravo/demo-0.img",
            "  charlie:",
            "    node-id: 2",
            "    address: 127.0.0.1:" + c.replication(),
            "    nbd: 127.0.0.1:" + c.nbd(),
            "    admin: 127.0.0.1:" + c.admin(),
            "    state-dir: ../charlie",
            "    volumes:",
            "      0:",
            "        disk: diskless          # no local copy: must be said explicitly",
            "",
            "options:                        # resource options; every key is optional",
            "  quorum: majority              # off | majority | a number of votes",
            "  on-no-quorum: suspend-io      # suspend-io | io-error",
            "  bitmap-block-size: 4K         # one out-of-sync bit per 4 KiB (power of two, 4K..1M)",
            "  after-sb-0pri: discard-zero-changes   # split brain, neither node Primary",
            "  after-sb-1pri: discard-secondary      # split brain, one node Primary",
            "  after-sb-2pri: disconnect             # split brain, both nodes Primary",
            "  resync-rate-min: 250K         # bytes/s resync keeps even under application writes",
            "  resync-rate-max: 100M         # bytes/s resync never exceeds",
            "  al-extents: 1237              # activity log: 4 MiB extents resynced at most after a crash",
            "  resync-controller: adaptive   # adaptive: resync takes what writes leave (>= min) | fixed: max",
            "",
            "connection:                     # options of every connection between the nodes",
            "  protocol: C                   # A (async) | B (received) | C (sync)",
            "  compression: none             # none | lz4",
            "  tls: false                    # true: TLS with tls-ca and each node's tls-certificate/tls-key",
            "  secret: demo-secret-change-me # shared secret the peers authenticate each other with",
            "  resync-without-replication: true # writes to a SyncTarget only mark bits until the final pass",
            "  peer-timeout: 6s              # a peer silent this long (pings unanswered) is disconnected",
            "  resync-checksums: false       # true: digests first, resync sends only blocks that differ",
            "");
    }

    /** A key with its comment in the example's comment column (32), or one space after a longer key. */
    private static String commented(final String keyValue, final String comment)
    {
        return keyValue + " ".repeat(Math.max(1, 32 - keyValue.length())) + "# " + comment;
    }

    /** @return the size as the example writes it: the largest unit that divides it exactly ({@code 1G}). */
    static String sizeText(final long bytes)
    {
        final String[] units = {"P", "T", "G", "M", "K"};
        for (int i = 0; i < units.length; i++)
        {
            final long unit = 1L << (10 * (units.length - i));
            if (bytes % unit == 0)
            {
                return bytes / unit + units[i];
            }
        }
        return Long.toString(bytes);
    }

    /** @return the size for people: {@code 1 GiB}, {@code 512 MiB}. */
    static String humanSize(final long bytes)
    {
        return Sizes.format(bytes);
    }

    /**
     * @param sizeBytes a size given with {@code --size}.
     * @return null if a demo volume may have it, else why not (for a one-line usage error).
     */
    static String sizeProblem(final long sizeBytes)
    {
        if (sizeBytes % ConfigLoader.SIZE_ALIGNMENT != 0)
        {
            return "must be a multiple of 4 KiB (4096 bytes)";
        }
        return sizeBytes > ConfigLoader.MAX_VOLUME_SIZE ? "must be at most 1 PiB" : null;
    }

    /** @return true when the configuration was written by this start (a new demo). */
    public boolean created()
    {
        return created;
    }

    /** @return the running nodes, alpha, bravo, charlie. */
    public List<ReplicationNode> nodes()
    {
        return nodes;
    }

    /**
     * Wait until every node is connected to both of its peers for the demo resource, or the deadline passes. A
     * connection that is StandAlone (after a disconnect, or a split brain found at connect) does not retry by
     * itself, so it ends the wait as well; the status then says why. Woken by the nodes' state changes; checks
     * the status at least every half second as well.
     *
     * @param deadline how long to wait.
     * @return true if every connection is Connected or StandAlone; false if the deadline passed.
     * @throws InterruptedException while waiting.
     */
    public boolean awaitConnected(final Duration deadline) throws InterruptedException
    {
        final Semaphore changes = new Semaphore(0);
        final List<AutoCloseable> subscriptions = new ArrayList<>();
        try
        {
            for (final ReplicationNode node : nodes)
            {
                subscriptions.add(node.subscribe((event) -> changes.release()));
            }
            final long end = System.nanoTime() + deadline.toNanos();
            while (true)
            {
                // drain first, then look: a change after the look wakes the wait below
                changes.drainPermits();
                if (settled())
                {
                    return true;
                }
                final long left = end - System.nanoTime();
                if (left <= 0)
                {
                    return false;
                }
                changes.tryAcquire(Math.min(left, TimeUnit.MILLISECONDS.toNanos(500)), TimeUnit.NANOSECONDS);
            }
        }
        finally
        {
            closeQuietly(subscriptions);
        }
    }

    private boolean settled()
    {
        for (final ReplicationNode node : nodes)
        {
            for (final ResourceStatus status : statusOf(node))
            {
                for (final ResourceStatus.ConnectionStatus connection : status.connections())
                {
                    if (connection.connectionState() != ConnectionState.CONNECTED &&
                        connection.connectionState() != ConnectionState.STAND_ALONE)
                    {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    private static List<ResourceStatus> statusOf(final ReplicationNode node)
    {
        try
        {
            return node.status(Optional.of(RESOURCE));
        }
        catch (final AdminException ex)
        {
            return List.of(); // not up (someone ran 'down'): nothing to wait for
        }
    }

    /**
     * Print what runs, the status of every node and how to attach, as {@code mirra demo} does at start.
     *
     * @param out       where to print.
     * @param connected what {@link #awaitConnected} returned: false adds a line saying the wait timed out.
     */
    public void printBanner(final PrintStream out, final boolean connected)
    {
        final Path configDir = dir.resolve("config");
        final String admin = "./mirra --config " + shell(configDir.toString()) + " --name ";
        final List<String> uris = new ArrayList<>();
        for (final ReplicationNode node : nodes)
        {
            uris.add(MirraMain.nbdUri(node.nbdAddress(), RESOURCE));
        }
        final long size = config.volumes().get(0).sizeBytes();
        out.println("mirra demo: " + (created ? "created " : "reusing ") + configDir.resolve(RESOURCE + ".yaml") +
            (created ? "" : " and the data in " + dir) + ": resource " + RESOURCE + ", " +
            (config.volumes().size() == 1 ? "one volume of " + humanSize(size) : config.volumes().size() +
            " volumes") + ", replicated with protocol " + config.connection().protocol());
        out.println();
        out.println("Three nodes run in this process, on loopback:");
        out.println();
        out.println(String.format("  %-8s %-30s %-32s %s", "node", "NBD URI", "disk", "admin"));
        for (int i = 0; i < nodes.size(); i++)
        {
            final ReplicationNode node = nodes.get(i);
            final Optional<NodeConfig> nodeConfig = config.node(node.nodeName());
            final String disk = nodeConfig.isEmpty() ? "-" : nodeConfig.get().isDiskless(0) ? "diskless" :
                display(nodeConfig.get().disk(0).orElseThrow());
            out.println(String.format("  %-8s %-30s %-32s %s", node.nodeName(), uris.get(i), disk,
                MirraMain.hostPort(node.adminAddress())));
        }
        out.println();
        if (!connected)
        {
            out.println("Not every node connected within " + CONNECT_DEADLINE.toSeconds() +
                " s; the status says why (reason:...).");
        }
        out.println("Status (" + admin + "NODE status):");
        for (final ReplicationNode node : nodes)
        {
            out.println();
            out.println("  " + node.nodeName() + ":");
            StatusFormat.text(statusOf(node)).lines().filter((line) -> !line.isEmpty())
                .forEach((line) -> out.println("    " + line));
        }
        final String alpha = uris.get(0);
        out.println(String.join("\n",
            "",
            "Attach from another terminal; every node serves the same volume:",
            "  nbdinfo " + alpha,
            "  qemu-img info " + uris.get(1),
            "",
            "The first client that writes makes its node Primary (auto-promote); the other nodes then serve the",
            "volume read-only, and the node goes back to Secondary when its last writer disconnects:",
            "  qemu-io -f raw -c 'write -P 1 0 1M' " + alpha,
            "  qemu-io -r -f raw -c 'read -P 1 0 1M' " + uris.get(2) + "   (charlie reads through its peers)",
            "  mkdir -p /tmp/mirra-fuse && nbdfuse /tmp/mirra-fuse/ " + alpha + " &",
            "      (then: losetup -f --show /tmp/mirra-fuse/nbd; mkfs.ext4 and mount the loop device)",
            "  " + admin + "alpha status      (alpha role:Primary while a writer is connected)",
            "",
            "The other admin commands (primary, secondary, connect, disconnect, events) are in ./mirra --help;",
            "docs/demo.md walks through a switchover and a failover. Serving until Ctrl-C."));
        out.flush();
    }

    /** A path as the user would type it: relative to the working directory when below it. */
    private static String display(final Path path)
    {
        final Path normal = path.toAbsolutePath().normalize();
        final Path cwd = Path.of("").toAbsolutePath();
        return shell((normal.startsWith(cwd) ? cwd.relativize(normal) : normal).toString());
    }

    /** Quote a word for a shell command line when it needs it. */
    private static String shell(final String word)
    {
        return SHELL_SAFE.matcher(word).matches() ? word : "'" + word.replace("'", "'\\''") + "'";
    }

    /** Stop the three nodes: each closes its exports, connections and disks. */
    @Override
    public void close()
    {
        closeAll(nodes);
    }

    private static void closeAll(final List<ReplicationNode> nodes)
    {
        // the last started first, so that alpha, which the user attaches to by default, goes last
        for (int i = nodes.size() - 1; i >= 0; i--)
        {
            nodes.get(i).close();
        }
    }

    private static void closeQuietly(final List<AutoCloseable> closeables)
    {
        for (final AutoCloseable closeable : closeables)
        {
            try
            {
                closeable.close();
            }
            catch (final Exception ex)
            {
                // an event subscription: nothing to do if it is already gone
            }
        }
    }
}
