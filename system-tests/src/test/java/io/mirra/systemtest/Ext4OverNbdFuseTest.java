package io.mirra.systemtest;

import io.mirra.node.StandaloneServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import static io.mirra.systemtest.Clients.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * ext4 on the export through the kernel: nbdfuse exposes the export as a file, a loop device turns it into a block
 * device, mkfs.ext4 and the kernel's ext4 write through it. A fresh nbdfuse connection then finds the file system
 * clean and every file intact.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class Ext4OverNbdFuseTest
{
    private static final long SIZE = 128 * MIB;
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 100, unit = TimeUnit.SECONDS)
    void shouldKeepExt4CleanAndFilesIntactAcrossReattach() throws Exception
    {
        for (final String tool : new String[] {"nbdfuse", "fusermount3", "losetup", "mount", "umount",
            "mkfs.ext4", "fsck.ext4"})
        {
            Clients.require(tool);
        }
        final Path fuseDir = Files.createDirectory(dir.resolve("fuse"));
        final Path mountDir = Files.createDirectory(dir.resolve("mnt"));
        final Map<String, String> written;
        try (StandaloneServer server = Clients.serve(dir.resolve("disk.img"), SIZE, false))
        {
            try (Attachment first = Attachment.attach(dir, fuseDir, mountDir, server.uri(), "nbdfuse-1", false))
            {
                Clients.ok(CLIENT_TIMEOUT, "mkfs.ext4", "-q", first.loop);
                first.mount();
                written = writeFiles(mountDir);
                Clients.ok(CLIENT_TIMEOUT, "sync");
                first.detach();
            }

            try (Attachment second = Attachment.attach(dir, fuseDir, mountDir, server.uri(), "nbdfuse-2", true))
            {
                final Clients.Result fsck = Clients.run(CLIENT_TIMEOUT, "fsck.ext4", "-n", "-f", second.loop);
                assertEquals(0, fsck.exitCode(), "fsck.ext4 -n must find the file system clean\n" +
                    fsck.describe());
                second.mount();
                assertEquals(written, checksums(mountDir), "files read back through a fresh nbdfuse connection");
                second.detach();
            }
        }
        // With the server closed (and so flushed), its backing file holds the same clean file system.
        final Clients.Result fsck = Clients.run(CLIENT_TIMEOUT, "fsck.ext4", "-n", "-f",
            dir.resolve("disk.img").toString());
        assertEquals(0, fsck.exitCode(), "fsck.ext4 -n of the server's backing file\n" + fsck.describe());
    }

    /** Random files (a few MiB) and a small directory tree; @return relative path to SHA-256 of the data. */
    private static Map<String, String> writeFiles(final Path root) throws IOException
    {
        final Map<String, String> sums = new TreeMap<>();
        long seed = 1;
        final Map<String, Integer> files = new TreeMap<>(Map.of(
            "big.bin", (int)(4 * MIB),
            "odd.bin", (int)MIB + 4321,
            "empty", 0));
        for (final String a : new String[] {"alpha", "bravo"})
        {
            for (final String b : new String[] {"one", "two", "three"})
            {
                for (int i = 0; i < 3; i++)
                {
                    files.put("tree/" + a + "/" + b + "/file" + i + ".dat", 1000 + (int)(seed * 7919 % 60000));
                    seed++;
                }
            }
        }
        for (final Map.Entry<String, Integer> file : files.entrySet())
        {
            final byte[] data = Clients.randomBytes(file.getValue(), seed++);
            final Path path = root.resolve(file.getKey());
            Files.createDirectories(path.getParent());
            Files.write(path, data);
            sums.put(file.getKey(), Clients.sha256(data));
        }
        return sums;
    }

    private static Map<String, String> checksums(final Path root) throws IOException
    {
        final Map<String, String> sums = new TreeMap<>();
        try (Stream<Path> paths = Files.walk(root))
        {
            for (final Path path : (Iterable<Path>)paths::iterator)
            {
                final String relative = root.relativize(path).toString();
                if (Files.isRegularFile(path) && !relative.startsWith("lost+found"))
                {
                    sums.put(relative, Clients.sha256(path));
                }
            }
        }
        return sums;
    }

    /**
     * One nbdfuse process, the loop device over its file, and optionally the mount of that device. Closing it
     * undoes whatever is still set up (lazily, so that a failed test does not leave mounts or devices behind).
     */
    private static final class Attachment implements AutoCloseable
    {
        private final Path fuseDir;
        private final Path mountDir;
        private final boolean readOnly;
        private final Clients.Background nbdfuse;
        private String loop;
        private boolean mounted;
        private boolean fuseMounted;

        private Attachment(final Path fuseDir, final Path mountDir, final boolean readOnly,
            final Clients.Background nbdfuse)
        {
            this.fuseDir = fuseDir;
            this.mountDir = mountDir;
            this.readOnly = readOnly;
            this.nbdfuse = nbdfuse;
        }

        static Attachment attach(final Path logDir, final Path fuseDir, final Path mountDir, final String uri,
            final String name, final boolean readOnly) throws IOException
        {
            final Clients.Background nbdfuse = Clients.start(logDir, name, Map.of(), "nbdfuse",
                fuseDir.toString(), uri);
            final Attachment attachment = new Attachment(fuseDir, mountDir, readOnly, nbdfuse);
            attachment.fuseMounted = true;
            try
            {
                final Path file = fuseDir.resolve("nbd");
                Clients.await(Duration.ofSeconds(20), file + " to appear", () ->
                {
                    if (!nbdfuse.isAlive())
                    {
                        fail("nbdfuse exited before " + file + " appeared\n" + nbdfuse.describe());
                    }
                    return Files.exists(file);
                }, nbdfuse::describe);
                assertEquals(SIZE, Files.size(file), "size of " + file);
                final Clients.Result losetup = readOnly ?
                    Clients.ok(CLIENT_TIMEOUT, "losetup", "-f", "--show", "-r", file.toString()) :
                    Clients.ok(CLIENT_TIMEOUT, "losetup", "-f", "--show", file.toString());
                attachment.loop = losetup.stdout().strip();
                assertTrue(attachment.loop.startsWith("/dev/loop"), "losetup printed a device\n" +
                    losetup.describe());
                return attachment;
            }
            catch (final Throwable t)
            {
                attachment.closeAfterFailure(t);
                throw t;
            }
        }

        void mount()
        {
            if (readOnly)
            {
                Clients.ok(CLIENT_TIMEOUT, "mount", "-t", "ext4", "-o", "ro", loop, mountDir.toString());
            }
            else
            {
                Clients.ok(CLIENT_TIMEOUT, "mount", "-t", "ext4", loop, mountDir.toString());
            }
            mounted = true;
        }

        /** The orderly way down: umount, losetup -d, fusermount3 -u, and nbdfuse exits by itself. */
        void detach() throws InterruptedException
        {
            if (mounted)
            {
                Clients.ok(CLIENT_TIMEOUT, "umount", mountDir.toString());
                mounted = false;
            }
            Clients.ok(CLIENT_TIMEOUT, "losetup", "-d", loop);
            loop = null;
            // A loop device that is still open (udev probing it) detaches lazily; until then the FUSE mount is busy.
            final AtomicReference<Clients.Result> last = new AtomicReference<>();
            Clients.await(Duration.ofSeconds(20), "fusermount3 -u " + fuseDir, () ->
            {
                last.set(Clients.run(CLIENT_TIMEOUT, "fusermount3", "-u", fuseDir.toString()));
                return last.get().exitCode() == 0;
            }, () -> last.get().describe());
            fuseMounted = false;
            final int exit = nbdfuse.awaitExit(Duration.ofSeconds(20));
            assertEquals(0, exit, "nbdfuse exit code after fusermount3 -u\n" + nbdfuse.describe());
        }

        @Override
        public void close()
        {
            // After a @Timeout interrupt the clean-up commands must still run to completion.
            final boolean interrupted = Thread.interrupted();
            try
            {
                undo();
            }
            finally
            {
                if (interrupted)
                {
                    Thread.currentThread().interrupt();
                }
            }
        }

        private void undo()
        {
            AssertionError problems = null;
            if (mounted)
            {
                problems = bestEffort(problems, "umount", "-l", mountDir.toString());
                mounted = false;
            }
            if (loop != null)
            {
                problems = bestEffort(problems, "losetup", "-d", loop);
                loop = null;
            }
            if (fuseMounted && nbdfuse.isAlive())
            {
                problems = bestEffort(problems, "fusermount3", "-u", "-z", fuseDir.toString());
                fuseMounted = false;
            }
            nbdfuse.close(); // SIGTERM, then SIGKILL, to this pid only
            if (problems != null)
            {
                throw problems;
            }
        }

        private void closeAfterFailure(final Throwable failure)
        {
            try
            {
                close();
            }
            catch (final Throwable t)
            {
                failure.addSuppressed(t);
            }
        }

        private static AssertionError bestEffort(final AssertionError problems, final String... command)
        {
            try
            {
                final Clients.Result result = Clients.run(CLIENT_TIMEOUT, command);
                if (result.exitCode() == 0)
                {
                    return problems;
                }
                final AssertionError error = new AssertionError("cleanup failed\n" + result.describe());
                if (problems != null)
                {
                    problems.addSuppressed(error);
                    return problems;
                }
                return error;
            }
            catch (final AssertionError error)
            {
                if (problems != null)
                {
                    problems.addSuppressed(error);
                    return problems;
                }
                return error;
            }
        }
    }
}
