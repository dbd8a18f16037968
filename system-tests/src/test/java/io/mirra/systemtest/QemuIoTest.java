package io.mirra.systemtest;

import io.mirra.node.StandaloneServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.mirra.systemtest.Clients.MIB;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code qemu-io} patterns: written data reads back, discarded and zeroed ranges read as zeros, the end is a wall. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class QemuIoTest
{
    private static final long SIZE = 16 * MIB;
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void shouldReadBackWrittenPatterns() throws Exception
    {
        try (StandaloneServer server = Clients.serve(dir.resolve("disk.img"), SIZE, false))
        {
            qemuIo(server,
                "write -P 0xa5 0 1M",
                "write -P 0x3c 1049088 65536",          // 1 MiB + 512: not 4 KiB aligned
                "write -P 0x17 2097153 4097",           // odd offset and length
                "write -f -P 0x77 3M 128k",             // FUA
                "flush",
                "read -P 0xa5 0 1M",
                "read -P 0x3c 1049088 65536",
                "read -P 0 1114624 982529",             // the gap up to the odd write
                "read -P 0x17 2097153 4097",
                "read -P 0x77 3M 128k",
                "read -P 0 15M 1M");
            // A second connection sees the same data.
            qemuIo(server,
                "read -P 0xa5 0 1M",
                "read -P 0x3c 1049088 65536",
                "read -P 0x17 2097153 4097",
                "read -P 0x77 3M 128k");
        }
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void shouldReadZerosAfterDiscard() throws Exception
    {
        try (StandaloneServer server = Clients.serve(dir.resolve("disk.img"), SIZE, false))
        {
            qemuIo(server,
                "write -P 0xff 0 4M",
                "discard 512k 1M",
                "discard 3M 1M",
                "read -P 0xff 0 512k",
                "read -P 0 512k 1M",
                "read -P 0xff 1536k 1536k",
                "read -P 0 3M 1M");
            qemuIo(server, "read -P 0 512k 1M", "read -P 0xff 1536k 1536k", "read -P 0 3M 1M");
        }
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void shouldReadZerosAfterWriteZeroes() throws Exception
    {
        try (StandaloneServer server = Clients.serve(dir.resolve("disk.img"), SIZE, false))
        {
            qemuIo(server,
                "write -P 0xee 0 4M",
                "write -z 0 1M",                        // NBD_CMD_WRITE_ZEROES with NO_HOLE
                "write -z -u 1M 1M",                    // may unmap (punch)
                "write -z 2097252 5000",                // unaligned: 2 MiB + 100
                "write -z -u 3M 4k",
                "read -P 0 0 2M",
                "read -P 0xee 2M 100",
                "read -P 0 2097252 5000",
                "read -P 0xee 2102252 1043476",         // up to 3 MiB
                "read -P 0 3M 4k",
                "read -P 0xee 3149824 1044480");        // 3 MiB + 4 KiB up to 4 MiB
            qemuIo(server, "read -P 0 0 2M", "read -P 0xee 2M 100", "read -P 0 2097252 5000", "read -P 0 3M 4k");
        }
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void shouldFailReadsPastTheEnd() throws Exception
    {
        try (StandaloneServer server = Clients.serve(dir.resolve("disk.img"), SIZE, false))
        {
            // The last 4 KiB are fine...
            qemuIo(server, "write -P 0x42 " + (SIZE - 4096) + " 4096", "read -P 0x42 " + (SIZE - 4096) + " 4096");
            // ...one byte further is not.
            for (final String command : List.of("read " + (SIZE - 4096) + " 4097", "read " + SIZE + " 512",
                "read " + (SIZE + MIB) + " 4096", "write -P 1 " + (SIZE - 512) + " 1024"))
            {
                final Clients.Result result = Clients.run(CLIENT_TIMEOUT, "qemu-io", "-f", "raw", "-c", command,
                    server.uri());
                assertNotEquals(0, result.exitCode(), "'" + command + "' past the end must fail\n" + result.describe());
                assertTrue(result.stdout().contains("failed") || result.stderr().contains("failed"),
                    "'" + command + "' must report a failure\n" + result.describe());
            }
            // The export still serves after the refused requests.
            qemuIo(server, "read -P 0x42 " + (SIZE - 4096) + " 4096", "read -P 0 0 1M");
        }
    }

    /** Run qemu-io commands on one connection; every one must succeed and every pattern must verify. */
    private static Clients.Result qemuIo(final StandaloneServer server, final String... commands)
    {
        final List<String> command = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (final String c : commands)
        {
            command.add("-c");
            command.add(c);
        }
        command.add(server.uri());
        final Clients.Result result = Clients.ok(CLIENT_TIMEOUT, command.toArray(new String[0]));
        final String output = result.stdout() + result.stderr();
        assertFalse(output.contains("Pattern verification failed"), "pattern mismatch\n" + result.describe());
        assertFalse(output.contains("failed"), "a qemu-io command failed\n" + result.describe());
        return result;
    }
}
