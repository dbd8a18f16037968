package io.mirra.systemtest;

import io.mirra.test.Json;
import io.mirra.node.StandaloneServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.mirra.systemtest.Clients.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code nbdinfo}: the capabilities the server advertises, for a writable and a read-only export. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NbdInfoTest
{
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void shouldAdvertiseCapabilities() throws Exception
    {
        try (StandaloneServer server = Clients.serve(dir.resolve("disk.img"), 64 * MIB, false))
        {
            final Clients.Result info = Clients.ok(CLIENT_TIMEOUT, "nbdinfo", "--json", server.uri());
            final Map<String, Object> root = Json.object(Json.parse(info.stdout()), "nbdinfo output");
            final Map<String, Object> export = onlyExport(root, info);
            final String context = info.describe();

            assertEquals("newstyle-fixed", root.get("protocol"), context);
            assertEquals(Boolean.TRUE, root.get("structured"), "structured replies\n" + context);
            assertEquals("disk", export.get("export-name"), context);
            for (final String capability : List.of("can_flush", "can_fua", "can_trim", "can_zero", "can_fast_zero",
                "can_multi_conn", "can_df"))
            {
                assertEquals(Boolean.TRUE, export.get(capability), capability + "\n" + context);
            }
            assertEquals(Boolean.FALSE, export.get("is_read_only"), "is_read_only\n" + context);
            assertEquals(1, Json.longValue(export, "block_size_minimum"), context);
            assertEquals(4096, Json.longValue(export, "block_size_preferred"), context);
            assertEquals(33554432, Json.longValue(export, "block_size_maximum"), context);
            assertEquals(64 * MIB, Json.longValue(export, "export-size"), context);
            assertTrue(Json.array(export.get("contexts"), "contexts").contains("base:allocation"),
                "base:allocation meta context\n" + context);
        }
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void shouldAdvertiseReadOnlyExportAndRefuseWrites() throws Exception
    {
        final Path disk = dir.resolve("ro.img");
        final byte[] original = new byte[(int)MIB];
        Arrays.fill(original, (byte)0x5a);
        try (RandomAccessFile file = new RandomAccessFile(disk.toFile(), "rw"))
        {
            file.write(original);
            file.setLength(16 * MIB);
        }
        final String before = Clients.sha256(disk);

        try (StandaloneServer server = Clients.serve(disk, -1, true))
        {
            final Clients.Result info = Clients.ok(CLIENT_TIMEOUT, "nbdinfo", "--json", server.uri());
            final Map<String, Object> export = onlyExport(Json.object(Json.parse(info.stdout()), "nbdinfo"), info);
            assertEquals(Boolean.TRUE, export.get("is_read_only"), "is_read_only\n" + info.describe());
            assertEquals(Boolean.FALSE, export.get("can_trim"), "can_trim on a read-only export\n" + info.describe());
            assertEquals(Boolean.FALSE, export.get("can_zero"), "can_zero on a read-only export\n" + info.describe());
            assertEquals(16 * MIB, Json.longValue(export, "export-size"), info.describe());

            final Clients.Result write = Clients.run(CLIENT_TIMEOUT, "qemu-io", "-f", "raw",
                "-c", "write -P 0xa5 0 64k", server.uri());
            assertNotEquals(0, write.exitCode(), "a write to a read-only export must fail\n" + write.describe());
            assertTrue(!write.stderr().isBlank() || write.stdout().contains("failed"),
                "qemu-io must report an error\n" + write.describe());
            assertTrue(!write.stdout().contains("wrote "), "qemu-io must not report a write\n" + write.describe());

            Clients.ok(CLIENT_TIMEOUT, "qemu-io", "-r", "-f", "raw", "-c", "read -P 0x5a 0 1M",
                "-c", "read -P 0 1M 15M", server.uri());
        }
        assertEquals(before, Clients.sha256(disk), "the read-only export's file changed");
    }

    private static Map<String, Object> onlyExport(final Map<String, Object> root, final Clients.Result info)
    {
        final List<Object> exports = Json.array(root.get("exports"), "exports");
        assertEquals(1, exports.size(), "one export expected\n" + info.describe());
        return Json.object(exports.get(0), "export");
    }
}
