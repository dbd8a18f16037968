package io.mirra.nbd.server;

import io.mirra.nbd.spi.ExportRegistry;
import io.mirra.nbd.spi.NbdBackend;
import io.mirra.nbd.spi.NbdExport;
import io.mirra.nbd.spi.NbdOpenRefusedException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.concurrent.ScheduledFuture;

import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import static io.mirra.nbd.protocol.NbdProtocol.*;

/**
 * The fixed-newstyle handshake: greeting, client flags, then option haggling until NBD_OPT_GO or
 * NBD_OPT_EXPORT_NAME selects an export, when it installs the transmission handlers and removes itself.
 * <p>
 * Bad input never allocates what the client announces: option data is bounded by {@link #MAX_OPTION_DATA}
 * (longer options are skipped and answered with NBD_REP_ERR_TOO_BIG, or the connection is closed when they are
 * absurdly long), the number of options is bounded, and the whole handshake has a deadline.
 * <p>
 * Selecting an export opens its backend ({@link NbdBackend#open(String)}) for this connection. The opened backend
 * belongs to this handler until the transmission handler takes it over, and is closed here if the connection ends
 * before that (the reply could not be written, say).
 * Not sharable: one instance per connection.
 */
final class NbdHandshakeHandler extends ByteToMessageDecoder
{
    /** Longest option data read into memory: room for a 4096-byte name plus many meta context queries. */
    static final int MAX_OPTION_DATA = 64 * 1024;
    /** Longest option data skipped with an error reply instead of closing the connection. */
    static final long MAX_OPTION_SKIP = 16L * 1024 * 1024;

    private static final System.Logger LOG = System.getLogger(NbdHandshakeHandler.class.getName());

    private enum State
    {
        CLIENT_FLAGS, OPTION_HEADER, OPTION_DATA, SKIP_OPTION, DONE
    }

    private final ExportRegistry exports;
    private final NbdServerContext context;
    private State state = State.CLIENT_FLAGS;
    private boolean noZeroes;
    private boolean structuredReplies;
    private boolean allocationContext;
    private NbdExport allocationContextExport;
    private int optionCount;
    private int option;
    private long optionLength;
    private ScheduledFuture<?> deadline;
    private NbdBackend opened;

    NbdHandshakeHandler(final ExportRegistry exports, final NbdServerContext context)
    {
        this.exports = exports;
        this.context = context;
    }

    @Override
    public void channelActive(final ChannelHandlerContext ctx) throws Exception
    {
        final ByteBuf greeting = ctx.alloc().buffer(18);
        greeting.writeLong(NBDMAGIC).writeLong(IHAVEOPT).writeShort(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
        ctx.writeAndFlush(greeting);
        deadline = ctx.executor().schedule(() ->
        {
            LOG.log(Level.WARNING, "{0}: handshake not finished within {1} ms, closing",
                ctx.channel().remoteAddress(), context.handshakeTimeoutMs());
            ctx.close();
        }, context.handshakeTimeoutMs(), TimeUnit.MILLISECONDS);
        super.channelActive(ctx);
    }

    @Override
    protected void handlerRemoved0(final ChannelHandlerContext ctx)
    {
        cancelDeadline();
        closeOpened(ctx);
    }

    @Override
    public void channelInactive(final ChannelHandlerContext ctx) throws Exception
    {
        cancelDeadline();
        closeOpened(ctx);
        super.channelInactive(ctx);
    }

    @Override
    protected void decode(final ChannelHandlerContext ctx, final ByteBuf in, final List<Object> out)
    {
        while (state != State.DONE && ctx.channel().isActive())
        {
            switch (state)
            {
                case CLIENT_FLAGS:
                    if (in.readableBytes() < 4)
                    {
                        return;
                    }
                    final long clientFlags = in.readUnsignedInt();
                    if ((clientFlags & ~(long)(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)) != 0)
                    {
                        reject(ctx, "unknown client flags 0x" + Long.toHexString(clientFlags));
                        return;
                    }
                    noZeroes = (clientFlags & FLAG_C_NO_ZEROES) != 0;
                    state = State.OPTION_HEADER;
                    break;

                case OPTION_HEADER:
                    if (in.readableBytes() < OPTION_HEADER_LENGTH)
                    {
                        return;
                    }
                    final long magic = in.readLong();
                    option = in.readInt();
                    optionLength = in.readUnsignedInt();
                    if (magic != IHAVEOPT)
                    {
                        reject(ctx, "bad option magic 0x" + Long.toHexString(magic));
                        return;
                    }
                    if (++optionCount > context.maxOptions())
                    {
                        reject(ctx, "more than " + context.maxOptions() + " options in one handshake");
                        return;
                    }
                    if (optionLength > MAX_OPTION_DATA)
                    {
                        if (optionLength > MAX_OPTION_SKIP || option == OPT_EXPORT_NAME)
                        {
                            reject(ctx, optionName(option) + " with " + optionLength + " bytes of data");
                            return;
                        }
                        state = State.SKIP_OPTION;
                        break;
                    }
                    state = State.OPTION_DATA;
                    break;

                case SKIP_OPTION:
                    final int skip = (int)Math.min(in.readableBytes(), optionLength);
                    in.skipBytes(skip);
                    optionLength -= skip;
                    if (optionLength > 0)
                    {
                        return;
                    }
                    replyError(ctx, option, REP_ERR_TOO_BIG, "option data longer than " + MAX_OPTION_DATA + " bytes");
                    state = State.OPTION_HEADER;
                    break;

                case OPTION_DATA:
                    if (in.readableBytes() < optionLength)
                    {
                        return;
                    }
                    final ByteBuf data = in.readSlice((int)optionLength);
                    state = State.OPTION_HEADER;
                    handleOption(ctx, option, data);
                    break;

                default:
                    return;
            }
        }
    }

    private void handleOption(final ChannelHandlerContext ctx, final int option, final ByteBuf data)
    {
        switch (option)
        {
            case OPT_EXPORT_NAME:
                onExportName(ctx, data);
                break;
            case OPT_ABORT:
                // The client may close before reading our ack; that is fine.
                replyAck(ctx, option).addListener(ChannelFutureListener.CLOSE);
                state = State.DONE;
                break;
            case OPT_LIST:
                onList(ctx, data);
                break;
            case OPT_INFO:
            case OPT_GO:
                onInfoOrGo(ctx, option, data);
                break;
            case OPT_STRUCTURED_REPLY:
                if (data.isReadable())
                {
                    replyError(ctx, option, REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
                    break;
                }
                structuredReplies = true;
                replyAck(ctx, option);
                break;
            case OPT_LIST_META_CONTEXT:
            case OPT_SET_META_CONTEXT:
                onMetaContext(ctx, option, data);
                break;
            default:
                replyError(ctx, option, REP_ERR_UNSUP, optionName(option) + " is not supported");
                break;
        }
    }

    private void onExportName(final ChannelHandlerContext ctx, final ByteBuf data)
    {
        final String name = readString(data, data.readableBytes());
        final NbdExport export = name == null ? null : exports.find(name);
        if (export == null)
        {
            // NBD_OPT_EXPORT_NAME has no error reply: the protocol says to disconnect.
            reject(ctx, "NBD_OPT_EXPORT_NAME for unknown export '" + name + "'");
            return;
        }
        final NbdBackend backend = open(ctx, OPT_EXPORT_NAME, export);
        if (backend == null)
        {
            return;
        }
        final ByteBuf reply = ctx.alloc().buffer(10 + 124);
        reply.writeLong(backend.sizeBytes()).writeShort(transmissionFlags(backend));
        if (!noZeroes)
        {
            reply.writeZero(124);
        }
        ctx.writeAndFlush(reply);
        enterTransmission(ctx, export, backend);
    }

    private void onList(final ChannelHandlerContext ctx, final ByteBuf data)
    {
        if (data.isReadable())
        {
            replyError(ctx, OPT_LIST, REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
            return;
        }
        for (final NbdExport export : exports.list())
        {
            final byte[] name = export.name().getBytes(StandardCharsets.UTF_8);
            final byte[] description = export.description().getBytes(StandardCharsets.UTF_8);
            final ByteBuf body = ctx.alloc().buffer(4 + name.length + description.length);
            body.writeInt(name.length).writeBytes(name).writeBytes(description);
            reply(ctx, OPT_LIST, REP_SERVER, body);
        }
        replyAck(ctx, OPT_LIST);
    }

    private void onInfoOrGo(final ChannelHandlerContext ctx, final int option, final ByteBuf data)
    {
        // data: u32 name length, name, u16 number of info requests, u16 each
        if (data.readableBytes() < 6)
        {
            replyError(ctx, option, REP_ERR_INVALID, optionName(option) + ": data shorter than 6 bytes");
            return;
        }
        final long nameLength = data.readUnsignedInt();
        if (nameLength > MAX_STRING_LENGTH || nameLength + 2 > data.readableBytes())
        {
            replyError(ctx, option, REP_ERR_INVALID, optionName(option) + ": bad export name length " + nameLength);
            return;
        }
        final String name = readString(data, (int)nameLength);
        final int requests = data.readUnsignedShort();
        if (name == null || data.readableBytes() != requests * 2)
        {
            replyError(ctx, option, REP_ERR_INVALID, optionName(option) + ": malformed export name or info list");
            return;
        }
        boolean wantName = false;
        boolean wantDescription = false;
        for (int i = 0; i < requests; i++)
        {
            final int info = data.readUnsignedShort();
            wantName |= info == INFO_NAME;
            wantDescription |= info == INFO_DESCRIPTION;
        }
        final NbdExport export = exports.find(name);
        if (export == null)
        {
            replyError(ctx, option, REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return;
        }
        // INFO only describes the export; GO selects it, so the backend decides now whether and how to serve.
        final NbdBackend backend = option == OPT_GO ? open(ctx, OPT_GO, export) : export.backend();
        if (backend == null)
        {
            return;
        }

        final ByteBuf exportInfo = ctx.alloc().buffer(12);
        exportInfo.writeShort(INFO_EXPORT).writeLong(backend.sizeBytes()).writeShort(transmissionFlags(backend));
        reply(ctx, option, REP_INFO, exportInfo);
        if (wantName)
        {
            final byte[] bytes = export.name().getBytes(StandardCharsets.UTF_8);
            reply(ctx, option, REP_INFO, ctx.alloc().buffer(2 + bytes.length).writeShort(INFO_NAME).writeBytes(bytes));
        }
        if (wantDescription && !export.description().isEmpty())
        {
            final byte[] bytes = export.description().getBytes(StandardCharsets.UTF_8);
            reply(ctx, option, REP_INFO,
                ctx.alloc().buffer(2 + bytes.length).writeShort(INFO_DESCRIPTION).writeBytes(bytes));
        }
        // Sent whether asked or not: mirra accepts any alignment (minimum 1) and up to the 32 MiB payload maximum.
        final ByteBuf blockSize = ctx.alloc().buffer(14);
        blockSize.writeShort(INFO_BLOCK_SIZE).writeInt(1).writeInt(backend.preferredBlockSize())
            .writeInt(MAX_PAYLOAD_LENGTH);
        reply(ctx, option, REP_INFO, blockSize);
        replyAck(ctx, option);
        if (option == OPT_GO)
        {
            enterTransmission(ctx, export, backend);
        }
    }

    /**
     * Open the export's backend for this connection. On refusal, reply the backend's error (GO: haggling goes on)
     * or close the connection (EXPORT_NAME has no error reply).
     *
     * @return the backend serving this connection, or null if refused.
     */
    private NbdBackend open(final ChannelHandlerContext ctx, final int option, final NbdExport export)
    {
        final String client = clientName(ctx.channel().remoteAddress());
        try
        {
            opened = Objects.requireNonNull(export.backend().open(client), "NbdBackend.open returned null");
            return opened;
        }
        catch (final NbdOpenRefusedException ex)
        {
            final String why = optionName(option) + " for export '" + export.name() + "' refused by the backend: " +
                ex.getMessage();
            if (option == OPT_EXPORT_NAME)
            {
                reject(ctx, why);
            }
            else
            {
                LOG.log(Level.INFO, "{0}: {1}", client, why);
                sendError(ctx, option, ex.nbdError(), ex.getMessage());
            }
        }
        catch (final RuntimeException ex)
        {
            // A bug in the backend: do not guess what it wanted, end this connection and keep serving others.
            LOG.log(Level.ERROR, client + ": opening export '" + export.name() + "' failed; closing", ex);
            state = State.DONE;
            ctx.close();
        }
        return null;
    }

    private void closeOpened(final ChannelHandlerContext ctx)
    {
        final NbdBackend backend = opened;
        if (backend != null)
        {
            opened = null;
            closeBackend(backend, ctx.channel().remoteAddress());
        }
    }

    /**
     * Close a backend opened for a connection; never throws (the connection is over either way).
     *
     * @param backend what {@link NbdBackend#open(String)} returned.
     * @param client  the connection's remote address, for the log line.
     */
    static void closeBackend(final NbdBackend backend, final SocketAddress client)
    {
        try
        {
            backend.close();
        }
        catch (final RuntimeException ex)
        {
            LOG.log(Level.WARNING, clientName(client) + ": closing the export's backend failed", ex);
        }
    }

    /**
     * @param address a remote address.
     * @return {@code host:port} ({@code [addr]:port} for IPv6), or the address's own text if not IP.
     */
    static String clientName(final SocketAddress address)
    {
        if (address instanceof InetSocketAddress)
        {
            final InetSocketAddress inet = (InetSocketAddress)address;
            final String host = inet.getAddress() == null ? inet.getHostString() : inet.getAddress().getHostAddress();
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + inet.getPort();
        }
        return String.valueOf(address);
    }

    private void onMetaContext(final ChannelHandlerContext ctx, final int option, final ByteBuf data)
    {
        final boolean set = option == OPT_SET_META_CONTEXT;
        if (set)
        {
            // A SET replaces the previous selection even when it fails.
            allocationContext = false;
            allocationContextExport = null;
        }
        if (set && !structuredReplies)
        {
            replyError(ctx, option, REP_ERR_INVALID, "NBD_OPT_SET_META_CONTEXT needs NBD_OPT_STRUCTURED_REPLY first");
            return;
        }
        // data: u32 export name length, name, u32 number of queries, then u32 length + query each
        if (data.readableBytes() < 8)
        {
            replyError(ctx, option, REP_ERR_INVALID, optionName(option) + ": data shorter than 8 bytes");
            return;
        }
        final long nameLength = data.readUnsignedInt();
        if (nameLength > MAX_STRING_LENGTH || nameLength + 4 > data.readableBytes())
        {
            replyError(ctx, option, REP_ERR_INVALID, optionName(option) + ": bad export name length " + nameLength);
            return;
        }
        final String name = readString(data, (int)nameLength);
        final long queries = data.readUnsignedInt();
        if (name == null)
        {
            replyError(ctx, option, REP_ERR_INVALID, optionName(option) + ": export name is not UTF-8");
            return;
        }
        final NbdExport export = exports.find(name);
        if (export == null)
        {
            replyError(ctx, option, REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return;
        }
        // Validate every query before answering any, so a malformed option has no partial effect.
        final int start = data.readerIndex();
        for (long i = 0; i < queries; i++)
        {
            if (data.readableBytes() < 4)
            {
                replyError(ctx, option, REP_ERR_INVALID, optionName(option) + ": truncated query list");
                return;
            }
            final long length = data.readUnsignedInt();
            if (length > MAX_STRING_LENGTH || length > data.readableBytes())
            {
                replyError(ctx, option, REP_ERR_INVALID, optionName(option) + ": bad query length " + length);
                return;
            }
            data.skipBytes((int)length);
        }
        if (data.isReadable())
        {
            replyError(ctx, option, REP_ERR_INVALID, optionName(option) + ": trailing bytes after queries");
            return;
        }
        data.readerIndex(start);
        boolean matched = queries == 0 && !set; // an empty LIST means "everything you have"
        for (long i = 0; i < queries; i++)
        {
            final int length = (int)data.readUnsignedInt();
            final String query = readString(data, length);
            if (CONTEXT_BASE_ALLOCATION.equals(query) || (!set && "base:".equals(query)))
            {
                matched = true;
            }
        }
        if (set)
        {
            allocationContext = matched;
            allocationContextExport = export;
        }
        if (matched)
        {
            final byte[] bytes = CONTEXT_BASE_ALLOCATION.getBytes(StandardCharsets.US_ASCII);
            reply(ctx, option, REP_META_CONTEXT,
                ctx.alloc().buffer(4 + bytes.length).writeInt(set ? CONTEXT_ID_BASE_ALLOCATION : 0).writeBytes(bytes));
        }
        replyAck(ctx, option);
    }

    private int transmissionFlags(final NbdBackend backend)
    {
        int flags = TF_HAS_FLAGS | TF_SEND_FLUSH | TF_SEND_FUA | TF_CAN_MULTI_CONN;
        if (backend.isReadOnly())
        {
            flags |= TF_READ_ONLY;
        }
        else
        {
            flags |= TF_SEND_WRITE_ZEROES | TF_SEND_FAST_ZERO;
            if (backend.canTrim())
            {
                flags |= TF_SEND_TRIM;
            }
        }
        if (structuredReplies)
        {
            flags |= TF_SEND_DF;
        }
        return flags;
    }

    private void enterTransmission(final ChannelHandlerContext ctx, final NbdExport export, final NbdBackend backend)
    {
        state = State.DONE;
        cancelDeadline();
        // Contexts selected for another export do not apply (the client must SET_META_CONTEXT the export it GOes to).
        final NbdSession session = new NbdSession(export, backend, structuredReplies,
            structuredReplies && allocationContext && allocationContextExport == export);
        LOG.log(Level.DEBUG, "{0}: transmission on export ''{1}'' (structured replies {2}, base:allocation {3})",
            ctx.channel().remoteAddress(), export.name(), session.structuredReplies(), session.allocationContext());
        final NbdTransmissionHandler transmission = new NbdTransmissionHandler(session, context);
        ctx.pipeline().addAfter(ctx.name(), "nbd-requests", new NbdRequestDecoder(transmission.requestPool()));
        ctx.pipeline().addAfter("nbd-requests", "nbd-transmission", transmission);
        opened = null; // the transmission handler closes it from now on
        // Removal hands any bytes the client already pipelined to the request decoder.
        ctx.pipeline().remove(this);
    }

    private void reject(final ChannelHandlerContext ctx, final String why)
    {
        LOG.log(Level.WARNING, "{0}: handshake refused: {1}; closing", ctx.channel().remoteAddress(), why);
        state = State.DONE;
        ctx.close();
    }

    private void replyError(final ChannelHandlerContext ctx, final int option, final int error, final String message)
    {
        LOG.log(Level.DEBUG, "{0}: {1} refused: {2}", ctx.channel().remoteAddress(), optionName(option), message);
        sendError(ctx, option, error, message);
    }

    private static void sendError(final ChannelHandlerContext ctx, final int option, final int error,
        final String message)
    {
        final byte[] bytes = messageBytes(message);
        reply(ctx, option, error, ctx.alloc().buffer(bytes.length).writeBytes(bytes));
        ctx.flush();
    }

    private io.netty.channel.ChannelFuture replyAck(final ChannelHandlerContext ctx, final int option)
    {
        final io.netty.channel.ChannelFuture future = reply(ctx, option, REP_ACK, null);
        ctx.flush();
        return future;
    }

    private static io.netty.channel.ChannelFuture reply(
        final ChannelHandlerContext ctx, final int option, final int type, final ByteBuf body)
    {
        final int length = body == null ? 0 : body.readableBytes();
        final ByteBuf header = ctx.alloc().buffer(OPTION_REPLY_HEADER_LENGTH);
        header.writeLong(OPTION_REPLY_MAGIC).writeInt(option).writeInt(type).writeInt(length);
        if (body == null)
        {
            return ctx.write(header);
        }
        ctx.write(header);
        return ctx.write(body);
    }

    /** Decode UTF-8 strictly; null if the bytes are not valid UTF-8 or contain NUL. */
    private static String readString(final ByteBuf data, final int length)
    {
        final ByteBuf slice = data.readSlice(length);
        try
        {
            final String s = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(slice.nioBuffer()).toString();
            return s.indexOf('\0') >= 0 ? null : s;
        }
        catch (final CharacterCodingException ex)
        {
            return null;
        }
    }

    private void cancelDeadline()
    {
        if (deadline != null)
        {
            deadline.cancel(false);
            deadline = null;
        }
    }

    @Override
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        LOG.log(Level.WARNING, "{0}: handshake failed: {1}; closing", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
