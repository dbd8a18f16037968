package io.mirra.systemtest;

import io.mirra.node.StandaloneServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static io.mirra.systemtest.Clients.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@code qemu-img convert} of a 256 MiB image into the export and back out, and {@code qemu-img compare}. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class QemuImgTest
{
    private static final long SIZE = 256 * MIB;
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void shouldConvertImageInAndOutUnchanged() throws Exception
    {
        final Path source = dir.resolve("src.img");
        final Path copy = dir.resolve("out.img");
        Clients.writeRandom(source, SIZE, 256);
        // Zero runs in the random data make convert send WRITE_ZEROES on the way in and read holes on the way out.
        zero(source, 64 * MIB, 4 * MIB);
        zero(source, 200 * MIB + 4096, 3 * MIB);

        try (StandaloneServer server = Clients.serve(dir.resolve("disk.img"), SIZE, false))
        {
            final String uri = server.uri();
            Clients.ok(CLIENT_TIMEOUT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", source.toString(), uri);
            Clients.ok(CLIENT_TIMEOUT, "qemu-img", "compare", "-f", "raw", "-F", "raw", source.toString(), uri);
            Clients.ok(CLIENT_TIMEOUT, "qemu-img", "convert", "-f", "raw", "-O", "raw", uri, copy.toString());
        }
        final Clients.Result compare = Clients.ok(CLIENT_TIMEOUT, "qemu-img", "compare", "-f", "raw", "-F", "raw",
            source.toString(), copy.toString());
        assertEquals(-1, Files.mismatch(source, copy), "converted out image differs\n" + compare.describe());
        assertEquals(SIZE, Files.size(copy));
    }

    private static void zero(final Path file, final long offset, final long length) throws IOException
    {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE))
        {
            final ByteBuffer zeros = ByteBuffer.allocate((int)length);
            long position = offset;
            while (zeros.hasRemaining())
            {
                position += channel.write(zeros, position);
            }
        }
    }
}
