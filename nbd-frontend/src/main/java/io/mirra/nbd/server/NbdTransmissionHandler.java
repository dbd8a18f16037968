package io.mirra.nbd.server;

import io.mirra.nbd.spi.NbdBackend;
import io.mirra.nbd.spi.NbdRequest;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.internal.PlatformDependent;

import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.util.Queue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

import static io.mirra.nbd.protocol.NbdProtocol.*;

/**
 * The transmission phase of one connection: validates each request, hands it to the backend, and writes replies in
 * completion order (requests run concurrently; the protocol lets replies come in any order).
 * <p>
 * Threading: requests arrive on the event loop; backends complete them on their own threads into an MPSC queue that
 * one reusable task drains on the event loop, writing every ready reply and flushing once per batch.
 * <p>
 * Back-pressure: when the requests or payload bytes in flight exceed their bounds, or replies pile up in the outbound
 * buffer because the client does not read them (the channel is not writable), the connection stops reading and
 * decoding (TCP then pushes back on the client) until half of the work has completed and the replies have drained.
 * Not sharable.
 */
final class NbdTransmissionHandler extends ChannelInboundHandlerAdapter implements NbdRequest.Completion
{
    private static final System.Logger LOG = System.getLogger(NbdTransmissionHandler.class.getName());

    private final NbdSession session;
    private final NbdBackend backend;
    private final NbdRequestPool pool;
    private final int maxInFlightRequests;
    private final long maxInFlightBytes;
    private final Queue<NbdRequest> completed = PlatformDependent.newMpscQueue();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private final Runnable drainTask = this::drainCompleted;
    private ChannelHandlerContext ctx;
    private int inFlightRequests;
    private long inFlightBytes;
    private boolean paused;
    private boolean disconnecting;
    private boolean needsFlush;

    NbdTransmissionHandler(final NbdSession session, final NbdServerContext context)
    {
        this.session = session;
        this.backend = session.export().backend();
        this.maxInFlightRequests = context.maxInFlightRequests();
        this.maxInFlightBytes = context.maxInFlightBytes();
        this.pool = new NbdRequestPool(this, context.maxInFlightRequests() * 2);
    }

    NbdRequestPool requestPool()
    {
        return pool;
    }

    @Override
    public void handlerAdded(final ChannelHandlerContext ctx)
    {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        final NbdRequest request = (NbdRequest)msg;
        if (disconnecting)
        {
            recycle(request); // the protocol forbids requests after NBD_CMD_DISC; drop them
            return;
        }
        if (request.type() == CMD_DISC)
        {
            disconnecting = true;
            recycle(request);
            closeIfIdle();
            return;
        }
        if (!NbdRequestValidator.validate(request, session))
        {
            writeReply(request);
            recycle(request);
            return;
        }
        final long bytes = request.type() == CMD_READ || request.type() == CMD_WRITE ? request.lengthBytes() : 0;
        inFlightRequests++;
        inFlightBytes += bytes;
        switch (request.type())
        {
            case CMD_READ:
                request.readTarget(ctx.alloc().directBuffer((int)request.lengthBytes()));
                break;
            case CMD_BLOCK_STATUS:
                request.maxExtents(request.hasFlag(CMD_FLAG_REQ_ONE) ? 1 : NbdRequest.MAX_EXTENTS);
                break;
            default:
                break;
        }
        updateReading();
        backend.submit(request);
    }

    @Override
    public void channelReadComplete(final ChannelHandlerContext ctx)
    {
        flushIfNeeded();
    }

    /**
     * {@inheritDoc}
     * <p>
     * Called by backends on any thread.
     */
    @Override
    public void onComplete(final NbdRequest request)
    {
        completed.offer(request);
        if (drainScheduled.compareAndSet(false, true))
        {
            try
            {
                ctx.executor().execute(drainTask);
            }
            catch (final RejectedExecutionException ex)
            {
                // The event loop is gone (the server closed while the backend still worked): nobody will drain the
                // queue, and the connection is closed, so release the buffers here. The pool belongs to the dead loop.
                releaseAbandoned();
            }
        }
    }

    private void releaseAbandoned()
    {
        do
        {
            NbdRequest request;
            while ((request = completed.poll()) != null)
            {
                releaseBuffers(request);
            }
            drainScheduled.set(false);
        }
        // another thread may have queued after our last poll and seen drainScheduled still set: take its turn
        while (!completed.isEmpty() && drainScheduled.compareAndSet(false, true));
    }

    private void drainCompleted()
    {
        drainScheduled.set(false); // before polling, so a completion racing with this drain schedules another
        final boolean active = ctx.channel().isActive();
        NbdRequest request;
        while ((request = completed.poll()) != null)
        {
            inFlightRequests--;
            if (request.type() == CMD_READ || request.type() == CMD_WRITE)
            {
                inFlightBytes -= request.lengthBytes();
            }
            if (request.errno() != 0)
            {
                LOG.log(request.errno() == EIO || request.errno() == ENOSPC ? Level.WARNING : Level.DEBUG,
                    "{0}: {1} failed: {2}", ctx.channel().remoteAddress(), request, request.errorMessage());
            }
            if (active)
            {
                writeReply(request);
            }
            recycle(request);
        }
        flushIfNeeded();
        updateReading();
        closeIfIdle();
    }

    @Override
    public void channelWritabilityChanged(final ChannelHandlerContext ctx)
    {
        updateReading();
        ctx.fireChannelWritabilityChanged();
    }

    /** Pause reading past any bound; resume once half the work is done and the replies have drained. */
    private void updateReading()
    {
        final boolean writable = ctx.channel().isWritable();
        if (!paused)
        {
            if (inFlightRequests >= maxInFlightRequests || inFlightBytes >= maxInFlightBytes || !writable)
            {
                paused = true;
                ctx.channel().config().setAutoRead(false);
            }
        }
        else if (writable && inFlightRequests <= maxInFlightRequests / 2 && inFlightBytes <= maxInFlightBytes / 2)
        {
            paused = false;
            ctx.channel().config().setAutoRead(true);
        }
    }

    private void closeIfIdle()
    {
        if (disconnecting && inFlightRequests == 0)
        {
            flushIfNeeded();
            ctx.close();
        }
    }

    private void writeReply(final NbdRequest request)
    {
        needsFlush = true;
        final int errno = request.errno();
        if (!session.structuredReplies())
        {
            final ByteBuf header = ctx.alloc().directBuffer(SIMPLE_REPLY_HEADER_LENGTH);
            header.writeInt(SIMPLE_REPLY_MAGIC).writeInt(errno).writeLong(request.cookie());
            ctx.write(header, ctx.voidPromise());
            if (errno == 0 && request.type() == CMD_READ)
            {
                writeReadData(request);
            }
            return;
        }
        if (errno != 0)
        {
            final String message = request.errorMessage() == null ? "" : request.errorMessage();
            final byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
            final int length = Math.min(bytes.length, MAX_STRING_LENGTH);
            final ByteBuf chunk = ctx.alloc().directBuffer(STRUCTURED_REPLY_HEADER_LENGTH + 6 + length);
            writeChunkHeader(chunk, REPLY_TYPE_ERROR, request.cookie(), 6 + length);
            chunk.writeInt(errno).writeShort(length).writeBytes(bytes, 0, length);
            ctx.write(chunk, ctx.voidPromise());
            return;
        }
        switch (request.type())
        {
            case CMD_READ:
            {
                final ByteBuf header = ctx.alloc().directBuffer(STRUCTURED_REPLY_HEADER_LENGTH + 8);
                writeChunkHeader(header, REPLY_TYPE_OFFSET_DATA, request.cookie(), 8 + request.lengthBytes());
                header.writeLong(request.offsetBytes());
                ctx.write(header, ctx.voidPromise());
                writeReadData(request);
                break;
            }
            case CMD_BLOCK_STATUS:
            {
                final int count = request.extentCount();
                final ByteBuf chunk = ctx.alloc().directBuffer(STRUCTURED_REPLY_HEADER_LENGTH + 4 + 8 * count);
                writeChunkHeader(chunk, REPLY_TYPE_BLOCK_STATUS, request.cookie(), 4 + 8L * count);
                chunk.writeInt(CONTEXT_ID_BASE_ALLOCATION);
                for (int i = 0; i < count; i++)
                {
                    chunk.writeInt(request.extentLength(i)).writeInt(request.extentFlags(i));
                }
                ctx.write(chunk, ctx.voidPromise());
                break;
            }
            default:
            {
                final ByteBuf chunk = ctx.alloc().directBuffer(STRUCTURED_REPLY_HEADER_LENGTH);
                writeChunkHeader(chunk, REPLY_TYPE_NONE, request.cookie(), 0);
                ctx.write(chunk, ctx.voidPromise());
                break;
            }
        }
    }

    private void writeReadData(final NbdRequest request)
    {
        final ByteBuf data = request.readTarget();
        request.readTarget(null); // ownership passes to the channel, which releases it once written
        data.writerIndex((int)request.lengthBytes());
        ctx.write(data, ctx.voidPromise());
    }

    private static void writeChunkHeader(final ByteBuf buf, final int type, final long cookie, final long length)
    {
        buf.writeInt(STRUCTURED_REPLY_MAGIC).writeShort(REPLY_FLAG_DONE).writeShort(type).writeLong(cookie)
            .writeInt((int)length);
    }

    private void flushIfNeeded()
    {
        if (needsFlush)
        {
            needsFlush = false;
            ctx.flush();
        }
    }

    private void recycle(final NbdRequest request)
    {
        releaseBuffers(request);
        pool.release(request);
    }

    private static void releaseBuffers(final NbdRequest request)
    {
        if (request.payload() != null)
        {
            request.payload().release();
            request.payload(null);
        }
        if (request.readTarget() != null)
        {
            request.readTarget().release();
            request.readTarget(null);
        }
    }

    @Override
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        LOG.log(Level.WARNING, "{0}: connection failed: {1}; closing", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
