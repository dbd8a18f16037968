package io.mirra.nbd.server;

import io.mirra.nbd.spi.NbdBackend;
import io.mirra.nbd.spi.NbdRequest;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.internal.PlatformDependent;

import java.lang.System.Logger.Level;
import java.util.Queue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

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
 * <p>
 * End: when the channel closes (after NBD_CMD_DISC, by the client, or by the server), requests still arriving are
 * dropped, and once every request submitted to the backend was completed (or abandoned, when the event loop stopped
 * first) the connection's backend is closed, exactly once ({@link NbdBackend#close()}).
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
    /** Requests submitted to the backend and not yet drained or abandoned; atomic as abandoning is off the loop. */
    private final AtomicInteger outstanding = new AtomicInteger();
    private final AtomicBoolean backendClosed = new AtomicBoolean();
    /** The channel closed (or its event loop stopped): nothing more is submitted. */
    private volatile boolean ended;
    private ChannelHandlerContext ctx;
    private int inFlightRequests;
    private long inFlightBytes;
    private boolean paused;
    private boolean disconnecting;
    private boolean needsFlush;

    NbdTransmissionHandler(final NbdSession session, final NbdServerContext context)
    {
        this.session = session;
        this.backend = session.backend();
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
        // The close future rather than channelInactive: it also fires (at once) for a channel closed before this
        // handler was added, and before the request decoder hands on requests it still had buffered at close.
        ctx.channel().closeFuture().addListener(f -> onChannelClosed());
    }

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        final NbdRequest request = (NbdRequest)msg;
        if (disconnecting || ended)
        {
            recycle(request); // the protocol forbids requests after NBD_CMD_DISC; after close, nobody gets a reply
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
        outstanding.incrementAndGet();
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
        ended = true; // the event loop is gone, so is the connection (normally its close already said so)
        do
        {
            int released = 0;
            NbdRequest request;
            while ((request = completed.poll()) != null)
            {
                releaseBuffers(request);
                released++;
            }
            outstanding.addAndGet(-released);
            drainScheduled.set(false);
        }
        // another thread may have queued after our last poll and seen drainScheduled still set: take its turn
        while (!completed.isEmpty() && drainScheduled.compareAndSet(false, true));
        closeBackendIfDone();
    }

    private void onChannelClosed()
    {
        ended = true;
        closeBackendIfDone();
    }

    /**
     * Close the backend once the connection ended and no request is left with it. Called after each change of either
     * condition, from the event loop or (abandoning) a backend thread; both sides write their condition before
     * reading the other's, so whichever changes the last one sees both, and the flag makes it happen once.
     */
    private void closeBackendIfDone()
    {
        if (ended && outstanding.get() == 0 && backendClosed.compareAndSet(false, true))
        {
            NbdHandshakeHandler.closeBackend(backend, ctx.channel().remoteAddress());
        }
    }

    private void drainCompleted()
    {
        drainScheduled.set(false); // before polling, so a completion racing with this drain schedules another
        final boolean active = ctx.channel().isActive();
        int drained = 0;
        NbdRequest request;
        while ((request = completed.poll()) != null)
        {
            drained++;
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
        outstanding.addAndGet(-drained);
        flushIfNeeded();
        updateReading();
        closeIfIdle();
        closeBackendIfDone();
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
            // The message tells the client why (a refusal from the validator or the backend's own explanation).
            final byte[] bytes = messageBytes(request.errorMessage());
            final int length = bytes.length;
            final ByteBuf chunk = ctx.alloc().directBuffer(STRUCTURED_REPLY_HEADER_LENGTH + 6 + length);
            writeChunkHeader(chunk, REPLY_TYPE_ERROR, request.cookie(), 6 + length);
            chunk.writeInt(errno).writeShort(length).writeBytes(bytes);
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
