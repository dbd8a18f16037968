package io.mirra.systemtest;

import io.mirra.node.StandaloneServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.mirra.systemtest.Clients.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code nbdcopy} of 64 MiB of random data in and out, on one connection and on four (multi-conn). */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class NbdCopyTest
{
    private static final long SIZE = 64 * MIB;
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void shouldCopyInAndOutUnchanged() throws Exception
    {
        final Path source = dir.resolve("src.img");
        final Path copy = dir.resolve("out.img");
        Clients.writeRandom(source, SIZE, 64);
        try (StandaloneServer server = Clients.serve(dir.resolve("disk.img"), SIZE, false))
        {
            Clients.ok(CLIENT_TIMEOUT, "nbdcopy", source.toString(), server.uri());
            Clients.ok(CLIENT_TIMEOUT, "nbdcopy", server.uri(), copy.toString());
        }
        assertEquals(SIZE, Files.size(copy));
        assertEquals(-1, Files.mismatch(source, copy), "nbdcopy out differs from what nbdcopy copied in");
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void shouldCopyInOverFourConnections() throws Exception
    {
        final Path source = dir.resolve("src.img");
        final Path disk = dir.resolve("disk.img");
        final Path copy = dir.resolve("out.img");
        Clients.writeRandom(source, SIZE, 4);
        try (StandaloneServer server = Clients.serve(disk, SIZE, false))
        {
            // nbdcopy caps connections at --threads, which defaults to the number of cores; -v shows what it used.
            final Clients.Result in = Clients.ok(CLIENT_TIMEOUT, "nbdcopy", "-v", "--connections=4", "--threads=4",
                source.toString(), server.uri());
            final Matcher used = Pattern.compile("(?m)^nbdcopy: connections=(\\d+)").matcher(in.stderr());
            assertTrue(used.find(), "nbdcopy -v did not report its connections\n" + in.describe());
            assertEquals("4", used.group(1), "nbdcopy did not use 4 connections (is multi-conn advertised?)\n" +
                in.describe());
            final Matcher connected = Pattern.compile("dst\\d: nbd_connect_uri: leave: ret=0").matcher(in.stderr());
            int connections = 0;
            while (connected.find())
            {
                connections++;
            }
            assertEquals(4, connections, "connections that completed the handshake\n" + in.describe());

            Clients.ok(CLIENT_TIMEOUT, "nbdcopy", server.uri(), copy.toString());
        }
        assertEquals(-1, Files.mismatch(source, copy), "data read back differs from what 4 connections wrote");
        assertEquals(-1, Files.mismatch(source, disk), "the backing file differs from what 4 connections wrote");
    }
}
