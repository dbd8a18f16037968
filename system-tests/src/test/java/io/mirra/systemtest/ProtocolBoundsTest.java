package io.mirra.systemtest;

import io.mirra.node.StandaloneServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static io.mirra.systemtest.Clients.MIB;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Requests past the end of the export, sent on the wire. qemu-io and libnbd refuse such requests before they leave
 * the client (see {@link QemuIoTest#shouldFailReadsPastTheEnd}), and nbdsh (python3-libnbd, for strict mode off) is
 * not part of the toolset, so a minimal old-style NBD_OPT_EXPORT_NAME client with simple replies checks the server.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ProtocolBoundsTest
{
    private static final long SIZE = 16 * MIB;
    private static final long NBDMAGIC = 0x4e42444d41474943L;
    private static final long IHAVEOPT = 0x49484156454F5054L;
    private static final int REQUEST_MAGIC = 0x25609513;
    private static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    private static final int CMD_READ = 0;
    private static final int CMD_WRITE = 1;
    private static final int CMD_DISC = 2;
    private static final int EINVAL = 22;
    private static final int ENOSPC = 28;

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 20, unit = TimeUnit.SECONDS)
    void shouldRefuseRequestsPastTheEndAndKeepServing() throws Exception
    {
        try (StandaloneServer server = Clients.serve(dir.resolve("disk.img"), SIZE, false);
             Socket socket = new Socket())
        {
            socket.setSoTimeout(10_000);
            socket.connect(new InetSocketAddress("127.0.0.1", server.localAddress().getPort()), 10_000);
            final DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
            final DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
            assertEquals(SIZE, handshake(in, out, "disk"));

            final byte[] block = new byte[4096];
            Arrays.fill(block, (byte)0x6b);
            assertEquals(0, request(in, out, 1, CMD_WRITE, SIZE - 4096, block), "write of the last 4 KiB");
            assertEquals(0, request(in, out, 2, CMD_READ, SIZE - 4096, 4096), "read of the last 4 KiB");
            assertArrayEquals(block, in.readNBytes(4096), "the last 4 KiB read back");

            assertEquals(EINVAL, request(in, out, 3, CMD_READ, SIZE - 4096, 4097), "read one byte past the end");
            assertEquals(EINVAL, request(in, out, 4, CMD_READ, SIZE, 1), "read at the end");
            assertEquals(EINVAL, request(in, out, 5, CMD_READ, -4096, 8192), "read whose end wraps past 2^64");
            assertEquals(ENOSPC, request(in, out, 6, CMD_WRITE, SIZE - 512, new byte[1024]),
                "write one block past the end");

            // The connection survives the refusals (the refused write's payload was consumed).
            assertEquals(0, request(in, out, 7, CMD_READ, SIZE - 4096, 4096), "read after the refusals");
            assertArrayEquals(block, in.readNBytes(4096), "the last 4 KiB after the refusals");

            header(out, 8, CMD_DISC, 0, 0);
            out.flush();
            assertThrows(EOFException.class, in::readByte, "the server closes the connection on NBD_CMD_DISC");
        }
    }

    /** Fixed newstyle with NO_ZEROES, then NBD_OPT_EXPORT_NAME. @return the export size. */
    private static long handshake(final DataInputStream in, final DataOutputStream out, final String name)
        throws IOException
    {
        assertEquals(NBDMAGIC, in.readLong(), "NBDMAGIC");
        assertEquals(IHAVEOPT, in.readLong(), "IHAVEOPT");
        final int flags = in.readUnsignedShort();
        assertEquals(3, flags & 3, "handshake flags FIXED_NEWSTYLE | NO_ZEROES");
        out.writeInt(3);
        final byte[] exportName = name.getBytes(StandardCharsets.UTF_8);
        out.writeLong(IHAVEOPT);
        out.writeInt(1); // NBD_OPT_EXPORT_NAME
        out.writeInt(exportName.length);
        out.write(exportName);
        out.flush();
        final long size = in.readLong();
        in.readUnsignedShort(); // transmission flags
        return size;
    }

    private static int request(final DataInputStream in, final DataOutputStream out, final long handle,
        final int type, final long offset, final int length) throws IOException
    {
        header(out, handle, type, offset, length);
        out.flush();
        return reply(in, handle);
    }

    private static int request(final DataInputStream in, final DataOutputStream out, final long handle,
        final int type, final long offset, final byte[] payload) throws IOException
    {
        header(out, handle, type, offset, payload.length);
        out.write(payload);
        out.flush();
        return reply(in, handle);
    }

    private static void header(final DataOutputStream out, final long handle, final int type, final long offset,
        final int length) throws IOException
    {
        out.writeInt(REQUEST_MAGIC);
        out.writeShort(0);
        out.writeShort(type);
        out.writeLong(handle);
        out.writeLong(offset);
        out.writeInt(length);
    }

    private static int reply(final DataInputStream in, final long handle) throws IOException
    {
        assertEquals(SIMPLE_REPLY_MAGIC, in.readInt(), "simple reply magic");
        final int error = in.readInt();
        assertEquals(handle, in.readLong(), "reply handle");
        return error;
    }
}
