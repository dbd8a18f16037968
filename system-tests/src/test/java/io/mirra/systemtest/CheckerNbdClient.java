package io.mirra.systemtest;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * The smallest NBD client the randomized checker needs: fixed-newstyle handshake with NBD_OPT_GO (no structured
 * replies), then one request at a time (WRITE, READ, FLUSH) with simple replies. Every read has a timeout, so a
 * node that hangs ends the request with an {@link IOException} (an unknown outcome for a write).
 */
final class CheckerNbdClient implements AutoCloseable
{
    private static final long NBDMAGIC = 0x4e42444d41474943L;
    private static final long IHAVEOPT = 0x49484156454F5054L;
    private static final long REPLY_MAGIC = 0x3e889045565a9L;
    private static final int REQUEST_MAGIC = 0x25609513;
    private static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    private static final int FLAG_FIXED_NEWSTYLE = 1;
    private static final int FLAG_NO_ZEROES = 2;
    private static final int OPT_GO = 7;
    private static final int REP_ACK = 1;
    private static final int CMD_READ = 0;
    private static final int CMD_WRITE = 1;
    private static final int CMD_DISC = 2;
    private static final int CMD_FLUSH = 3;

    /** A request the server answered with an error. */
    static final class NbdError extends IOException
    {
        final int errno;

        NbdError(final String what, final int errno)
        {
            super(what + " failed with errno " + errno);
            this.errno = errno;
        }
    }

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private long cookie;

    /**
     * Connect and select {@code export}.
     *
     * @param timeoutMillis connect and read timeout.
     */
    CheckerNbdClient(final String host, final int port, final String export, final int timeoutMillis)
        throws IOException
    {
        socket = new Socket();
        try
        {
            socket.connect(new InetSocketAddress(host, port), timeoutMillis);
            socket.setSoTimeout(timeoutMillis);
            socket.setTcpNoDelay(true);
            in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
            out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
            if (in.readLong() != NBDMAGIC || in.readLong() != IHAVEOPT)
            {
                throw new IOException("not an NBD newstyle server");
            }
            final int serverFlags = in.readUnsignedShort();
            out.writeInt(FLAG_FIXED_NEWSTYLE | (serverFlags & FLAG_NO_ZEROES));
            final byte[] name = export.getBytes(StandardCharsets.UTF_8);
            out.writeLong(IHAVEOPT);
            out.writeInt(OPT_GO);
            out.writeInt(4 + name.length + 2);
            out.writeInt(name.length);
            out.write(name);
            out.writeShort(0);
            out.flush();
            while (true)
            {
                if (in.readLong() != REPLY_MAGIC)
                {
                    throw new IOException("bad option reply magic");
                }
                in.readInt(); // option
                final int type = in.readInt();
                final int length = in.readInt();
                final byte[] data = new byte[length];
                in.readFully(data);
                if (type == REP_ACK)
                {
                    break;
                }
                if (type < 0)
                {
                    throw new IOException("NBD_OPT_GO refused (0x" + Integer.toHexString(type) + "): " +
                        new String(data, StandardCharsets.UTF_8));
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            socket.close();
            throw ex;
        }
    }

    void write(final long offset, final byte[] data) throws IOException
    {
        request(CMD_WRITE, offset, data.length, data);
        reply("WRITE", null);
    }

    byte[] read(final long offset, final int length) throws IOException
    {
        request(CMD_READ, offset, length, null);
        final byte[] data = new byte[length];
        reply("READ", data);
        return data;
    }

    void flush() throws IOException
    {
        request(CMD_FLUSH, 0, 0, null);
        reply("FLUSH", null);
    }

    private void request(final int type, final long offset, final int length, final byte[] data) throws IOException
    {
        out.writeInt(REQUEST_MAGIC);
        out.writeShort(0);
        out.writeShort(type);
        out.writeLong(++cookie);
        out.writeLong(offset);
        out.writeInt(length);
        if (data != null)
        {
            out.write(data);
        }
        out.flush();
    }

    private void reply(final String what, final byte[] data) throws IOException
    {
        if (in.readInt() != SIMPLE_REPLY_MAGIC)
        {
            throw new IOException(what + ": bad reply magic");
        }
        final int errno = in.readInt();
        if (in.readLong() != cookie)
        {
            throw new IOException(what + ": reply for another cookie");
        }
        if (errno != 0)
        {
            throw new NbdError(what, errno);
        }
        if (data != null)
        {
            in.readFully(data);
        }
    }

    @Override
    public void close()
    {
        try
        {
            if (!socket.isClosed())
            {
                socket.setSoTimeout(1000);
                request(CMD_DISC, 0, 0, null);
            }
        }
        catch (final IOException ex)
        {
            // closing anyway
        }
        try
        {
            socket.close();
        }
        catch (final IOException ex)
        {
            // closing anyway
        }
    }

    /** Close the socket at once, from another thread (an outstanding request then fails). */
    void abort()
    {
        try
        {
            socket.close();
        }
        catch (final IOException ex)
        {
            // closing anyway
        }
    }
}
