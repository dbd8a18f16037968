package io.mirra.systemtest;

import io.mirra.test.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.mirra.systemtest.Clients.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The real {@code ./mirra serve} process, started through the repository's launcher. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class MirraServeProcessTest
{
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(30);
    private static final Map<String, String> NO_BUILD = Map.of("MIRRA_NO_BUILD", "1");
    private static final Pattern URI = Pattern.compile("as (nbd://\\S+)");

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void shouldServeUntilSigterm() throws Exception
    {
        final Path disk = dir.resolve("served.img");
        try (Clients.Background mirra = Clients.start(dir, "mirra", NO_BUILD, launcher(), "serve",
            "--disk", disk.toString(), "--size", "64M", "--listen", "127.0.0.1:0"))
        {
            final AtomicReference<String> uri = new AtomicReference<>();
            Clients.await(Duration.ofSeconds(30), "mirra serve to print its URI", () ->
            {
                final Matcher m = URI.matcher(mirra.stdout());
                if (m.find())
                {
                    uri.set(m.group(1));
                    return true;
                }
                if (!mirra.isAlive())
                {
                    fail("mirra serve exited before serving\n" + mirra.describe());
                }
                return false;
            }, mirra::describe);
            assertTrue(uri.get().matches("nbd://127\\.0\\.0\\.1:[1-9]\\d*/served\\.img"),
                "URI " + uri.get() + "\n" + mirra.describe());
            assertTrue(mirra.stdout().contains("exporting " + disk + " (" + 64 * MIB + " bytes)"),
                mirra.describe());

            final Clients.Result info = Clients.ok(CLIENT_TIMEOUT, "nbdinfo", "--json", uri.get());
            final Map<String, Object> export = Json.object(Json.array(
                Json.object(Json.parse(info.stdout()), "nbdinfo").get("exports"), "exports").get(0), "export");
            assertEquals("served.img", export.get("export-name"), info.describe());
            assertEquals(64 * MIB, Json.longValue(export, "export-size"), info.describe());
            assertEquals(Boolean.FALSE, export.get("is_read_only"), info.describe());

            Clients.ok(CLIENT_TIMEOUT, "qemu-io", "-f", "raw", "-c", "write -P 0x5e 1M 1M", uri.get());

            mirra.process().destroy(); // SIGTERM
            final int exit = mirra.awaitExit(Duration.ofSeconds(20));
            assertTrue(exit == 143 || exit == 0, "exit code after SIGTERM: " + exit + "\n" + mirra.describe());
            assertFalse(mirra.stderr().contains("Exception") || mirra.stderr().contains("while closing"),
                "errors while shutting down\n" + mirra.describe());

            final byte[] written = new byte[(int)MIB];
            Arrays.fill(written, (byte)0x5e);
            try (var file = new java.io.RandomAccessFile(disk.toFile(), "r"))
            {
                assertEquals(64 * MIB, file.length());
                final byte[] read = new byte[(int)MIB];
                file.seek(MIB);
                file.readFully(read);
                assertTrue(Arrays.equals(written, read), "the write before SIGTERM is in the file");
            }
            final Clients.Result gone = Clients.run(CLIENT_TIMEOUT, "nbdinfo", uri.get());
            assertNotEquals(0, gone.exitCode(), "nothing serves after SIGTERM\n" + gone.describe());
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void shouldRejectBadUsageWithExitCode2AndOneLine() throws Exception
    {
        final String disk = dir.resolve("unused.img").toString();
        assertUsageError("--disk", "serve", "--size", "1G");
        assertUsageError("--size", "serve", "--disk", disk, "--size", "abc");
        assertUsageError("--bogus", "serve", "--disk", disk, "--bogus");
        assertFalse(Files.exists(Path.of(disk)), "a usage error must not create the disk");
    }

    private void assertUsageError(final String mentions, final String... args)
    {
        final List<String> command = new ArrayList<>();
        command.add(launcher());
        command.addAll(List.of(args));
        final Clients.Result result = Clients.run(CLIENT_TIMEOUT, NO_BUILD, dir, command);
        assertEquals(2, result.exitCode(), "usage error exit code\n" + result.describe());
        final String[] lines = result.stderr().strip().split("\n");
        assertEquals(1, lines.length, "one line on stderr\n" + result.describe());
        assertTrue(lines[0].contains(mentions), "stderr names " + mentions + "\n" + result.describe());
        assertTrue(result.stdout().isEmpty(), "nothing on stdout\n" + result.describe());
    }

    private static String launcher()
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
}
