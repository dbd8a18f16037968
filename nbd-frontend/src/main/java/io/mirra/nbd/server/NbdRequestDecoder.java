package io.mirra.nbd.server;

import io.mirra.nbd.spi.NbdRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;

import java.lang.System.Logger.Level;

import static io.mirra.nbd.protocol.NbdProtocol.*;

/**
 * Splits the transmission-phase byte stream into {@link NbdRequest}s, without copying write payloads.
 * <p>
 * Netty's {@code ByteToMessageDecoder} copies its cumulation whenever a retained slice of it is still in use, which
 * is always the case here (payloads wait for the disk). This decoder instead keeps each payload as retained slices
 * of the buffers the socket filled: one slice when the payload arrived in one read, a composite of slices otherwise.
 * Only a payload that arrives in pathologically many tiny pieces is copied, into a buffer that grows with what was
 * received, never with what the header announced.
 * <p>
 * Bad input: a wrong request magic closes the connection (the stream can no longer be framed); a write longer than
 * the maximum payload is skipped without being stored and completed with EOVERFLOW.
 * <p>
 * Back-pressure: when the next handler turns auto-read off (too much in flight), no further request is decoded, not
 * even from bytes already received; they are kept until it turns auto-read on again (which calls {@link #read}).
 * Not sharable: one instance per connection, used only on its event loop.
 */
final class NbdRequestDecoder extends ChannelDuplexHandler
{
    /** Payload pieces kept as a zero-copy composite before switching to copying. */
    static final int MAX_PAYLOAD_COMPONENTS = 256;

    private static final System.Logger LOG = System.getLogger(NbdRequestDecoder.class.getName());

    private enum State
    {
        HEADER, PAYLOAD, DISCARD, BROKEN
    }

    private final NbdRequestPool pool;
    private State state = State.HEADER;
    private ByteBuf partialHeader;
    private NbdRequest current;
    private long remaining;
    private ByteBuf payload;
    private ByteBuf stalled;
    private boolean resumeScheduled;

    NbdRequestDecoder(final NbdRequestPool pool)
    {
        this.pool = pool;
    }

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        final ByteBuf in = (ByteBuf)msg;
        if (stalled != null)
        {
            // Reads are off while stalled, so this is rare: keep the order by queueing behind the stalled bytes.
            stalled = ctx.alloc().compositeBuffer(2).addComponents(true, stalled, in);
            return;
        }
        decode(ctx, in);
    }

    private void decode(final ChannelHandlerContext ctx, final ByteBuf in)
    {
        try
        {
            while (in.isReadable() && state != State.BROKEN)
            {
                switch (state)
                {
                    case HEADER:
                        if (!ctx.channel().config().isAutoRead())
                        {
                            stalled = in.retain(); // paused: decode no further request until read() resumes
                            return;
                        }
                        decodeHeader(ctx, in);
                        break;
                    case PAYLOAD:
                        decodePayload(ctx, in);
                        break;
                    case DISCARD:
                        final int skip = (int)Math.min(in.readableBytes(), remaining);
                        in.skipBytes(skip);
                        remaining -= skip;
                        if (remaining == 0)
                        {
                            emit(ctx);
                        }
                        break;
                    default:
                        return;
                }
            }
        }
        finally
        {
            in.release();
        }
    }

    /** Auto-read was turned back on (or a read requested): first decode what is stalled, then read the socket. */
    @Override
    public void read(final ChannelHandlerContext ctx)
    {
        if (stalled == null)
        {
            ctx.read();
        }
        else if (!resumeScheduled)
        {
            resumeScheduled = true; // later, not from inside the handler that turned auto-read on
            ctx.executor().execute(() -> resume(ctx));
        }
    }

    private void resume(final ChannelHandlerContext ctx)
    {
        resumeScheduled = false;
        final ByteBuf in = stalled;
        if (in == null)
        {
            return; // released by a close meanwhile
        }
        stalled = null;
        decode(ctx, in);
        ctx.fireChannelReadComplete();
        if (stalled == null && ctx.channel().config().isAutoRead())
        {
            ctx.read();
        }
    }

    private void decodeHeader(final ChannelHandlerContext ctx, final ByteBuf in)
    {
        final ByteBuf header;
        if (partialHeader == null && in.readableBytes() >= REQUEST_HEADER_LENGTH)
        {
            header = in;
        }
        else
        {
            if (partialHeader == null)
            {
                partialHeader = ctx.alloc().heapBuffer(REQUEST_HEADER_LENGTH, REQUEST_HEADER_LENGTH);
            }
            partialHeader.writeBytes(in, Math.min(in.readableBytes(), partialHeader.writableBytes()));
            if (partialHeader.isWritable())
            {
                return;
            }
            header = partialHeader;
        }

        final int magic = header.readInt();
        final int flags = header.readUnsignedShort();
        final int type = header.readUnsignedShort();
        final long cookie = header.readLong();
        final long offset = header.readLong();
        final long length = header.readUnsignedInt();
        releasePartialHeader();
        if (magic != REQUEST_MAGIC)
        {
            state = State.BROKEN;
            LOG.log(Level.WARNING, "{0}: bad request magic 0x{1}; closing", ctx.channel().remoteAddress(),
                Integer.toHexString(magic));
            ctx.close();
            return;
        }

        current = pool.acquire().reset(type, flags, cookie, offset, length);
        if (type != CMD_WRITE)
        {
            emit(ctx);
        }
        else if (length > MAX_PAYLOAD_LENGTH)
        {
            current.fail(EOVERFLOW, "write of " + length + " bytes exceeds the maximum payload of " +
                MAX_PAYLOAD_LENGTH);
            remaining = length;
            state = State.DISCARD;
        }
        else if (length == 0)
        {
            current.payload(Unpooled.EMPTY_BUFFER);
            emit(ctx);
        }
        else
        {
            remaining = length;
            state = State.PAYLOAD;
        }
    }

    private void decodePayload(final ChannelHandlerContext ctx, final ByteBuf in)
    {
        final int take = (int)Math.min(in.readableBytes(), remaining);
        remaining -= take;
        if (payload == null && remaining == 0)
        {
            payload = in.readRetainedSlice(take); // the common case: the whole payload in one read, no copy
        }
        else if (payload == null)
        {
            final CompositeByteBuf composite = ctx.alloc().compositeDirectBuffer(MAX_PAYLOAD_COMPONENTS);
            composite.addComponent(true, in.readRetainedSlice(take));
            payload = composite;
        }
        else if (payload instanceof CompositeByteBuf && ((CompositeByteBuf)payload).numComponents() <
            MAX_PAYLOAD_COMPONENTS - 1)
        {
            ((CompositeByteBuf)payload).addComponent(true, in.readRetainedSlice(take));
        }
        else
        {
            if (payload instanceof CompositeByteBuf)
            {
                // Too many tiny pieces: copy into a buffer sized by what arrived (grows as more arrives).
                final int total = payload.readableBytes() + take + (int)remaining;
                final ByteBuf copy = ctx.alloc().directBuffer(Math.min(total, payload.readableBytes() * 2), total);
                copy.writeBytes(payload);
                payload.release();
                payload = copy;
            }
            payload.writeBytes(in, take);
        }
        if (remaining == 0)
        {
            current.payload(payload);
            payload = null;
            emit(ctx);
        }
    }

    private void emit(final ChannelHandlerContext ctx)
    {
        final NbdRequest request = current;
        current = null;
        state = State.HEADER;
        ctx.fireChannelRead(request);
    }

    private void releasePartialHeader()
    {
        if (partialHeader != null)
        {
            partialHeader.release();
            partialHeader = null;
        }
    }

    @Override
    public void handlerRemoved(final ChannelHandlerContext ctx)
    {
        releasePartialHeader();
        if (stalled != null)
        {
            stalled.release();
            stalled = null;
        }
        if (payload != null)
        {
            payload.release();
            payload = null;
        }
        state = State.BROKEN;
    }

    @Override
    public void channelInactive(final ChannelHandlerContext ctx) throws Exception
    {
        handlerRemoved(ctx);
        super.channelInactive(ctx);
    }
}
