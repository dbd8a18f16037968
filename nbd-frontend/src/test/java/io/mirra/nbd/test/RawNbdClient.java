package io.mirra.nbd.test;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.mirra.nbd.protocol.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A deliberately dumb NBD client over a blocking {@link Socket}: it sends exactly the bytes it is told to (valid or
 * not) and parses what the server answers: greeting, option replies, simple replies and structured reply chunks.
 * Every read has a timeout ({@link #TIMEOUT_MS}), so a server that stays silent fails the test instead of hanging it.
 * Not thread-safe, except that one thread may send while another receives.
 */
public final class RawNbdClient implements AutoCloseable
{
    /** Socket read timeout. */
    public static final int TIMEOUT_MS = 10_000;

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private final Map<Long, long[]> pendingReads = new HashMap<>();
    private final Map<Long, List<Chunk>> partialReplies = new HashMap<>();
    private boolean noZeroes;

    /** One option reply. */
    public record OptionReply(int option, int type, byte[] data)
    {
        /** @return the data as a UTF-8 string (error messages). */
        public String text()
        {
            return new String(data, StandardCharsets.UTF_8);
        }

        /** @return the info type of an NBD_REP_INFO reply. */
        public int infoType()
        {
            return ByteBuffer.wrap(data).getShort() & 0xffff;
        }

        @Override
        public String toString()
        {
            return "OptionReply{option=" + option + ", type=0x" + Integer.toHexString(type) + ", length=" +
                data.length + (type < 0 ? ", message='" + text() + "'" : "") + "}";
        }
    }

    /** One structured reply chunk. */
    public record Chunk(int flags, int type, long cookie, byte[] payload)
    {
    }

    /**
     * One complete reply.
     *
     * @param cookie  the request's cookie.
     * @param simple  true for a simple reply.
     * @param errno   0 on success.
     * @param message the error message of a structured error chunk, else null.
     * @param data    the bytes a successful read returned (assembled from chunks), else null.
     * @param chunks  the chunks of a structured reply (empty for a simple reply).
     */
    public record Reply(long cookie, boolean simple, int errno, String message, byte[] data, List<Chunk> chunks)
    {
        /**
         * @return the descriptors of the (single) block status chunk: {length, flags} pairs.
         */
        public List<long[]> extents()
        {
            final List<long[]> extents = new ArrayList<>();
            for (final Chunk chunk : chunks)
            {
                if (chunk.type() == REPLY_TYPE_BLOCK_STATUS)
                {
                    final ByteBuffer b = ByteBuffer.wrap(chunk.payload());
                    assertEquals(CONTEXT_ID_BASE_ALLOCATION, b.getInt(), "block status context id");
                    while (b.hasRemaining())
                    {
                        extents.add(new long[] {b.getInt() & 0xffffffffL, b.getInt()});
                    }
                }
            }
            return extents;
        }
    }

    /**
     * Export details from NBD_OPT_GO / NBD_OPT_INFO / NBD_OPT_EXPORT_NAME.
     *
     * @param size           export size.
     * @param flags          transmission flags.
     * @param minBlock       minimum block size (0 if not sent).
     * @param preferredBlock preferred block size (0 if not sent).
     * @param maxPayload     maximum payload (0 if not sent).
     * @param name           INFO_NAME if sent, else null.
     * @param description    INFO_DESCRIPTION if sent, else null.
     * @param replies        every reply received, the final one last.
     */
    public record ExportInfo(long size, int flags, int minBlock, int preferredBlock, int maxPayload, String name,
        String description, List<OptionReply> replies)
    {
    }

    private RawNbdClient(final Socket socket) throws IOException
    {
        this.socket = socket;
        socket.setSoTimeout(TIMEOUT_MS);
        socket.setTcpNoDelay(true);
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 65536));
        this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 65536));
    }

    /**
     * @param address the server.
     * @return a connected client that has read nothing yet.
     * @throws IOException if the connection fails.
     */
    public static RawNbdClient connect(final InetSocketAddress address) throws IOException
    {
        final Socket socket = new Socket();
        socket.connect(address, TIMEOUT_MS);
        return new RawNbdClient(socket);
    }

    /** @return the socket (for abrupt closes and timeouts). */
    public Socket socket()
    {
        return socket;
    }

    // ---- handshake ----------------------------------------------------------------------------------------------

    /**
     * Read and check the 18-byte greeting.
     *
     * @return the handshake flags.
     * @throws IOException on I/O failure.
     */
    public int readGreeting() throws IOException
    {
        assertEquals(NBDMAGIC, in.readLong(), "NBDMAGIC");
        assertEquals(IHAVEOPT, in.readLong(), "IHAVEOPT");
        return in.readUnsignedShort();
    }

    /**
     * @param flags client flags to send.
     * @throws IOException on I/O failure.
     */
    public void sendClientFlags(final int flags) throws IOException
    {
        noZeroes = (flags & FLAG_C_NO_ZEROES) != 0;
        out.writeInt(flags);
        out.flush();
    }

    /**
     * Greeting plus fixed-newstyle client flags with NO_ZEROES.
     *
     * @throws IOException on I/O failure.
     */
    public void start() throws IOException
    {
        final int flags = readGreeting();
        assertEquals(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, flags, "handshake flags");
        sendClientFlags(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES);
    }

    /**
     * Send an option with its data.
     *
     * @param option option number.
     * @param data   option data.
     * @throws IOException on I/O failure.
     */
    public void sendOption(final int option, final byte[] data) throws IOException
    {
        sendOptionHeader(IHAVEOPT, option, data.length);
        out.write(data);
        out.flush();
    }

    /**
     * Send only an option header (the caller sends or withholds the data).
     *
     * @param magic  option magic (IHAVEOPT unless testing bad input).
     * @param option option number.
     * @param length announced data length (unsigned 32 bits).
     * @throws IOException on I/O failure.
     */
    public void sendOptionHeader(final long magic, final int option, final long length) throws IOException
    {
        out.writeLong(magic);
        out.writeInt(option);
        out.writeInt((int)length);
        out.flush();
    }

    /**
     * @return the next option reply.
     * @throws IOException on I/O failure.
     */
    public OptionReply readOptionReply() throws IOException
    {
        assertEquals(OPTION_REPLY_MAGIC, in.readLong(), "option reply magic");
        final int option = in.readInt();
        final int type = in.readInt();
        final int length = in.readInt();
        assertTrue(length >= 0 && length <= 1 << 20, "option reply length " + length);
        final byte[] data = new byte[length];
        in.readFully(data);
        return new OptionReply(option, type, data);
    }

    /**
     * Read replies to {@code option} up to and including the final one (ACK or an error).
     *
     * @param option the option the replies must carry.
     * @return every reply, final last.
     * @throws IOException on I/O failure.
     */
    public List<OptionReply> readOptionReplies(final int option) throws IOException
    {
        final List<OptionReply> replies = new ArrayList<>();
        while (true)
        {
            final OptionReply reply = readOptionReply();
            assertEquals(option, reply.option(), "option echoed in " + reply);
            replies.add(reply);
            if (reply.type() == REP_ACK || reply.type() < 0)
            {
                return replies;
            }
        }
    }

    /**
     * Send an option and read all its replies.
     *
     * @param option option number.
     * @param data   option data.
     * @return every reply, final last.
     * @throws IOException on I/O failure.
     */
    public List<OptionReply> option(final int option, final byte[] data) throws IOException
    {
        sendOption(option, data);
        return readOptionReplies(option);
    }

    /**
     * Send an option and return its single reply (for errors and plain ACKs).
     *
     * @param option option number.
     * @param data   option data.
     * @return the final reply, checked to be the only one.
     * @throws IOException on I/O failure.
     */
    public OptionReply optionSingle(final int option, final byte[] data) throws IOException
    {
        final List<OptionReply> replies = option(option, data);
        assertEquals(1, replies.size(), "replies to option " + option + ": " + replies);
        return replies.get(0);
    }

    /**
     * @param name  export name.
     * @param infos NBD_INFO_* requests.
     * @return NBD_OPT_INFO / NBD_OPT_GO data.
     */
    public static byte[] infoData(final String name, final int... infos)
    {
        final byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        final ByteBuffer b = ByteBuffer.allocate(4 + bytes.length + 2 + 2 * infos.length);
        b.putInt(bytes.length).put(bytes).putShort((short)infos.length);
        for (final int info : infos)
        {
            b.putShort((short)info);
        }
        return b.array();
    }

    /**
     * @param name    export name.
     * @param queries context queries.
     * @return NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data.
     */
    public static byte[] metaContextData(final String name, final String... queries)
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final DataOutputStream data = new DataOutputStream(bytes);
        try
        {
            final byte[] n = name.getBytes(StandardCharsets.UTF_8);
            data.writeInt(n.length);
            data.write(n);
            data.writeInt(queries.length);
            for (final String query : queries)
            {
                final byte[] q = query.getBytes(StandardCharsets.UTF_8);
                data.writeInt(q.length);
                data.write(q);
            }
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
        return bytes.toByteArray();
    }

    /**
     * Send NBD_OPT_INFO or NBD_OPT_GO and parse a successful answer (fails the test on an error reply).
     *
     * @param option OPT_INFO or OPT_GO.
     * @param name   export name.
     * @param infos  NBD_INFO_* requests.
     * @return the export details.
     * @throws IOException on I/O failure.
     */
    public ExportInfo info(final int option, final String name, final int... infos) throws IOException
    {
        final List<OptionReply> replies = option(option, infoData(name, infos));
        final OptionReply last = replies.get(replies.size() - 1);
        assertEquals(REP_ACK, last.type(), "final reply to " + optionName(option) + ": " + last);
        long size = -1;
        int flags = -1;
        int min = 0;
        int preferred = 0;
        int max = 0;
        String exportName = null;
        String description = null;
        for (final OptionReply reply : replies.subList(0, replies.size() - 1))
        {
            assertEquals(REP_INFO, reply.type(), "reply " + reply);
            final ByteBuffer b = ByteBuffer.wrap(reply.data());
            final int info = b.getShort() & 0xffff;
            switch (info)
            {
                case INFO_EXPORT:
                    assertEquals(12, reply.data().length, "INFO_EXPORT length");
                    size = b.getLong();
                    flags = b.getShort() & 0xffff;
                    break;
                case INFO_BLOCK_SIZE:
                    assertEquals(14, reply.data().length, "INFO_BLOCK_SIZE length");
                    min = b.getInt();
                    preferred = b.getInt();
                    max = b.getInt();
                    break;
                case INFO_NAME:
                    exportName = new String(reply.data(), 2, reply.data().length - 2, StandardCharsets.UTF_8);
                    break;
                case INFO_DESCRIPTION:
                    description = new String(reply.data(), 2, reply.data().length - 2, StandardCharsets.UTF_8);
                    break;
                default:
                    throw new AssertionError("unexpected info type " + info);
            }
        }
        assertTrue(size >= 0, "no INFO_EXPORT in " + replies);
        return new ExportInfo(size, flags, min, preferred, max, exportName, description, replies);
    }

    /**
     * Full handshake: greeting, flags, optional structured replies and base:allocation, then NBD_OPT_GO.
     *
     * @param export     export name.
     * @param structured negotiate structured replies.
     * @param allocation select base:allocation (needs structured).
     * @return the export details.
     * @throws IOException on I/O failure.
     */
    public ExportInfo handshake(final String export, final boolean structured, final boolean allocation)
        throws IOException
    {
        start();
        if (structured)
        {
            assertEquals(REP_ACK, optionSingle(OPT_STRUCTURED_REPLY, new byte[0]).type(), "STRUCTURED_REPLY");
        }
        if (allocation)
        {
            final List<OptionReply> replies =
                option(OPT_SET_META_CONTEXT, metaContextData(export, CONTEXT_BASE_ALLOCATION));
            assertEquals(2, replies.size(), "SET_META_CONTEXT replies " + replies);
            assertEquals(REP_META_CONTEXT, replies.get(0).type());
        }
        return info(OPT_GO, export, INFO_BLOCK_SIZE);
    }

    /**
     * Send NBD_OPT_EXPORT_NAME and read the old-style reply.
     *
     * @param name export name.
     * @return size and flags.
     * @throws IOException on I/O failure.
     */
    public ExportInfo exportName(final String name) throws IOException
    {
        sendOption(OPT_EXPORT_NAME, name.getBytes(StandardCharsets.UTF_8));
        final long size = in.readLong();
        final int flags = in.readUnsignedShort();
        if (!noZeroes)
        {
            final byte[] zeroes = new byte[124];
            in.readFully(zeroes);
            assertTrue(isZero(zeroes), "124 reserved bytes must be zero");
        }
        return new ExportInfo(size, flags, 0, 0, 0, null, null, List.of());
    }

    // ---- transmission -------------------------------------------------------------------------------------------

    /**
     * Send a request header.
     *
     * @param flags  command flags.
     * @param type   command type.
     * @param cookie cookie.
     * @param offset offset (unsigned 64).
     * @param length length (unsigned 32).
     * @throws IOException on I/O failure.
     */
    public void sendRequest(final int flags, final int type, final long cookie, final long offset, final long length)
        throws IOException
    {
        writeRequestHeader(REQUEST_MAGIC, flags, type, cookie, offset, length);
        out.flush();
    }

    /**
     * Buffer a request header without flushing (for pipelining).
     *
     * @param magic  request magic.
     * @param flags  command flags.
     * @param type   command type.
     * @param cookie cookie.
     * @param offset offset.
     * @param length length.
     * @throws IOException on I/O failure.
     */
    public void writeRequestHeader(final int magic, final int flags, final int type, final long cookie,
        final long offset, final long length) throws IOException
    {
        if (type == CMD_READ)
        {
            pendingReads.put(cookie, new long[] {offset, length});
        }
        out.writeInt(magic);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt((int)length);
    }

    /**
     * Buffer a READ request (not flushed).
     *
     * @param flags  command flags.
     * @param cookie cookie.
     * @param offset offset.
     * @param length length.
     * @throws IOException on I/O failure.
     */
    public void queueRead(final int flags, final long cookie, final long offset, final int length) throws IOException
    {
        writeRequestHeader(REQUEST_MAGIC, flags, CMD_READ, cookie, offset, length);
    }

    /**
     * Buffer a WRITE request with its payload (not flushed).
     *
     * @param flags  command flags.
     * @param cookie cookie.
     * @param offset offset.
     * @param data   payload.
     * @throws IOException on I/O failure.
     */
    public void queueWrite(final int flags, final long cookie, final long offset, final byte[] data) throws IOException
    {
        writeRequestHeader(REQUEST_MAGIC, flags, CMD_WRITE, cookie, offset, data.length);
        out.write(data);
    }

    /**
     * @param bytes raw bytes to buffer.
     * @throws IOException on I/O failure.
     */
    public void queueRaw(final byte[] bytes) throws IOException
    {
        out.write(bytes);
    }

    /**
     * Send {@code count} zero bytes.
     *
     * @param count how many.
     * @throws IOException on I/O failure.
     */
    public void sendZeros(final long count) throws IOException
    {
        final byte[] zeros = new byte[1 << 20];
        long left = count;
        while (left > 0)
        {
            final int n = (int)Math.min(left, zeros.length);
            out.write(zeros, 0, n);
            left -= n;
        }
        out.flush();
    }

    /**
     * @throws IOException on I/O failure.
     */
    public void flush() throws IOException
    {
        out.flush();
    }

    /**
     * Write then wait for the reply.
     *
     * @param flags  command flags.
     * @param cookie cookie.
     * @param offset offset.
     * @param data   payload.
     * @return the reply.
     * @throws IOException on I/O failure.
     */
    public Reply write(final int flags, final long cookie, final long offset, final byte[] data) throws IOException
    {
        queueWrite(flags, cookie, offset, data);
        out.flush();
        return expectReply(cookie);
    }

    /**
     * Read then wait for the reply.
     *
     * @param flags  command flags.
     * @param cookie cookie.
     * @param offset offset.
     * @param length length.
     * @return the reply.
     * @throws IOException on I/O failure.
     */
    public Reply read(final int flags, final long cookie, final long offset, final int length) throws IOException
    {
        queueRead(flags, cookie, offset, length);
        out.flush();
        return expectReply(cookie);
    }

    /**
     * Send a request without payload and wait for its reply.
     *
     * @param flags  command flags.
     * @param type   command type.
     * @param cookie cookie.
     * @param offset offset.
     * @param length length.
     * @return the reply.
     * @throws IOException on I/O failure.
     */
    public Reply command(final int flags, final int type, final long cookie, final long offset, final long length)
        throws IOException
    {
        sendRequest(flags, type, cookie, offset, length);
        return expectReply(cookie);
    }

    /**
     * @param cookie the cookie the next reply must carry.
     * @return the reply.
     * @throws IOException on I/O failure.
     */
    public Reply expectReply(final long cookie) throws IOException
    {
        final Reply reply = readReply();
        assertEquals(cookie, reply.cookie(), "reply cookie");
        return reply;
    }

    /**
     * Read the next complete reply (simple, or structured chunks up to the DONE flag).
     *
     * @return the reply.
     * @throws IOException on I/O failure.
     */
    public Reply readReply() throws IOException
    {
        while (true)
        {
            final int magic = in.readInt();
            if (magic == SIMPLE_REPLY_MAGIC)
            {
                final int errno = in.readInt();
                final long cookie = in.readLong();
                final long[] read = pendingReads.remove(cookie);
                byte[] data = null;
                if (read != null && errno == 0)
                {
                    data = new byte[(int)read[1]];
                    in.readFully(data);
                }
                return new Reply(cookie, true, errno, null, data, List.of());
            }
            assertEquals(STRUCTURED_REPLY_MAGIC, magic, "reply magic 0x" + Integer.toHexString(magic));
            final int flags = in.readUnsignedShort();
            final int type = in.readUnsignedShort();
            final long cookie = in.readLong();
            final int length = in.readInt();
            assertTrue(length >= 0 && length <= MAX_PAYLOAD_LENGTH + 8 || type == REPLY_TYPE_BLOCK_STATUS,
                "chunk length " + length);
            final byte[] payload = new byte[length];
            in.readFully(payload);
            final List<Chunk> chunks = partialReplies.computeIfAbsent(cookie, c -> new ArrayList<>());
            chunks.add(new Chunk(flags, type, cookie, payload));
            if ((flags & REPLY_FLAG_DONE) != 0)
            {
                partialReplies.remove(cookie);
                return assemble(cookie, chunks);
            }
        }
    }

    private Reply assemble(final long cookie, final List<Chunk> chunks)
    {
        final long[] read = pendingReads.remove(cookie);
        int errno = 0;
        String message = null;
        byte[] data = read == null || read[1] < 0 || read[1] > MAX_PAYLOAD_LENGTH ? null : new byte[(int)read[1]];
        long covered = 0;
        for (final Chunk chunk : chunks)
        {
            final ByteBuffer b = ByteBuffer.wrap(chunk.payload());
            if ((chunk.type() & 0x8000) != 0)
            {
                assertTrue(chunk.payload().length >= 6, "error chunk length");
                errno = b.getInt();
                final int messageLength = b.getShort() & 0xffff;
                assertTrue(messageLength <= chunk.payload().length - 6, "error message length");
                message = new String(chunk.payload(), 6, messageLength, StandardCharsets.UTF_8);
                assertTrue(errno != 0, "error chunk with errno 0");
            }
            else if (chunk.type() == REPLY_TYPE_OFFSET_DATA)
            {
                assertTrue(data != null, "OFFSET_DATA for a request that is not a read of a sane length");
                final long offset = b.getLong();
                final int n = chunk.payload().length - 8;
                assertTrue(offset >= read[0] && offset + n <= read[0] + read[1], "data chunk outside the request");
                System.arraycopy(chunk.payload(), 8, data, (int)(offset - read[0]), n);
                covered += n;
            }
            else if (chunk.type() == REPLY_TYPE_OFFSET_HOLE)
            {
                final long offset = b.getLong();
                covered += b.getInt() & 0xffffffffL;
                assertTrue(offset >= read[0], "hole chunk outside the request");
            }
            else if (chunk.type() == REPLY_TYPE_NONE)
            {
                assertEquals(0, chunk.payload().length, "NONE chunk length");
            }
        }
        if (errno != 0)
        {
            data = null;
        }
        else if (read != null)
        {
            assertEquals(read[1], covered, "read reply covers the whole request");
        }
        return new Reply(cookie, false, errno, message, data, List.copyOf(chunks));
    }

    /**
     * Check that the server closed the connection (EOF or reset) before any further byte arrives.
     *
     * @return true if closed; false if the read timed out.
     * @throws IOException if a byte arrived instead.
     */
    public boolean awaitClosed() throws IOException
    {
        try
        {
            final int b = in.read();
            if (b >= 0)
            {
                throw new IOException("expected the server to close, got byte " + b);
            }
            return true;
        }
        catch (final SocketTimeoutException ex)
        {
            return false;
        }
        catch (final EOFException | SocketException ex)
        {
            return true;
        }
    }

    /**
     * Close with a TCP reset instead of a FIN.
     */
    public void abort()
    {
        try
        {
            socket.setSoLinger(true, 0);
        }
        catch (final IOException ignored)
        {
            // closing anyway
        }
        close();
    }

    @Override
    public void close()
    {
        try
        {
            socket.close();
        }
        catch (final IOException ignored)
        {
            // nothing useful to do
        }
    }

    /**
     * @param bytes bytes.
     * @return true if all are zero.
     */
    public static boolean isZero(final byte[] bytes)
    {
        for (final byte b : bytes)
        {
            if (b != 0)
            {
                return false;
            }
        }
        return true;
    }
}
