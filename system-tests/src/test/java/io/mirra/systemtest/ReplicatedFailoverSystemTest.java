package io.mirra.systemtest;

import io.mirra.test.Json;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;

import static io.mirra.systemtest.Clients.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Failover of real {@code ./mirra node} processes (SPEC §2.1: no acknowledged write is lost while a node with an
 * UpToDate copy survives). Three nodes on loopback share resource {@code r} (one 256 MiB volume, protocol C):
 * {@code a} and {@code b} with disks, {@code c} diskless. fio writes through a's NBD export with crc32c verify
 * headers, a is killed with SIGKILL, b is promoted with {@code mirra primary r}, and fio reads back and checks every
 * write it saw acknowledged, through b (the new Primary) and through c (diskless, reading from b).
 * <p>
 * Two crashes: after fio finished (every write of the region acknowledged), and in the middle of the writes, where
 * fio's verify state ({@code verify_state_save}, one file per job, written when the job ends, also on an I/O
 * error) records how many writes were issued and which of the last {@code iodepth} completed; the verification
 * with {@code verify_state_load} then checks every write issued before that window and, inside it, those recorded as
 * completed. Writes that were in flight at the crash may or may not be on b; fio does not check them.
 * <p>
 * The seed (fio's {@code randseed}, hence the offsets) is printed and can be given with {@code -Dmirra.seed=N}.
 */
@Timeout(value = 170, unit = TimeUnit.SECONDS)
class ReplicatedFailoverSystemTest
{
    private static final String RESOURCE = "r";
    private static final long REGION = 64 * MIB;
    private static final int BLOCK = 4096;
    private static final int IODEPTH = 16;
    /** The mid-write crash comes after node a has written this much. */
    private static final long CRASH_AFTER = REGION / 8;
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(20);
    private static final Duration FIO_TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern VERIFY_ERROR =
        Pattern.compile("(?i)verify failed|verify type mismatch|bad (magic )?header|bad pattern|verify: bad");

    @TempDir
    Path dir;

    private MirraCluster cluster;
    private long seed;
    private final long startNanos = System.nanoTime();

    @AfterEach
    void stopNodes()
    {
        if (cluster != null)
        {
            cluster.close();
        }
    }

    @Test
    @Timeout(value = 85, unit = TimeUnit.SECONDS)
    void shouldKeepEveryAcknowledgedWriteWhenThePrimaryIsKilledAfterTheWrites() throws Exception
    {
        startCluster();
        promote("a");

        // Every 4 KiB block of the region written once (random order, random map), all acknowledged.
        final Clients.Result write = Clients.run(FIO_TIMEOUT, Map.of(), dir, fio("a", "write.json",
            "--do_verify=0", "--verify_state_save=0"));
        final Map<String, Object> written = fioJob(write, dir.resolve("write.json"));
        assertEquals(0, write.exitCode(), "fio writing through a (expected exit code 0)\n" + context(write));
        assertEquals(0, Json.longValue(written, "error"), "fio's jobs[0].error (expected 0)\n" + context(write));
        assertEquals(REGION, Json.longValue(Json.object(written.get("write"), "write"), "io_bytes"),
            "bytes fio wrote and saw acknowledged (expected the whole region)\n" + context(write));
        logWrite(written);

        crashAndFailOver();

        verifyThrough("b", "verify-b.json", REGION, REGION);
        verifyThrough("c", "verify-c.json", REGION, REGION);
        assertStatusAfterFailover();
    }

    @Test
    @Timeout(value = 85, unit = TimeUnit.SECONDS)
    void shouldKeepEveryAcknowledgedWriteWhenThePrimaryIsKilledDuringTheWrites() throws Exception
    {
        startCluster();
        promote("a");

        final List<String> command = fio("a", "write.json", "--do_verify=0", "--verify_state_save=1");
        try (Clients.Background fio = Clients.start(dir, "fio-write", Map.of(), dir, command))
        {
            // Crash a once an eighth of the region went through it, while fio keeps IODEPTH writes in flight.
            final long crashAfterKib = CRASH_AFTER / 1024;
            final AtomicReference<Map<String, Object>> last = new AtomicReference<>();
            Clients.await(Duration.ofSeconds(40), "node a to have written " + crashAfterKib + " KiB for fio", () ->
            {
                if (!fio.isAlive())
                {
                    fail("fio ended before the crash (expected it to be writing when a is killed)\n" +
                        fio.describe() + "\n" + cluster.describe());
                }
                cluster.assertRunning();
                final Map<String, Object> status = cluster.statusJsonOrNull("a");
                last.set(status);
                return status != null && MirraCluster.device0(status) != null &&
                    Json.longValue(MirraCluster.device0(status), "written") >= crashAfterKib;
            }, () -> "last status of a: " + last.get() + "\n" + fio.describe() + "\n" + cluster.describe());
            final boolean fioRunningAtCrash = fio.isAlive();
            log("a has written " + Json.longValue(MirraCluster.device0(last.get()), "written") + " KiB; killing it");
            crashAndFailOver();

            final int fioExit = fio.awaitExit(Duration.ofSeconds(30));
            final String fioContext = fio.describe() + "\n" + report(dir.resolve("write.json"));
            assertTrue(fioRunningAtCrash && fioExit != 0,
                "fio should have been writing when a was killed and then failed with an I/O error (running at " +
                    "the crash: " + fioRunningAtCrash + ", exit code " + fioExit + ")\n" + fioContext);
        }

        final Map<String, Object> written = fioJob(null, dir.resolve("write.json"));
        final long acknowledged = Json.longValue(Json.object(written.get("write"), "write"), "io_bytes");
        logWrite(written);
        log("fio saw " + acknowledged + " bytes acknowledged (" + acknowledged / BLOCK + " writes) before the crash");
        // a may count a write a little before fio sees it completed: at most IODEPTH of them.
        final long minimum = CRASH_AFTER - (long)IODEPTH * BLOCK;
        assertTrue(acknowledged >= minimum && acknowledged < REGION,
            "bytes acknowledged before the crash: " + acknowledged + " (expected at least " + minimum +
                ", as node a had written that much, and less than the whole region " + REGION + ")\n" +
                report(dir.resolve("write.json")));
        final Path state = dir.resolve("local-failover-0-verify.state");
        assertTrue(Files.isRegularFile(state), "fio's verify state " + state + " (expected fio to save it when the" +
            " job ended with the I/O error); files: " + listing());

        // fio verifies in issue order and, in the last IODEPTH issues, only the writes it recorded as completed;
        // it stops at the first one that was in flight. So all but at most 2 * IODEPTH acknowledged writes are
        // checked (the window plus completions the saved ring may have overwritten).
        final long atLeast = Math.max(0, acknowledged - 2L * IODEPTH * BLOCK);
        // And at most the window more: a write completing as the connection failed can be in the saved ring of
        // completions without being counted in io_bytes (seen once: one block more). Checking it is no harm: what
        // matters is that every block checked holds what fio wrote.
        final long atMost = acknowledged + (long)IODEPTH * BLOCK;
        verifyThrough("b", "verify-b.json", atLeast, atMost, "--verify_state_load=1", "--iodepth=1");
        verifyThrough("c", "verify-c.json", atLeast, atMost, "--verify_state_load=1", "--iodepth=1");
        assertStatusAfterFailover();
    }

    /** Write the configuration, check it, start a, b and c, and wait until they are connected and in sync. */
    private void startCluster() throws Exception
    {
        seed = Long.getLong("mirra.seed", ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE));
        cluster = MirraCluster.create(dir, RESOURCE, "256M", "failover-" + Long.toHexString(seed),
            List.of("a", "b", "c"), Set.of("c"));
        log("seed " + seed + " (rerun with -Dmirra.seed=" + seed + ")\n" + cluster.layout());

        final Clients.Result check = Clients.run(ADMIN_TIMEOUT, MirraCluster.NO_BUILD, dir, List.of(
            MirraCluster.launcher(), "check-config", "--config", cluster.configDir().toString()));
        assertEquals(0, check.exitCode(), "mirra check-config of the written configuration (expected exit code 0)\n" +
            check.describe() + "\n" + cluster.layout());

        for (final String node : List.of("a", "b", "c"))
        {
            cluster.start(node);
        }
        final AtomicReference<String> last = new AtomicReference<>("");
        Clients.await(Duration.ofSeconds(60), "a, b and c to be Connected, with a and b UpToDate and Established",
            () ->
            {
                cluster.assertRunning();
                // One node after the other: each status is a JVM start, and the first not ready decides.
                final StringBuilder states = new StringBuilder();
                for (final String node : List.of("a", "b", "c"))
                {
                    final Map<String, Object> status = cluster.statusJsonOrNull(node);
                    states.append(node).append(": ").append(status).append('\n');
                    if (status == null || !isReady(node, status))
                    {
                        last.set(states.toString());
                        return false;
                    }
                }
                last.set(states.toString());
                return true;
            }, () -> "last status --json of each node:\n" + last.get() + cluster.describe());
        log("cluster ready:\n" + last.get());
    }

    /**
     * @return whether {@code node} sees both peers Connected, its own disk as configured (UpToDate, or Diskless for
     * c), and the peer with a disk UpToDate and Established.
     */
    private static boolean isReady(final String node, final Map<String, Object> status)
    {
        final Map<String, Object> device = MirraCluster.device0(status);
        if (device == null || !(node.equals("c") ? "Diskless" : "UpToDate").equals(device.get("disk-state")))
        {
            return false;
        }
        for (final String peer : List.of("a", "b", "c"))
        {
            if (peer.equals(node))
            {
                continue;
            }
            final Map<String, Object> connection = MirraCluster.connection(status, peer);
            if (connection == null || !"Connected".equals(connection.get("connection-state")))
            {
                return false;
            }
            final Map<String, Object> peerDevice = MirraCluster.peerDevice0(connection);
            if (!peer.equals("c") && (peerDevice == null || !"UpToDate".equals(peerDevice.get("peer-disk-state")) ||
                !"Established".equals(peerDevice.get("replication-state"))))
            {
                return false;
            }
        }
        return true;
    }

    private void promote(final String node)
    {
        final Clients.Result primary = cluster.admin(ADMIN_TIMEOUT, node, "primary", RESOURCE);
        assertEquals(0, primary.exitCode(), "mirra primary " + RESOURCE + " on " + node + " (expected exit code 0)\n" +
            primary.describe() + "\n" + cluster.describe());
        final Map<String, Object> status = cluster.statusJson(node);
        assertEquals("Primary", status.get("role"), node + "'s role after mirra primary\n" + status);
        log(node + " is Primary");
    }

    /** Kill a (SIGKILL), wait until b sees the connection to a gone, then make b Primary. */
    private void crashAndFailOver() throws InterruptedException
    {
        final int exit = cluster.crash("a");
        log("a killed with SIGKILL (exit code " + exit + ")");
        final AtomicReference<Map<String, Object>> last = new AtomicReference<>();
        Clients.await(Duration.ofSeconds(20), "b to see its connection to the killed a go down", () ->
        {
            cluster.assertRunning();
            final Map<String, Object> status = cluster.statusJsonOrNull("b");
            last.set(status);
            final Map<String, Object> toA = status == null ? null : MirraCluster.connection(status, "a");
            return toA != null && !"Connected".equals(toA.get("connection-state"));
        }, () -> "last status --json of b: " + last.get() + "\n" + cluster.describe());
        // c votes on b's promotion: it must have seen a go too (a voter that still hears a Primary says no).
        Clients.await(Duration.ofSeconds(20), "c to see its connection to the killed a go down", () ->
        {
            cluster.assertRunning();
            final Map<String, Object> status = cluster.statusJsonOrNull("c");
            last.set(status);
            final Map<String, Object> toA = status == null ? null : MirraCluster.connection(status, "a");
            return toA != null && !"Connected".equals(toA.get("connection-state"));
        }, () -> "last status --json of c: " + last.get() + "\n" + cluster.describe());
        promote("b");
    }

    /**
     * Read back through {@code node} what the write job wrote, checking fio's crc32c headers.
     *
     * @param atLeast bytes that must have been checked.
     * @param atMost  bytes that may have been checked at most.
     * @param extra   options added to the write job.
     */
    private void verifyThrough(final String node, final String json, final long atLeast, final long atMost,
        final String... extra)
    {
        final List<String> options = new ArrayList<>(List.of("--verify_only=1", "--do_verify=1",
            "--verify_state_save=0"));
        options.addAll(List.of(extra));
        final Clients.Result verify = Clients.run(FIO_TIMEOUT, Map.of(), dir, fio(node, json,
            options.toArray(String[]::new)));
        final Map<String, Object> job = fioJob(verify, dir.resolve(json));
        final String context = "reading back through " + node + "\n" + context(verify);
        assertFalse(VERIFY_ERROR.matcher(verify.stdout() + verify.stderr() + report(dir.resolve(json))).find(),
            "fio found blocks that differ from what it wrote and saw acknowledged (expected none)\n" + context);
        assertEquals(0, verify.exitCode(), "fio verify (expected exit code 0)\n" + context);
        assertEquals(0, Json.longValue(job, "error"), "fio's jobs[0].error (expected 0)\n" + context);
        final long checked = Json.longValue(Json.object(job.get("read"), "read"), "io_bytes");
        log("fio checked " + checked + " bytes through " + node);
        assertTrue(checked >= atLeast && checked <= atMost, "bytes fio read back and checked through " + node +
            ": " + checked + " (expected " + (atLeast == atMost ? "" + atLeast : atLeast + ".." + atMost) + ")\n" +
            context);
    }

    /** b is Primary and UpToDate, its connection to a is down (Connecting); c follows b. */
    private void assertStatusAfterFailover()
    {
        final Clients.Result text = cluster.admin(ADMIN_TIMEOUT, "b", "status", RESOURCE);
        assertEquals(0, text.exitCode(), "mirra status " + RESOURCE + " on b (expected exit code 0)\n" +
            text.describe());
        final List<String> lines = text.stdout().lines().toList();
        final String context = text.describe() + "\n" + cluster.describe();
        assertFalse(lines.isEmpty(), "status output (expected a resource line)\n" + context);
        assertEquals(RESOURCE + " role:Primary", lines.get(0).strip(), "first status line of b\n" + context);
        assertTrue(lines.stream().anyMatch(l -> l.strip().equals("disk:UpToDate")),
            "a line 'disk:UpToDate' (b's own disk)\n" + context);
        final String toA = lines.stream().filter(l -> l.strip().startsWith("a ")).findFirst()
            .orElseGet(() -> fail("a line for peer a (expected 'a connection:Connecting ...')\n" + context));
        assertTrue(toA.strip().startsWith("a connection:Connecting"),
            "b's line for the killed a (expected 'a connection:Connecting', with or without a reason): '" + toA +
                "'\n" + context);
        final String toC = lines.stream().filter(l -> l.strip().startsWith("c ")).findFirst()
            .orElseGet(() -> fail("a line for peer c (expected 'c role:Secondary')\n" + context));
        assertTrue(toC.strip().startsWith("c role:Secondary"), "b's line for c (expected it connected, " +
            "'c role:Secondary'): '" + toC + "'\n" + context);
        log("status of b after the failover:\n" + text.stdout());

        final Map<String, Object> b = cluster.statusJson("b");
        final Map<String, Object> bToA = MirraCluster.connection(b, "a");
        assertNotEquals(null, bToA, "b's status --json has a connection to a\n" + b);
        assertEquals("Connecting", bToA.get("connection-state"), "b's connection-state to the killed a\n" + b);
        assertEquals("Unknown", bToA.get("peer-role"), "b's peer-role of the killed a\n" + b);

        final Map<String, Object> c = cluster.statusJson("c");
        final Map<String, Object> cToB = MirraCluster.connection(c, "b");
        assertNotEquals(null, cToB, "c's status --json has a connection to b\n" + c);
        assertEquals("Connected", cToB.get("connection-state"), "c's connection-state to b\n" + c);
        assertEquals("Primary", cToB.get("peer-role"), "c's peer-role of b (the new Primary)\n" + c);
        final Map<String, Object> cToA = MirraCluster.connection(c, "a");
        assertNotEquals(null, cToA, "c's status --json has a connection to a\n" + c);
        assertNotEquals("Connected", cToA.get("connection-state"), "c's connection-state to the killed a\n" + c);
        cluster.assertRunning();
    }

    /** The fio job of both phases: every 4 KiB block of the region once, in random order, with crc32c headers. */
    private List<String> fio(final String node, final String json, final String... extra)
    {
        final List<String> command = new ArrayList<>(List.of("fio", "--name=failover", "--ioengine=nbd",
            "--uri=" + cluster.nbdUri(node, RESOURCE), "--rw=randwrite", "--bs=" + BLOCK, "--size=" + REGION,
            "--iodepth=" + IODEPTH, "--verify=crc32c", "--randseed=" + seed, "--randrepeat=1",
            "--output-format=json", "--output=" + dir.resolve(json)));
        // Later options win: the verify runs read with iodepth 1 (see verify_state_should_stop in fio).
        command.addAll(List.of(extra));
        return command;
    }

    /** @return jobs[0] of fio's JSON report; fails with the run's output when it is missing or malformed. */
    private Map<String, Object> fioJob(final Clients.Result run, final Path json)
    {
        final String report = report(json);
        try
        {
            return Json.object(Json.array(Json.object(Json.parse(report), "fio report").get("jobs"), "jobs").get(0),
                "job");
        }
        catch (final RuntimeException ex)
        {
            return fail("fio's JSON report " + json + " (expected one job): " + ex.getMessage() + "\n" +
                (run == null ? "" : run.describe() + "\n") + report + "\n" + cluster.describe(), ex);
        }
    }

    private String context(final Clients.Result run)
    {
        return "seed " + seed + "\n" + run.describe() + "\n" + cluster.describe();
    }

    private static String report(final Path json)
    {
        try
        {
            return Files.exists(json) ? Files.readString(json) : "(no " + json + ")";
        }
        catch (final java.io.IOException ex)
        {
            return "(cannot read " + json + ": " + ex + ")";
        }
    }

    private String listing()
    {
        try (var files = Files.list(dir))
        {
            return files.map(p -> p.getFileName().toString()).sorted().toList().toString();
        }
        catch (final java.io.IOException ex)
        {
            return ex.toString();
        }
    }

    private void logWrite(final Map<String, Object> job)
    {
        final Map<String, Object> write = Json.object(job.get("write"), "write");
        log("fio wrote " + Json.longValue(write, "io_bytes") + " bytes through a in " +
            Json.longValue(write, "runtime") + " ms (" + Json.longValue(write, "bw_bytes") / MIB + " MiB/s)");
    }

    private void log(final String message)
    {
        System.out.printf("[ReplicatedFailoverSystemTest seed %d +%.1fs] %s%n", seed,
            (System.nanoTime() - startNanos) / 1e9, message);
    }
}
