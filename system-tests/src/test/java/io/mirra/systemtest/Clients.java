package io.mirra.systemtest;

import io.mirra.node.StandaloneServer;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Shared helpers of the system tests: running real NBD clients as processes (with their output in every failure
 * message), requiring their binaries (a missing one fails, naming its Debian package), polling with deadlines,
 * random data, and an in-process {@link StandaloneServer} on loopback.
 */
final class Clients
{
    static final long MIB = 1L << 20;

    /** Client binaries and the Debian package that ships each (the text after "apt-get install -y"). */
    private static final Map<String, String> PACKAGES = Map.ofEntries(
        Map.entry("nbdinfo", "libnbd-bin"),
        Map.entry("nbdcopy", "libnbd-bin"),
        Map.entry("nbdsh", "python3-libnbd"),
        Map.entry("nbdfuse", "nbdfuse (Debian 13 and later; part of libnbd-bin on Debian 12)"),
        Map.entry("qemu-img", "qemu-utils"),
        Map.entry("qemu-io", "qemu-utils"),
        Map.entry("fio", "fio"),
        Map.entry("mkfs.ext4", "e2fsprogs"),
        Map.entry("fsck.ext4", "e2fsprogs"),
        Map.entry("fusermount3", "fuse3"),
        Map.entry("losetup", "util-linux"),
        Map.entry("mount", "util-linux"),
        Map.entry("umount", "util-linux"),
        Map.entry("sync", "coreutils"));

    private static final List<String> FALLBACK_DIRS = List.of("/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
        "/usr/bin", "/sbin", "/bin");

    /** Output kept per stream in failure messages. */
    private static final int MESSAGE_TAIL_CHARS = 6000;

    private Clients()
    {
    }

    /** The outcome of one client run. */
    record Result(List<String> command, int exitCode, String stdout, String stderr)
    {
        /** @return the command, exit code and (the tail of) both streams, for assertion messages. */
        String describe()
        {
            return "command: " + String.join(" ", command) + "\nexit code: " + exitCode +
                "\n--- stdout ---\n" + tail(stdout) + "\n--- stderr ---\n" + tail(stderr);
        }

        /** @return this, or fail with {@link #describe()} when the exit code is not 0. */
        Result assertSuccess()
        {
            if (exitCode != 0)
            {
                fail("client failed\n" + describe());
            }
            return this;
        }
    }

    /**
     * @param tool a client binary known to this class.
     * @return its absolute path; fails (never skips) naming the Debian package when it is not installed.
     */
    static String require(final String tool)
    {
        final String pkg = PACKAGES.get(tool);
        if (pkg == null)
        {
            throw new IllegalArgumentException("no Debian package recorded for " + tool + "; add it to PACKAGES");
        }
        return require(tool, pkg);
    }

    /**
     * @param tool binary name.
     * @param pkg  the Debian package that provides it.
     * @return its absolute path; fails (never skips) naming the package when it is not installed.
     */
    static String require(final String tool, final String pkg)
    {
        final List<String> dirs = new ArrayList<>();
        final String path = System.getenv("PATH");
        if (path != null)
        {
            dirs.addAll(Arrays.asList(path.split(File.pathSeparator)));
        }
        dirs.addAll(FALLBACK_DIRS);
        for (final String dir : dirs)
        {
            if (dir.isEmpty())
            {
                continue;
            }
            final Path candidate = Path.of(dir, tool);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate))
            {
                return candidate.toString();
            }
        }
        return fail(tool + " is not installed (not on PATH nor in " + FALLBACK_DIRS + "); the system tests need it: " +
            "apt-get install -y " + pkg);
    }

    /**
     * Run a client to completion. The first word is resolved with {@link #require(String)} unless it is a path.
     *
     * @param timeout how long it may take; on expiry it is killed and the test fails with its output so far.
     * @param command the command line.
     * @return its exit code and output.
     */
    static Result run(final Duration timeout, final String... command)
    {
        return run(timeout, Map.of(), null, List.of(command));
    }

    /** {@link #run(Duration, String...)} that also asserts exit code 0. */
    static Result ok(final Duration timeout, final String... command)
    {
        return run(timeout, command).assertSuccess();
    }

    /**
     * @param timeout   how long it may take.
     * @param env       extra environment.
     * @param directory working directory, or null for the current one.
     * @param command   the command line.
     * @return its exit code and output.
     */
    static Result run(final Duration timeout, final Map<String, String> env, final Path directory,
        final List<String> command)
    {
        final List<String> resolved = resolve(command);
        Path out = null;
        Path err = null;
        try
        {
            out = Files.createTempFile("mirra-client-", ".out");
            err = Files.createTempFile("mirra-client-", ".err");
            final Process process = builder(resolved, env, directory, out, err).start();
            final boolean finished;
            try
            {
                finished = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            }
            catch (final InterruptedException ex)
            {
                process.destroyForcibly(); // a @Timeout interrupt must not leave the client running
                throw ex;
            }
            if (!finished)
            {
                stop(process, Duration.ofSeconds(5));
                fail("client did not finish within " + timeout + "\n" +
                    new Result(resolved, -1, read(out), read(err)).describe());
            }
            return new Result(resolved, process.exitValue(), read(out), read(err));
        }
        catch (final IOException ex)
        {
            return fail("cannot run " + String.join(" ", resolved) + ": " + ex, ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return fail("interrupted while running " + String.join(" ", resolved), ex);
        }
        finally
        {
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    /**
     * Start a long-running client (or server) in the background, its output going to files in {@code logDir}.
     *
     * @param logDir  directory for {@code NAME.out} and {@code NAME.err}.
     * @param name    short name for the log files.
     * @param env     extra environment.
     * @param command the command line.
     * @return the running process.
     */
    static Background start(final Path logDir, final String name, final Map<String, String> env,
        final String... command)
    {
        return start(logDir, name, env, null, List.of(command));
    }

    /**
     * {@link #start(Path, String, Map, String...)} in a given working directory (for clients that write files
     * there, such as fio's verify state).
     *
     * @param directory working directory, or null for the current one.
     */
    static Background start(final Path logDir, final String name, final Map<String, String> env,
        final Path directory, final List<String> command)
    {
        final List<String> resolved = resolve(command);
        final Path out = logDir.resolve(name + ".out");
        final Path err = logDir.resolve(name + ".err");
        try
        {
            return new Background(resolved, builder(resolved, env, directory, out, err).start(), out, err);
        }
        catch (final IOException ex)
        {
            return fail("cannot start " + String.join(" ", resolved) + ": " + ex, ex);
        }
    }

    /** A process started by {@link #start}; closing it stops it (SIGTERM, then SIGKILL). */
    static final class Background implements AutoCloseable
    {
        private final List<String> command;
        private final Process process;
        private final Path out;
        private final Path err;

        private Background(final List<String> command, final Process process, final Path out, final Path err)
        {
            this.command = command;
            this.process = process;
            this.out = out;
            this.err = err;
        }

        Process process()
        {
            return process;
        }

        long pid()
        {
            return process.pid();
        }

        boolean isAlive()
        {
            return process.isAlive();
        }

        String stdout()
        {
            return read(out);
        }

        String stderr()
        {
            return read(err);
        }

        /** @return the command, pid, state and output so far, for assertion messages. */
        String describe()
        {
            return "command: " + String.join(" ", command) + "\npid: " + process.pid() + ", " +
                (process.isAlive() ? "running" : "exit code " + process.exitValue()) +
                "\n--- stdout ---\n" + tail(stdout()) + "\n--- stderr ---\n" + tail(stderr());
        }

        /**
         * @param timeout how long to wait.
         * @return the exit code; fails when it is still running at the deadline.
         */
        int awaitExit(final Duration timeout) throws InterruptedException
        {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS))
            {
                fail("still running after " + timeout + "\n" + describe());
            }
            return process.exitValue();
        }

        /**
         * SIGKILL (a crash, no shutdown hooks) and wait until the process is gone.
         *
         * @param timeout how long the kernel may take to reap it; fails when it is still alive then.
         * @return the exit code (137 for a JVM killed by SIGKILL).
         */
        int kill(final Duration timeout) throws InterruptedException
        {
            process.destroyForcibly();
            return awaitExit(timeout);
        }

        @Override
        public void close()
        {
            stop(process, Duration.ofSeconds(10));
        }
    }

    /**
     * Poll {@code condition} until it holds or the deadline passes; then fail with {@code what} and the
     * diagnostics.
     */
    static void await(final Duration timeout, final String what, final BooleanSupplier condition,
        final Supplier<String> diagnostics)
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadline > 0)
            {
                fail("timed out after " + timeout + " waiting for " + what + "\n" + diagnostics.get());
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
            if (Thread.interrupted())
            {
                Thread.currentThread().interrupt();
                fail("interrupted while waiting for " + what);
            }
        }
    }

    /**
     * Start an in-process server of {@code disk} on 127.0.0.1, any port, export name "disk".
     *
     * @param disk      backing file (created sparse with {@code sizeBytes} when absent).
     * @param sizeBytes size of a new file, or -1 for an existing one.
     * @param readOnly  serve read-only.
     * @return the running server.
     */
    static StandaloneServer serve(final Path disk, final long sizeBytes, final boolean readOnly) throws Exception
    {
        return StandaloneServer.start(disk, sizeBytes, readOnly, "disk", "127.0.0.1", 0,
            StandaloneServer.IO_THREADS_DEFAULT);
    }

    /** Fill {@code file} with {@code sizeBytes} of reproducible pseudo-random data. */
    static void writeRandom(final Path file, final long sizeBytes, final long seed) throws IOException
    {
        final SplittableRandom random = new SplittableRandom(seed);
        final ByteBuffer buffer = ByteBuffer.allocate((int)MIB);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING))
        {
            long remaining = sizeBytes;
            while (remaining > 0)
            {
                buffer.clear();
                while (buffer.remaining() >= Long.BYTES)
                {
                    buffer.putLong(random.nextLong());
                }
                buffer.flip();
                buffer.limit((int)Math.min(buffer.limit(), remaining));
                remaining -= buffer.remaining();
                while (buffer.hasRemaining())
                {
                    channel.write(buffer);
                }
            }
        }
    }

    /** @return reproducible pseudo-random bytes. */
    static byte[] randomBytes(final int length, final long seed)
    {
        final byte[] bytes = new byte[length];
        final SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)random.nextInt(256);
        }
        return bytes;
    }

    /** @return the hex SHA-256 of a file. */
    static String sha256(final Path file) throws IOException
    {
        final MessageDigest digest = newSha256();
        final byte[] buffer = new byte[(int)MIB];
        try (InputStream in = Files.newInputStream(file))
        {
            int n;
            while ((n = in.read(buffer)) > 0)
            {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** @return the hex SHA-256 of bytes. */
    static String sha256(final byte[] bytes)
    {
        return HexFormat.of().formatHex(newSha256().digest(bytes));
    }

    /** @return the root of the repository (the parent of this module's directory). */
    static Path repoRoot()
    {
        final Path module = Path.of(System.getProperty("basedir", Path.of("").toAbsolutePath().toString()))
            .toAbsolutePath();
        return module.getParent();
    }

    private static MessageDigest newSha256()
    {
        try
        {
            return MessageDigest.getInstance("SHA-256");
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private static List<String> resolve(final List<String> command)
    {
        final List<String> resolved = new ArrayList<>(command);
        if (!resolved.get(0).contains("/"))
        {
            resolved.set(0, require(resolved.get(0)));
        }
        return resolved;
    }

    private static ProcessBuilder builder(final List<String> command, final Map<String, String> env,
        final Path directory, final Path out, final Path err)
    {
        final ProcessBuilder builder = new ProcessBuilder(command)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(out.toFile())
            .redirectError(err.toFile());
        builder.environment().put("LC_ALL", "C");
        builder.environment().putAll(env);
        if (directory != null)
        {
            builder.directory(directory.toFile());
        }
        return builder;
    }

    private static void stop(final Process process, final Duration grace)
    {
        if (!process.isAlive())
        {
            return;
        }
        process.destroy();
        try
        {
            if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS))
            {
                process.destroyForcibly();
                process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
        catch (final InterruptedException ex)
        {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private static String read(final Path file)
    {
        try
        {
            return file != null && Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
        }
        catch (final IOException ex)
        {
            // Output that is not UTF-8: show it lossily rather than losing the failure message.
            try
            {
                return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
            }
            catch (final IOException again)
            {
                throw new UncheckedIOException(again);
            }
        }
    }

    private static String tail(final String text)
    {
        return text.length() <= MESSAGE_TAIL_CHARS ? text :
            "[... " + (text.length() - MESSAGE_TAIL_CHARS) + " chars omitted ...]\n" +
                text.substring(text.length() - MESSAGE_TAIL_CHARS);
    }

    private static void deleteQuietly(final Path file)
    {
        if (file != null)
        {
            try
            {
                Files.deleteIfExists(file);
            }
            catch (final IOException ignore)
            {
                // a temp file left behind is harmless
            }
        }
    }
}
