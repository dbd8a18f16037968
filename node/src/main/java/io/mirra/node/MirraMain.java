package io.mirra.node;

import io.mirra.engine.replication.ResourceStatus;
import io.mirra.engine.storage.StorageException;
import io.mirra.node.admin.AdminClient;
import io.mirra.node.admin.AdminException;
import io.mirra.node.config.ConfigException;
import io.mirra.node.config.ConfigLoader;
import io.mirra.node.config.HostPort;
import io.mirra.node.config.NodeConfig;
import io.mirra.node.config.ResourceConfig;
import io.mirra.node.config.VolumeConfig;

import java.io.IOException;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The {@code mirra} command line. Every command prints its {@code --help}; mistakes are one line on stderr and
 * exit code 2; runtime failures (a disk that cannot be opened, a port in use) one line and exit code 1. The admin
 * commands ({@link AdminClient}) take the node to ask as global options before the command (or after it):
 * {@code --config DIR --name NODE} or {@code --admin HOST:PORT}.
 */
public final class MirraMain
{
    static final String USAGE = String.join("\n",
        "usage: mirra COMMAND [OPTIONS]",
        "       mirra [--config DIR --name NODE | --admin HOST:PORT] ADMIN-COMMAND [ARGS]",
        "",
        "commands:",
        "  demo          run a 3-node replicated cluster (alpha, bravo, charlie) in ./mirra-demo on loopback",
        "  node          run one node of a configuration directory in the foreground",
        "  serve         serve one file or block device over NBD (single node, no replication)",
        "  check-config  validate the resource files of a configuration directory and summarize them",
        "  version       print the version",
        "",
        "admin commands, sent to a running node (the 'admin' address of NODE in DIR, or HOST:PORT):",
        AdminClient.COMMANDS_SUMMARY,
        "",
        "Run 'mirra COMMAND --help' for the options of a command.");

    static final String SERVE_USAGE = String.join("\n",
        "usage: mirra serve --disk PATH [--size SIZE] [--listen HOST:PORT] [--name EXPORT] [--read-only]",
        "                   [--io-threads N]",
        "",
        "Serve one regular file or block device as an NBD export (fixed newstyle, structured replies,",
        "base:allocation block status, multi-conn).",
        "",
        "  --disk PATH         file or block device to export (required)",
        "  --size SIZE         create PATH as a sparse file of SIZE (e.g. 10G) if it does not exist",
        "  --listen HOST:PORT  address to listen on (default 127.0.0.1:10809; port 0 picks a free one)",
        "  --name EXPORT       export name (default: the file name of PATH); clients asking for the empty",
        "                      name get this export",
        "  --read-only         refuse writes (clients see a read-only export)",
        "  --io-threads N      disk I/O threads (default " + StandaloneServer.IO_THREADS_DEFAULT + ")");

    static final String NODE_USAGE = String.join("\n",
        "usage: mirra node --config DIR --name NODE [--io-threads N]",
        "",
        "Run node NODE in the foreground until Ctrl-C or SIGTERM: every resource of DIR whose 'nodes' include",
        "NODE, with its disks and replication connections, the NBD exports R/N (and R for volume 0) of each",
        "resource R on the node's 'nbd' address, and the admin endpoint on its 'admin' address. Prints one line",
        "per export with its NBD URI, and the admin address. An invalid configuration prints every problem as",
        "FILE:LINE: KEY: what is wrong, exit code 2; a disk or address that cannot be opened, one line, exit 1.",
        "",
        "  --config DIR    the configuration directory (required; see docs/configuration.md)",
        "  --name NODE     this node's name in the resource files (required)",
        "  --io-threads N  disk I/O threads (default " + StandaloneServer.IO_THREADS_DEFAULT + ")");

    static final String DEMO_USAGE = String.join("\n",
        "usage: mirra demo [--dir DIR] [--size SIZE]",
        "",
        "Run the 3-node cluster of docs/demo.md in this process until Ctrl-C: the resource 'demo' with one",
        "volume on the nodes alpha and bravo (with disks) and charlie (diskless), all on loopback. Writes",
        "DIR/config/demo.yaml (the example of docs/configuration.md) if it does not exist, and reuses it and the",
        "data when it does. Prints the NBD URI of each node, the status and how to attach; admin commands work",
        "on the demo with --config DIR/config --name NODE (e.g. mirra --config mirra-demo/config --name alpha",
        "status).",
        "",
        "  --dir DIR    where the demo keeps its configuration and data (default ./mirra-demo)",
        "  --size SIZE  size of the volume of a new demo (default 1G; a multiple of 4K)",
        "",
        "The addresses come from DIR/config/demo.yaml (NBD on 127.0.0.1:10809-10811, replication on 7789-7791,",
        "admin on 7801-7803): there is no --listen; edit the file to change them.");

    static final String CHECK_CONFIG_USAGE = String.join("\n",
        "usage: mirra check-config --config DIR [--name NODE]",
        "",
        "Validate every resource file (*.yaml, *.yml) in DIR, as a node does at start, and print one line per",
        "resource, volume and node. Every problem is reported, one per line, as FILE:LINE: KEY: what is wrong,",
        "and the exit code is 2. See docs/configuration.md for the keys.",
        "",
        "  --config DIR   the configuration directory (required)",
        "  --name NODE   also check that NODE is in some resource, and show only those resources");

    /** The node options of the admin commands, which may come before or after the command. */
    private static final Set<String> TARGET_OPTIONS = Set.of("config", "name", "admin");

    /**
     * How a server command ({@code serve}, {@code node}, {@code demo}) runs until it is to stop: until the JVM shuts
     * down (Ctrl-C, SIGTERM) for the real command line, until a test says so in tests.
     */
    @FunctionalInterface
    interface Lifetime
    {
        /**
         * Run {@code ready}, then serve until stopped, then run {@code close}.
         *
         * @param ready start-up work after the servers are up (printing, waiting for peers); a stop during it
         *              closes too.
         * @param close stops the servers; runs exactly once, also when {@code ready} fails.
         * @throws InterruptedException if interrupted while waiting.
         */
        void serve(Ready ready, Runnable close) throws InterruptedException;
    }

    /** Start-up work of a server command, which may wait. */
    @FunctionalInterface
    interface Ready
    {
        /**
         * @throws InterruptedException if interrupted while waiting.
         */
        void run() throws InterruptedException;
    }

    private MirraMain()
    {
    }

    /**
     * @param args command line.
     */
    public static void main(final String[] args)
    {
        configureLogging();
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Run a command; the server commands serve until the JVM shuts down.
     *
     * @param args command line.
     * @param out  standard output.
     * @param err  standard error.
     * @return the exit code.
     */
    static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        return run(args, out, err, MirraMain::untilJvmShutdown);
    }

    /**
     * Run a command.
     *
     * @param args     command line.
     * @param out      standard output.
     * @param err      standard error.
     * @param lifetime how the server commands wait until they are to stop.
     * @return the exit code.
     */
    static int run(final String[] args, final PrintStream out, final PrintStream err, final Lifetime lifetime)
    {
        final Map<String, String> target = new LinkedHashMap<>();
        final List<String> rest;
        try
        {
            rest = takeTargetOptions("mirra", Arrays.asList(args), true, target);
        }
        catch (final UsageException ex)
        {
            err.println(ex.getMessage());
            return 2;
        }
        if (rest.isEmpty() || rest.get(0).equals("--help") || rest.get(0).equals("-h") || rest.get(0).equals("help"))
        {
            final boolean asked = !rest.isEmpty();
            if (!asked && !target.isEmpty())
            {
                err.println("mirra: a command is missing after the options (see mirra --help)");
                return 2;
            }
            (asked ? out : err).println(USAGE);
            return asked ? 0 : 2;
        }
        final String command = rest.get(0);
        final List<String> commandArgs = rest.subList(1, rest.size());
        try
        {
            if (AdminClient.handles(command))
            {
                return admin(command, commandArgs, target, out, err);
            }
            if (command.startsWith("-") && !command.equals("--version"))
            {
                throw new UsageException("mirra: unknown option " + command + " (see mirra --help)");
            }
            switch (command)
            {
                case "node":
                    return node(withTarget(command, target, commandArgs), out, lifetime);
                case "check-config":
                    return checkConfig(withTarget(command, target, commandArgs), out, err);
                case "serve":
                    return serve(noTarget(command, target, commandArgs), out, lifetime);
                case "demo":
                    return demo(noTarget(command, target, commandArgs), out, err, lifetime);
                case "version":
                case "--version":
                    noTarget(command, target, commandArgs);
                    out.println("mirra " + version());
                    return 0;
                default:
                    throw new UsageException("mirra: unknown command '" + command + "' (see mirra --help)");
            }
        }
        catch (final UsageException ex)
        {
            err.println(ex.getMessage());
            return 2;
        }
        catch (final ConfigException ex)
        {
            err.println(ex.getMessage()); // every problem, one FILE:LINE: KEY: ... line each
            return 2;
        }
        catch (final StorageException ex)
        {
            err.println("mirra " + command + ": " + ex.getMessage());
            return 1;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return 130;
        }
        catch (final Exception ex)
        {
            // Netty rethrows bind failures (a checked BindException) without declaring them; say why in one line.
            err.println("mirra " + command + ": " + describe(ex));
            return 1;
        }
    }

    /**
     * Move the node options ({@code --config}, {@code --name}, {@code --admin}; {@code --key value} or
     * {@code --key=value}) from the arguments into {@code target}.
     *
     * @param prefix      command name, for messages.
     * @param args        the arguments.
     * @param leadingOnly stop at the first argument that is not one of them (the options before the command).
     * @param target      receives the options; an option given twice is an error.
     * @return the other arguments, in order.
     */
    private static List<String> takeTargetOptions(final String prefix, final List<String> args,
        final boolean leadingOnly, final Map<String, String> target) throws UsageException
    {
        final List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.size(); i++)
        {
            final String arg = args.get(i);
            final int eq = arg.indexOf('=');
            final String key = arg.startsWith("--") ? arg.substring(2, eq < 0 ? arg.length() : eq) : "";
            if (!TARGET_OPTIONS.contains(key))
            {
                if (leadingOnly)
                {
                    rest.addAll(args.subList(i, args.size()));
                    return rest;
                }
                rest.add(arg);
                continue;
            }
            final String value;
            if (eq >= 0)
            {
                value = arg.substring(eq + 1);
            }
            else if (i + 1 < args.size())
            {
                value = args.get(++i);
            }
            else
            {
                throw new UsageException(prefix + ": option --" + key + " needs a value");
            }
            if (target.put(key, value) != null)
            {
                throw new UsageException(prefix + ": option --" + key + " given twice");
            }
        }
        return rest;
    }

    /** The arguments of node and check-config, with --config and --name given before the command. */
    private static String[] withTarget(final String command, final Map<String, String> target,
        final List<String> args) throws UsageException
    {
        if (target.containsKey("admin"))
        {
            throw new UsageException("mirra " + command + ": --admin is for the admin commands; give --config DIR" +
                " --name NODE");
        }
        final List<String> all = new ArrayList<>();
        target.forEach((key, value) -> all.addAll(List.of("--" + key, value)));
        all.addAll(args);
        return all.toArray(new String[0]);
    }

    /** The arguments of the commands that take no node options. */
    private static String[] noTarget(final String command, final Map<String, String> target,
        final List<String> args) throws UsageException
    {
        if (!target.isEmpty())
        {
            throw new UsageException("mirra " + command + ": --" + target.keySet().iterator().next() +
                " goes with node, check-config and the admin commands (see mirra --help)");
        }
        return args.toArray(new String[0]);
    }

    /** An admin command: find the node's admin address and let {@link AdminClient} do the rest. */
    private static int admin(final String command, final List<String> commandArgs, final Map<String, String> target,
        final PrintStream out, final PrintStream err) throws UsageException
    {
        final String prefix = "mirra " + command;
        final List<String> args = takeTargetOptions(prefix, commandArgs, false, target);
        if (args.contains("--help"))
        {
            out.println(AdminClient.USAGES.get(command));
            return 0;
        }
        final String admin = target.get("admin");
        final String config = target.get("config");
        final String name = target.get("name");
        if (admin == null && config == null && name == null)
        {
            throw new UsageException(prefix + ": say which node: --config DIR --name NODE or --admin HOST:PORT");
        }
        if (admin != null)
        {
            if (config != null || name != null)
            {
                throw new UsageException(prefix + ": give either --config DIR --name NODE or --admin HOST:PORT," +
                    " not both");
            }
            final HostPort address = Args.parseHostPort("admin", admin);
            if (address.port() == 0)
            {
                throw new UsageException("--admin: '" + admin + "' needs the port of the node's admin endpoint");
            }
            return AdminClient.run(command, args, null, new InetSocketAddress(address.host(), address.port()), out,
                err);
        }
        if (config == null)
        {
            throw new UsageException(prefix + ": --name NODE needs --config DIR (or give --admin HOST:PORT)");
        }
        if (name == null)
        {
            throw new UsageException(prefix + ": --config DIR needs --name NODE, the node to ask");
        }
        final List<ResourceConfig> resources;
        try
        {
            resources = ConfigLoader.forNode(Path.of(config), name);
        }
        catch (final ConfigException ex)
        {
            err.println(ex.getMessage());
            return 2;
        }
        // a node has one admin address for all its resources (the loader checks it)
        final HostPort address = resources.get(0).node(name).map(NodeConfig::admin).orElseThrow();
        return AdminClient.run(command, args, name, new InetSocketAddress(address.host(), address.port()), out, err);
    }

    private static int node(final String[] args, final PrintStream out, final Lifetime lifetime)
        throws UsageException, ConfigException, IOException, InterruptedException
    {
        final Args parsed = Args.parse("mirra node", args, Set.of("config", "name", "io-threads"), Set.of("help"));
        if (parsed.flag("help"))
        {
            out.println(NODE_USAGE);
            return 0;
        }
        requireNoPositional("mirra node", parsed);
        if (parsed.value("config") == null || parsed.value("name") == null)
        {
            throw new UsageException("mirra node: --" + (parsed.value("config") == null ? "config DIR" : "name NODE") +
                " is required (see mirra node --help)");
        }
        final int ioThreads = parseCount("io-threads", parsed.value("io-threads"), StandaloneServer.IO_THREADS_DEFAULT);
        final String name = parsed.value("name");
        final String config = parsed.value("config");
        final ReplicationNode node;
        try
        {
            node = ReplicationNode.start(Path.of(config), name, ioThreads);
        }
        catch (final ConfigException | InterruptedException ex)
        {
            throw ex;
        }
        catch (final Exception ex)
        {
            throw new IOException(startFailure(ex, Path.of(config), List.of(name), "is the node running already?"));
        }
        lifetime.serve(() ->
        {
            final String prefix = "mirra node " + name + ": ";
            for (final ResourceStatus resource : statusOf(node))
            {
                for (final ResourceStatus.DeviceStatus device : resource.devices())
                {
                    for (final String export : ResourceConfig.exportNames(resource.name(), device.volume()))
                    {
                        out.println(prefix + "export " + nbdUri(node.nbdAddress(), export) + " (volume " +
                            device.volume() + " of " + resource.name() + ")");
                    }
                }
            }
            out.println(prefix + "admin endpoint on " + hostPort(node.adminAddress()) + " (mirra --config " +
                config + " --name " + name + " status)");
            out.flush();
        }, node::close);
        return 0;
    }

    private static List<ResourceStatus> statusOf(final ReplicationNode node)
    {
        try
        {
            return node.status(Optional.empty());
        }
        catch (final AdminException ex)
        {
            return List.of(); // only an unknown resource is refused, and none was named
        }
    }

    private static int serve(final String[] args, final PrintStream out, final Lifetime lifetime)
        throws UsageException, StorageException, InterruptedException
    {
        final Args parsed = Args.parse("mirra serve", args, Set.of("disk", "size", "listen", "name", "io-threads"),
            Set.of("read-only", "help"));
        if (parsed.flag("help"))
        {
            out.println(SERVE_USAGE);
            return 0;
        }
        requireNoPositional("mirra serve", parsed);
        final String disk = parsed.value("disk");
        if (disk == null)
        {
            throw new UsageException("mirra serve: --disk PATH is required (see mirra serve --help)");
        }
        final long size = parsed.value("size") == null ? -1 : Args.parseSize("size", parsed.value("size"));
        final HostPort listen = Args.parseHostPort("listen",
            parsed.value("listen") == null ? "127.0.0.1:10809" : parsed.value("listen"));
        final Path path = Path.of(disk);
        final String name = parsed.value("name") != null ? parsed.value("name") :
            path.getFileName() == null ? "disk" : path.getFileName().toString();
        final int ioThreads = parseCount("io-threads", parsed.value("io-threads"), StandaloneServer.IO_THREADS_DEFAULT);

        final StandaloneServer server = StandaloneServer.start(path, size, parsed.flag("read-only"), name,
            listen.host(), listen.port(), ioThreads);
        lifetime.serve(() ->
        {
            out.println("mirra serve: exporting " + path + " (" + server.sizeBytes() + " bytes" +
                (parsed.flag("read-only") ? ", read-only" : "") + ") as " + server.uri());
            out.flush();
        }, () ->
        {
            try
            {
                server.close();
            }
            catch (final StorageException ex)
            {
                System.err.println("mirra: while closing: " + ex.getMessage());
            }
        });
        return 0;
    }

    private static int demo(final String[] args, final PrintStream out, final PrintStream err,
        final Lifetime lifetime) throws UsageException, ConfigException, IOException, InterruptedException
    {
        final Args parsed = Args.parse("mirra demo", args, Set.of("dir", "size", "listen"), Set.of("help"));
        if (parsed.flag("help"))
        {
            out.println(DEMO_USAGE);
            return 0;
        }
        requireNoPositional("mirra demo", parsed);
        if (parsed.value("listen") != null)
        {
            // the option of the single-node demo; say where the addresses went
            throw new UsageException("mirra demo: --listen is gone: the addresses are in DIR/config/demo.yaml" +
                " (see mirra demo --help)");
        }
        final Path dir = Path.of(parsed.value("dir") == null ? "mirra-demo" : parsed.value("dir"));
        final String sizeText = parsed.value("size");
        final long size = sizeText == null ? DemoCluster.DEFAULT_SIZE : Args.parseSize("size", sizeText);
        final String sizeProblem = DemoCluster.sizeProblem(size);
        if (sizeProblem != null)
        {
            throw new UsageException("--size: '" + sizeText + "' " + sizeProblem);
        }
        final DemoCluster cluster;
        try
        {
            cluster = DemoCluster.start(dir, size, DemoCluster.DEFAULT_PORTS);
        }
        catch (final ConfigException | InterruptedException ex)
        {
            throw ex;
        }
        catch (final Exception ex)
        {
            throw new IOException(startFailure(ex, dir.resolve("config"), DemoCluster.NODES,
                "is a demo running already?"));
        }
        lifetime.serve(() ->
        {
            if (sizeText != null && !cluster.created())
            {
                err.println("mirra demo: --size applies to a new demo only; the existing one keeps its size" +
                    " (remove " + dir + " to start afresh)");
            }
            cluster.printBanner(out, cluster.awaitConnected(DemoCluster.CONNECT_DEADLINE));
        }, cluster::close);
        return 0;
    }

    private static int checkConfig(final String[] args, final PrintStream out, final PrintStream err)
        throws UsageException
    {
        final Args parsed = Args.parse("mirra check-config", args, Set.of("config", "name"), Set.of("help"));
        if (parsed.flag("help"))
        {
            out.println(CHECK_CONFIG_USAGE);
            return 0;
        }
        requireNoPositional("mirra check-config", parsed);
        if (parsed.value("config") == null)
        {
            throw new UsageException("mirra check-config: --config DIR is required (see mirra check-config --help)");
        }
        final Path dir = Path.of(parsed.value("config"));
        final List<ResourceConfig> resources;
        try
        {
            resources = parsed.value("name") == null ? ConfigLoader.load(dir) :
                ConfigLoader.forNode(dir, parsed.value("name"));
        }
        catch (final ConfigException ex)
        {
            err.println(ex.getMessage());
            return 2;
        }
        for (final ResourceConfig resource : resources)
        {
            out.println("resource " + resource.name() + " (" + dir.relativize(resource.file()) + "): " +
                resource.volumes().size() + " volume(s), " + resource.nodes().size() + " node(s), protocol " +
                resource.connection().protocol());
            for (final VolumeConfig volume : resource.volumes())
            {
                out.println("  volume " + volume.number() + ": " + volume.sizeBytes() + " bytes, NBD export " +
                    String.join(" or ", ResourceConfig.exportNames(resource.name(),
                    volume.number())));
            }
            for (final NodeConfig node : resource.nodes())
            {
                final StringBuilder disks = new StringBuilder();
                for (int v = 0; v < node.disks().size(); v++)
                {
                    disks.append(v == 0 ? "" : ", ").append(v).append('=')
                        .append(node.isDiskless(v) ? "diskless" : node.disk(v).orElseThrow().toString());
                }
                out.println("  node " + node.name() + ": replication " + node.address() + ", nbd " + node.nbd() +
                    ", admin " + node.admin() + ", disks " + disks);
            }
        }
        out.println("configuration OK: " + resources.size() + " resource(s)");
        return 0;
    }

    /**
     * Serve until the JVM shuts down (Ctrl-C, SIGTERM). The shutdown hook closes, so that the JVM exits only once
     * the disks are flushed and closed; a stop while {@code ready} still runs closes as well.
     */
    private static void untilJvmShutdown(final Ready ready, final Runnable close) throws InterruptedException
    {
        final AtomicBoolean closed = new AtomicBoolean();
        final Runnable closeOnce = () ->
        {
            if (closed.compareAndSet(false, true))
            {
                close.run();
            }
        };
        final Thread hook = new Thread(closeOnce, "mirra-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try
        {
            ready.run();
            new CountDownLatch(1).await(); // the JVM ends while the hook runs; nothing else wakes this
        }
        finally
        {
            closeOnce.run();
            try
            {
                Runtime.getRuntime().removeShutdownHook(hook);
            }
            catch (final IllegalStateException ex)
            {
                // shutting down already: the hook runs (and finds the work done)
            }
        }
    }

    private static void requireNoPositional(final String command, final Args parsed) throws UsageException
    {
        if (!parsed.positional().isEmpty())
        {
            throw new UsageException(command + ": unexpected argument '" + parsed.positional().get(0) + "'");
        }
    }

    private static int parseCount(final String option, final String text, final int dflt) throws UsageException
    {
        if (text == null)
        {
            return dflt;
        }
        try
        {
            final int n = Integer.parseInt(text);
            if (n < 1 || n > 256)
            {
                throw new NumberFormatException();
            }
            return n;
        }
        catch (final NumberFormatException ex)
        {
            throw new UsageException("--" + option + ": '" + text + "' must be a number from 1 to 256");
        }
    }

    /**
     * Say why nodes did not start, in one line. Netty's bind failure does not say which address; when an address is
     * in use, find which of the nodes' addresses it is (they are all closed again by now) and name it.
     *
     * @param ex        the failure.
     * @param configDir the configuration directory.
     * @param names     the nodes that were started.
     * @param hint      what to suggest for an address in use.
     * @return the line, without the command name.
     */
    private static String startFailure(final Exception ex, final Path configDir, final List<String> names,
        final String hint)
    {
        final String reason = describe(ex);
        if (!addressInUse(ex))
        {
            return reason;
        }
        try
        {
            for (final String name : names)
            {
                final List<ResourceConfig> resources = ConfigLoader.forNode(configDir, name);
                final NodeConfig self = resources.get(0).node(name).orElseThrow();
                final Map<HostPort, String> addresses = new LinkedHashMap<>();
                // in the order the node binds them
                resources.forEach((r) -> addresses.put(r.node(name).orElseThrow().address(), "the replication" +
                    " address of " + name + " for " + r.name()));
                addresses.put(self.nbd(), "the nbd address of " + name);
                addresses.put(self.admin(), "the admin address of " + name);
                for (final Map.Entry<HostPort, String> address : addresses.entrySet())
                {
                    if (!canBind(address.getKey()))
                    {
                        return "cannot listen on " + address.getKey() + " (" + address.getValue() + "): address" +
                            " already in use; " + hint;
                    }
                }
            }
        }
        catch (final ConfigException | RuntimeException probeFailed)
        {
            // the configuration was read a moment ago; if not, the plain reason has to do
        }
        return reason;
    }

    private static boolean addressInUse(final Throwable ex)
    {
        for (Throwable t = ex; t != null; t = t.getCause() == t ? null : t.getCause())
        {
            if (t instanceof BindException ||
                t.getMessage() != null && t.getMessage().contains("Address already in use"))
            {
                return true;
            }
        }
        return false;
    }

    private static boolean canBind(final HostPort address)
    {
        try (ServerSocket socket = new ServerSocket())
        {
            socket.setReuseAddress(true); // as the servers bind: a port in TIME_WAIT is not in use
            socket.bind(new InetSocketAddress(address.host(), address.port()));
            return true;
        }
        catch (final IOException ex)
        {
            return false;
        }
    }

    /**
     * @param address an NBD server's address.
     * @param export  an export name.
     * @return {@code nbd://HOST:PORT/EXPORT}, IPv6 in brackets.
     */
    static String nbdUri(final InetSocketAddress address, final String export)
    {
        return "nbd://" + hostPort(address) + "/" + export;
    }

    /**
     * @param address an address.
     * @return {@code HOST:PORT} with the numeric host, IPv6 in brackets.
     */
    static String hostPort(final InetSocketAddress address)
    {
        final String host = address.getAddress() == null ? address.getHostString() :
            address.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
    }

    private static String describe(final Throwable ex)
    {
        Throwable t = ex;
        while (t.getCause() != null && t.getCause() != t)
        {
            t = t.getCause();
        }
        return t.getMessage() != null ? t.getMessage() : t.toString();
    }

    private static String version()
    {
        final String v = MirraMain.class.getPackage().getImplementationVersion();
        return v == null ? "0.1.0-SNAPSHOT" : v;
    }

    private static void configureLogging()
    {
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null)
        {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
        }
    }
}
