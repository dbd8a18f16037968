package io.mirra.node;

import io.mirra.engine.storage.StorageException;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/**
 * The {@code mirra} command line. Every command prints its {@code --help}; mistakes are one line on stderr and
 * exit code 2; runtime failures (a disk that cannot be opened, a port in use) one line and exit code 1.
 */
public final class MirraMain
{
    static final String USAGE = String.join("\n",
        "usage: mirra COMMAND [OPTIONS]",
        "",
        "commands:",
        "  serve   serve one file or block device over NBD (single node, no replication)",
        "  demo    serve a demo volume in ./mirra-demo on loopback and print how to attach it",
        "  check-config  validate the resource files of a configuration directory and summarize them",
        "  version print the version",
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

    static final String DEMO_USAGE = String.join("\n",
        "usage: mirra demo [--dir DIR] [--listen HOST:PORT] [--size SIZE]",
        "",
        "Serve a demo volume (a sparse file DIR/demo.img, reused when it exists) on loopback until Ctrl-C,",
        "and print how to attach it with nbdinfo, qemu-img and nbdfuse.",
        "",
        "  --dir DIR           where the demo keeps its data (default ./mirra-demo)",
        "  --listen HOST:PORT  address to listen on (default 127.0.0.1:10809)",
        "  --size SIZE         size of a new demo volume (default 1G)");

    static final String CHECK_CONFIG_USAGE = String.join("\n",
        "usage: mirra check-config --config DIR [--name NODE]",
        "",
        "Validate every resource file (*.yaml, *.yml) in DIR, as a node does at start, and print one line per",
        "resource, volume and node. Every problem is reported, one per line, as FILE:LINE: KEY: what is wrong,",
        "and the exit code is 2. See docs/configuration.md for the keys.",
        "",
        "  --config DIR   the configuration directory (required)",
        "  --name NODE   also check that NODE is in some resource, and show only those resources");

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
     * Run a command that returns (everything but the servers, which wait for Ctrl-C in {@link #main}).
     *
     * @param args command line.
     * @param out  standard output.
     * @param err  standard error.
     * @return the exit code.
     */
    static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help"))
        {
            (args.length == 0 ? err : out).println(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        final String command = args[0];
        final String[] rest = Arrays.copyOfRange(args, 1, args.length);
        try
        {
            switch (command)
            {
                case "serve":
                    return serve(rest, out);
                case "demo":
                    return demo(rest, out);
                case "check-config":
                    return checkConfig(rest, out, err);
                case "version":
                case "--version":
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

    private static int serve(final String[] args, final PrintStream out)
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
        final io.mirra.node.config.HostPort listen = Args.parseHostPort("listen",
            parsed.value("listen") == null ? "127.0.0.1:10809" : parsed.value("listen"));
        final Path path = Path.of(disk);
        final String name = parsed.value("name") != null ? parsed.value("name") :
            path.getFileName() == null ? "disk" : path.getFileName().toString();
        final int ioThreads = parseCount("io-threads", parsed.value("io-threads"), StandaloneServer.IO_THREADS_DEFAULT);

        final StandaloneServer server = StandaloneServer.start(path, size, parsed.flag("read-only"), name,
            listen.host(), listen.port(), ioThreads);
        out.println("mirra serve: exporting " + path + " (" + server.sizeBytes() + " bytes" +
            (parsed.flag("read-only") ? ", read-only" : "") + ") as " + server.uri());
        out.flush();
        awaitShutdown(server);
        return 0;
    }

    private static int demo(final String[] args, final PrintStream out)
        throws UsageException, StorageException, InterruptedException
    {
        final Args parsed = Args.parse("mirra demo", args, Set.of("dir", "listen", "size"), Set.of("help"));
        if (parsed.flag("help"))
        {
            out.println(DEMO_USAGE);
            return 0;
        }
        requireNoPositional("mirra demo", parsed);
        final Path dir = Path.of(parsed.value("dir") == null ? "mirra-demo" : parsed.value("dir"));
        final long size = parsed.value("size") == null ? 1L << 30 : Args.parseSize("size", parsed.value("size"));
        final io.mirra.node.config.HostPort listen = Args.parseHostPort("listen",
            parsed.value("listen") == null ? "127.0.0.1:10809" : parsed.value("listen"));
        try
        {
            Files.createDirectories(dir);
        }
        catch (final java.io.IOException ex)
        {
            throw new StorageException(StorageException.EIO, "cannot create " + dir + ": " + ex.getMessage(), ex);
        }
        final Path disk = dir.resolve("demo.img");
        final boolean existed = Files.exists(disk);
        final StandaloneServer server = StandaloneServer.start(disk, existed ? -1 : size, false, "demo",
            listen.host(), listen.port(), StandaloneServer.IO_THREADS_DEFAULT);
        final String uri = server.uri();
        out.println(String.join("\n",
            "mirra demo: " + (existed ? "reusing " : "created ") + disk + " (" + server.sizeBytes() + " bytes)",
            "",
            "  NBD URI:  " + uri,
            "",
            "Attach it from another terminal:",
            "  nbdinfo " + uri,
            "  qemu-img info " + uri,
            "  qemu-io -f raw -c 'write -P 0xab 0 1M' -c 'read -P 0xab 0 1M' " + uri,
            "  mkdir -p /tmp/mirra-fuse && nbdfuse /tmp/mirra-fuse/ " + uri + " &",
            "      (then: losetup -f --show /tmp/mirra-fuse/nbd; mkfs.ext4 and mount the loop device)",
            "",
            "This release serves one node; replication across alpha, bravo and charlie comes with 'mirra node'.",
            "Serving until Ctrl-C."));
        out.flush();
        awaitShutdown(server);
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
        final java.util.List<io.mirra.node.config.ResourceConfig> resources;
        try
        {
            resources = parsed.value("name") == null ? io.mirra.node.config.ConfigLoader.load(dir) :
                io.mirra.node.config.ConfigLoader.forNode(dir, parsed.value("name"));
        }
        catch (final io.mirra.node.config.ConfigException ex)
        {
            err.println(ex.getMessage());
            return 2;
        }
        for (final io.mirra.node.config.ResourceConfig resource : resources)
        {
            out.println("resource " + resource.name() + " (" + dir.relativize(resource.file()) + "): " +
                resource.volumes().size() + " volume(s), " + resource.nodes().size() + " node(s), protocol " +
                resource.connection().protocol());
            for (final io.mirra.node.config.VolumeConfig volume : resource.volumes())
            {
                out.println("  volume " + volume.number() + ": " + volume.sizeBytes() + " bytes, NBD export " +
                    String.join(" or ", io.mirra.node.config.ResourceConfig.exportNames(resource.name(),
                    volume.number())));
            }
            for (final io.mirra.node.config.NodeConfig node : resource.nodes())
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

    private static void awaitShutdown(final StandaloneServer server) throws InterruptedException
    {
        final CountDownLatch stopped = new CountDownLatch(1);
        final CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            stopped.countDown();
            try
            {
                closed.await();
            }
            catch (final InterruptedException ignore)
            {
                Thread.currentThread().interrupt();
            }
        }, "mirra-shutdown"));
        stopped.await();
        try
        {
            server.close();
        }
        catch (final StorageException ex)
        {
            System.err.println("mirra: while closing: " + ex.getMessage());
        }
        finally
        {
            closed.countDown();
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
