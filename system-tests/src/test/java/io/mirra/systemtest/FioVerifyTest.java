package io.mirra.systemtest;

import io.mirra.test.Json;
import io.mirra.node.StandaloneServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static io.mirra.systemtest.Clients.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** {@code fio} through its nbd engine at queue depth 32, verifying every block it wrote with crc32c. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FioVerifyTest
{
    private static final long SIZE = 128 * MIB;
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern VERIFY_ERROR =
        Pattern.compile("(?i)verify failed|verify type mismatch|bad (magic )?header|bad pattern");

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void shouldVerifyRandomFourKibWritesAtDepth32() throws Exception
    {
        runVerified("randwrite", "4k");
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void shouldVerifySequentialOneMibWritesAtDepth32() throws Exception
    {
        runVerified("write", "1M");
    }

    private void runVerified(final String rw, final String blockSize) throws Exception
    {
        final Path json = dir.resolve("fio.json");
        try (StandaloneServer server = Clients.serve(dir.resolve("disk.img"), SIZE, false))
        {
            final Clients.Result fio = Clients.run(CLIENT_TIMEOUT, Map.of(), dir, List.of("fio",
                "--name=" + rw, "--ioengine=nbd", "--uri=" + server.uri(), "--rw=" + rw, "--bs=" + blockSize,
                "--size=" + SIZE, "--iodepth=32", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
                "--verify_state_save=0", "--output-format=json", "--output=" + json));
            final String report = Files.exists(json) ? Files.readString(json) : "";
            final String context = fio.describe() + "\n--- " + json + " ---\n" + report;
            assertEquals(0, fio.exitCode(), "fio failed\n" + context);
            assertFalse(VERIFY_ERROR.matcher(fio.stdout() + fio.stderr() + report).find(),
                "fio reported verify errors\n" + context);

            final Map<String, Object> job = Json.object(Json.array(
                Json.object(Json.parse(report), "fio report").get("jobs"), "jobs").get(0), "job");
            assertEquals(0, Json.longValue(job, "error"), "jobs[0].error\n" + context);
            assertEquals(SIZE, Json.longValue(Json.object(job.get("write"), "write"), "io_bytes"),
                "bytes written\n" + context);
            assertEquals(SIZE, Json.longValue(Json.object(job.get("read"), "read"), "io_bytes"),
                "bytes read back for verification\n" + context);
        }
    }
}
