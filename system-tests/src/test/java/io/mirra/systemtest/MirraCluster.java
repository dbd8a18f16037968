package io.mirra.systemtest;

import io.mirra.test.Json;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * A cluster of real {@code ./mirra node} processes on loopback, for one resource: it writes the resource file
 * (docs/configuration.md) with free ports, starts and crashes nodes, runs the admin commands ({@code ./mirra
 * --config DIR --name NODE COMMAND}) and reads {@code status --json}. Every process it started is stopped by
 * {@link #close()} (SIGTERM, then SIGKILL after a deadline), and by a JVM shutdown hook should the test JVM exit
 * before that.
 */
final class MirraCluster implements AutoCloseable
{
    /** The launcher runs the classes the build left in node/target (as MirraServeProcessTest). */
    static final Map<String, String> NO_BUILD = Map.of("MIRRA_NO_BUILD", "1");

    /** One node of the resource: its addresses and, unless diskless, its disk. */
    record Node(String name, int nodeId, String host, int replicationPort, int nbdPort, int adminPort,
        Path stateDir, Path disk)
    {
        boolean diskless()
        {
            return disk == null;
        }

        String nbd()
        {
            return host + ":" + nbdPort;
        }
    }

    private final Path dir;
    private final Path configDir;
    private final String resource;
    private final Map<String, Node> nodes;
    private final Map<String, Clients.Background> running = new LinkedHashMap<>();
    /** Every process ever started, also the crashed ones, for the logs in {@link #describe()}. */
    private final Map<String, List<Clients.Background>> started = new LinkedHashMap<>();
    private final Thread shutdownHook;
    /** Per-node configuration directories (see {@link #writeNodeConfig}); a node without one uses {@link #configDir}. */
    private final Map<String, Path> nodeConfigDirs = new LinkedHashMap<>();
    private final String volumeSize;
    private final String secret;
    private final String extraYaml;
    private Map<String, String> environment = NO_BUILD;
    private int starts;

    private MirraCluster(final Path dir, final Path configDir, final String resource, final Map<String, Node> nodes,
        final String volumeSize, final String secret, final String extraYaml)
    {
        this.dir = dir;
        this.configDir = configDir;
        this.resource = resource;
        this.nodes = nodes;
        this.volumeSize = volumeSize;
        this.secret = secret;
        this.extraYaml = extraYaml;
        this.shutdownHook = new Thread(this::killAll, "mirra-cluster-cleanup");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /**
     * Write the configuration directory {@code dir/config} with one resource file.
     *
     * @param dir        where the configuration, state directories, disks and logs go.
     * @param resource   the resource name.
     * @param volumeSize the size of volume 0, as written in the file (e.g. {@code 256M}).
     * @param secret     the shared secret.
     * @param names      the node names, in node-id order.
     * @param diskless   the names of the diskless nodes.
     * @return the cluster, no node running yet.
     */
    static MirraCluster create(final Path dir, final String resource, final String volumeSize, final String secret,
        final List<String> names, final Set<String> diskless) throws IOException
    {
        return create(dir, resource, volumeSize, secret, names, diskless, "");
    }

    /**
     * {@link #create(Path, String, String, String, List, Set)} with more YAML appended to the resource file.
     *
     * @param extraYaml YAML lines: those at its start indented by two spaces are added to the {@code connection:}
     *                  mapping (e.g. {@code "  peer-timeout: 2s"}), the rest are top-level keys other than
     *                  {@code connection} (e.g. an {@code options:} mapping).
     */
    static MirraCluster create(final Path dir, final String resource, final String volumeSize, final String secret,
        final List<String> names, final Set<String> diskless, final String extraYaml) throws IOException
    {
        final Path configDir = dir.resolve("config");
        Files.createDirectories(configDir);
        final Map<String, Node> nodes = new LinkedHashMap<>();
        final Set<Integer> used = new HashSet<>();
        for (int i = 0; i < names.size(); i++)
        {
            final String name = names.get(i);
            // A loopback address per node (127.0.0.11, .12, ...), as separate hosts would have.
            final String host = "127.0.0." + (11 + i);
            final Path stateDir = dir.resolve(name);
            Files.createDirectories(stateDir);
            nodes.put(name, new Node(name, i, host, freePort(host, used), freePort(host, used), freePort(host, used),
                stateDir, diskless.contains(name) ? null : stateDir.resolve(resource + "-0.img")));
        }
        final MirraCluster cluster = new MirraCluster(dir, configDir, resource, nodes, volumeSize, secret, extraYaml);
        Files.writeString(configDir.resolve(resource + ".yaml"), cluster.yaml(Map.of()), StandardCharsets.UTF_8);
        return cluster;
    }

    /**
     * @param addresses replication addresses to write instead of the nodes' own, by node name.
     * @return the resource file.
     */
    private String yaml(final Map<String, String> addresses)
    {
        final StringBuilder yaml = new StringBuilder()
            .append("# written by ").append(MirraCluster.class.getSimpleName()).append('\n')
            .append("resource: ").append(resource).append('\n')
            .append("volumes:\n  0:\n    size: ").append(volumeSize).append('\n')
            .append("nodes:\n");
        for (final Node node : nodes.values())
        {
            yaml.append("  ").append(node.name()).append(":\n")
                .append("    node-id: ").append(node.nodeId()).append('\n')
                .append("    address: ").append(addresses.getOrDefault(node.name(),
                    node.host() + ":" + node.replicationPort())).append('\n')
                .append("    nbd: ").append(node.nbd()).append('\n')
                .append("    admin: ").append(node.host()).append(':').append(node.adminPort()).append('\n')
                .append("    state-dir: ").append(node.stateDir()).append('\n')
                .append("    volumes:\n      0:\n        disk: ")
                .append(node.diskless() ? "diskless" : node.disk().toString()).append('\n');
        }
        // Lines of extraYaml indented by two spaces at its start belong to the connection mapping.
        final List<String> connectionLines = new ArrayList<>();
        final List<String> otherLines = new ArrayList<>();
        boolean leading = true;
        for (final String line : extraYaml.lines().toList())
        {
            leading &= line.startsWith("  ");
            (leading ? connectionLines : otherLines).add(line);
        }
        yaml.append("connection:\n")
            .append("  protocol: C\n")
            .append("  secret: ").append(secret).append('\n');
        connectionLines.forEach(line -> yaml.append(line).append('\n'));
        otherLines.forEach(line -> yaml.append(line).append('\n'));
        return yaml.toString();
    }

    /**
     * Give node {@code name} a configuration directory of its own, {@code dir/config-NAME}, the same resource file
     * but with other replication addresses for some nodes (e.g. the peers it dials reached through proxies).
     *
     * @param name      the node.
     * @param addresses {@code HOST:PORT} by node name, written instead of those nodes' own addresses.
     * @return the directory; {@link #start} and {@link #admin} use it for that node from now on.
     */
    synchronized Path writeNodeConfig(final String name, final Map<String, String> addresses) throws IOException
    {
        node(name);
        final Path nodeDir = dir.resolve("config-" + name);
        Files.createDirectories(nodeDir);
        Files.writeString(nodeDir.resolve(resource + ".yaml"), yaml(addresses), StandardCharsets.UTF_8);
        nodeConfigDirs.put(name, nodeDir);
        return nodeDir;
    }

    /** @return the configuration directory node {@code name} runs with. */
    synchronized Path configDir(final String name)
    {
        return nodeConfigDirs.getOrDefault(name, configDir);
    }

    /** @param extra environment added to {@link #NO_BUILD} for the nodes started from now on. */
    synchronized void environment(final Map<String, String> extra)
    {
        final Map<String, String> env = new LinkedHashMap<>(NO_BUILD);
        env.putAll(extra);
        environment = Map.copyOf(env);
    }

    /** @return whether node {@code name} was started and has not been crashed or exited. */
    synchronized boolean isRunning(final String name)
    {
        final Clients.Background process = running.get(name);
        return process != null && process.isAlive();
    }

    /** @return the whole output (stdout, then stderr) of every process started for node {@code name}, in order. */
    synchronized String output(final String name)
    {
        final StringBuilder sb = new StringBuilder();
        for (final Clients.Background process : started.getOrDefault(name, List.of()))
        {
            sb.append(process.stdout()).append('\n').append(process.stderr()).append('\n');
        }
        return sb.toString();
    }

    /** @return the directory of the configuration, state directories, disks and logs. */
    Path dir()
    {
        return dir;
    }

    Path configDir()
    {
        return configDir;
    }

    Node node(final String name)
    {
        final Node node = nodes.get(name);
        if (node == null)
        {
            throw new IllegalArgumentException("no node " + name + " in " + nodes.keySet());
        }
        return node;
    }

    /** @return the NBD URI of {@code export} on {@code node}. */
    String nbdUri(final String node, final String export)
    {
        return "nbd://" + node(node).nbd() + "/" + export;
    }

    /** @return every node with its ports, for the test log. */
    String layout()
    {
        final StringBuilder sb = new StringBuilder("config " + configDir + "\n");
        for (final Node node : nodes.values())
        {
            sb.append("  node ").append(node.name()).append(" id ").append(node.nodeId())
                .append(" replication ").append(node.host()).append(':').append(node.replicationPort())
                .append(" nbd ").append(node.nbd())
                .append(" admin ").append(node.host()).append(':').append(node.adminPort())
                .append(node.diskless() ? " diskless" : " disk " + node.disk()).append('\n');
        }
        return sb.toString();
    }

    /** Start {@code ./mirra node --config DIR --name NODE} in the background. */
    synchronized void start(final String name)
    {
        node(name);
        if (running.containsKey(name) && running.get(name).isAlive())
        {
            throw new IllegalStateException("node " + name + " is already running");
        }
        final Clients.Background process = Clients.start(dir, "node-" + name + "-" + (++starts), environment,
            launcher(), "node", "--config", configDir(name).toString(), "--name", name);
        running.put(name, process);
        started.computeIfAbsent(name, k -> new ArrayList<>()).add(process);
    }

    /** @return the running process of a node; fails when the node was not started. */
    synchronized Clients.Background process(final String name)
    {
        final Clients.Background process = running.get(name);
        if (process == null)
        {
            fail("node " + name + " is not running\n" + describe());
        }
        return process;
    }

    /** Fail with the node's output when one of the started nodes has exited. */
    synchronized void assertRunning()
    {
        for (final Map.Entry<String, Clients.Background> entry : running.entrySet())
        {
            if (!entry.getValue().isAlive())
            {
                fail("node " + entry.getKey() + " exited (expected it to keep running)\n" + describe());
            }
        }
    }

    /**
     * Crash a node: SIGKILL, no shutdown of any kind.
     *
     * @return the exit code (137).
     */
    int crash(final String name) throws InterruptedException
    {
        final Clients.Background process;
        synchronized (this)
        {
            process = process(name);
            running.remove(name);
        }
        return process.kill(Duration.ofSeconds(10));
    }

    /**
     * Run an admin command against a node: {@code ./mirra --config DIR --name NODE ARGS...}.
     *
     * @param timeout deadline of the command.
     * @param node    the node whose admin endpoint is addressed.
     * @param args    the command and its arguments.
     * @return its exit code and output.
     */
    Clients.Result admin(final Duration timeout, final String node, final String... args)
    {
        final List<String> command = new ArrayList<>(List.of(launcher(), "--config", configDir(node).toString(),
            "--name", node));
        command.addAll(List.of(args));
        return Clients.run(timeout, NO_BUILD, dir, command);
    }

    /**
     * @return the resource's object of {@code status RES --json} on {@code node}, or null when the command fails
     * (e.g. the node's admin endpoint is not up yet).
     */
    Map<String, Object> statusJsonOrNull(final String node)
    {
        final Clients.Result result = admin(Duration.ofSeconds(10), node, "status", resource, "--json");
        if (result.exitCode() != 0)
        {
            return null;
        }
        return resourceObject(result);
    }

    /** @return the resource's object of {@code status RES --json} on {@code node}; fails when the command fails. */
    Map<String, Object> statusJson(final String node)
    {
        final Clients.Result result = admin(Duration.ofSeconds(20), node, "status", resource, "--json");
        if (result.exitCode() != 0)
        {
            fail("status of node " + node + " (expected exit code 0)\n" + result.describe() + "\n" + describe());
        }
        return resourceObject(result);
    }

    private Map<String, Object> resourceObject(final Clients.Result result)
    {
        try
        {
            final List<Object> array = Json.array(Json.parse(result.stdout()), "status --json");
            for (final Object element : array)
            {
                final Map<String, Object> object = Json.object(element, "status --json resource");
                if (resource.equals(object.get("name")))
                {
                    return object;
                }
            }
            return fail("status --json has no resource named " + resource + "\n" + result.describe());
        }
        catch (final IllegalArgumentException ex)
        {
            return fail("status --json is not the documented JSON (docs/admin.md): " + ex.getMessage() + "\n" +
                result.describe(), ex);
        }
    }

    /** @return the {@code connections} entry for {@code peer} in a resource status object, or null. */
    static Map<String, Object> connection(final Map<String, Object> status, final String peer)
    {
        for (final Object element : Json.array(status.get("connections"), "connections"))
        {
            final Map<String, Object> connection = Json.object(element, "connection");
            if (peer.equals(connection.get("name")))
            {
                return connection;
            }
        }
        return null;
    }

    /** @return the {@code peer_devices} entry of volume 0 in a connection object, or null. */
    static Map<String, Object> peerDevice0(final Map<String, Object> connection)
    {
        if (connection == null || connection.get("peer_devices") == null)
        {
            return null;
        }
        for (final Object element : Json.array(connection.get("peer_devices"), "peer_devices"))
        {
            final Map<String, Object> device = Json.object(element, "peer device");
            if (device.get("volume") != null && Json.longValue(device, "volume") == 0)
            {
                return device;
            }
        }
        return null;
    }

    /** @return the {@code devices} entry of volume 0 in a resource status object, or null. */
    static Map<String, Object> device0(final Map<String, Object> status)
    {
        for (final Object element : Json.array(status.get("devices"), "devices"))
        {
            final Map<String, Object> device = Json.object(element, "device");
            if (device.get("volume") != null && Json.longValue(device, "volume") == 0)
            {
                return device;
            }
        }
        return null;
    }

    /** @return the layout, and every node process started with its state and the tail of its output. */
    synchronized String describe()
    {
        final StringBuilder sb = new StringBuilder(layout());
        boolean classesChanged = false;
        for (final Map.Entry<String, List<Clients.Background>> entry : started.entrySet())
        {
            for (final Clients.Background process : entry.getValue())
            {
                final String description = process.describe();
                classesChanged |= description.contains("NoClassDefFoundError") ||
                    description.contains("ClassNotFoundException");
                sb.append("=== node ").append(entry.getKey()).append(" ===\n").append(description).append('\n');
            }
        }
        if (classesChanged)
        {
            sb.insert(0, "NOTE: a node could not load a class: the build under node/target and the module jars was " +
                "probably replaced while the nodes ran (a concurrent mvn package/install); rerun when no build runs\n");
        }
        return sb.toString();
    }

    /** Stop every node still running: SIGTERM to all, then SIGKILL to those alive after a deadline. */
    @Override
    public void close()
    {
        final List<Clients.Background> alive;
        synchronized (this)
        {
            alive = new ArrayList<>(running.values());
            running.clear();
        }
        for (final Clients.Background process : alive)
        {
            process.process().destroy();
        }
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        boolean interrupted = false;
        for (final Clients.Background process : alive)
        {
            try
            {
                final long left = Math.max(0, deadline - System.nanoTime());
                if (!process.process().waitFor(left, TimeUnit.NANOSECONDS))
                {
                    process.process().destroyForcibly();
                }
            }
            catch (final InterruptedException ex)
            {
                interrupted = true;
                process.process().destroyForcibly();
            }
        }
        for (final Clients.Background process : alive)
        {
            try
            {
                if (!process.process().waitFor(10, TimeUnit.SECONDS))
                {
                    System.err.println("MirraCluster: pid " + process.pid() + " survived SIGKILL for 10 s");
                }
            }
            catch (final InterruptedException ex)
            {
                interrupted = true;
            }
        }
        try
        {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        }
        catch (final IllegalStateException ignore)
        {
            // the JVM is shutting down: the hook runs anyway
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    private synchronized void killAll()
    {
        for (final List<Clients.Background> processes : started.values())
        {
            for (final Clients.Background process : processes)
            {
                process.process().destroyForcibly();
            }
        }
    }

    /** @return the {@code ./mirra} launcher; fails when it or the build it runs is missing. */
    static String launcher()
    {
        final Path root = Clients.repoRoot();
        final Path launcher = root.resolve("mirra");
        if (!Files.isExecutable(launcher))
        {
            fail("launcher " + launcher + " is missing or not executable");
        }
        if (!Files.exists(root.resolve("node/target/classpath.txt")))
        {
            fail(root.resolve("node/target/classpath.txt") + " is missing: build node first (mvn -pl node -am package)");
        }
        return launcher.toString();
    }

    /** A port that was free on {@code host} a moment ago (bind port 0, close), not handed out before. */
    private static int freePort(final String host, final Set<Integer> used) throws IOException
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            try (ServerSocket socket = new ServerSocket())
            {
                socket.setReuseAddress(false);
                socket.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
                final int port = socket.getLocalPort();
                if (used.add(port))
                {
                    return port;
                }
            }
        }
        throw new IOException("no free port on " + host + " after 100 attempts");
    }
}
