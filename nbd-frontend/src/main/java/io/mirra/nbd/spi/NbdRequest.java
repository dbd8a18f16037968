package io.mirra.nbd.spi;

import io.mirra.nbd.protocol.NbdProtocol;
import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;
import java.util.function.Consumer;

/**
 * One transmission-phase request, handed to an {@link NbdBackend} and completed by it.
 * <p>
 * Instances are pooled per connection and reused: a backend must not keep a reference after it called
 * {@link #complete(int, String)}. The frontend owns the buffers: the write payload ({@link #payload()}) is a
 * retained slice of the bytes received from the socket, and the read target ({@link #readTarget()}) is a pooled
 * direct buffer the backend fills; both are released by the frontend after the reply is written.
 * <p>
 * Threading: fields are written by the event loop before {@link NbdBackend#submit(NbdRequest)}, then belong to the
 * backend until {@code complete}, which may be called from any thread; the queue that carries the completion back
 * to the event loop publishes the writes safely.
 */
public final class NbdRequest implements Runnable
{
    /** Most block status descriptors mirra returns in one reply. */
    public static final int MAX_EXTENTS = 1024;

    private final Completion completion;
    private final int[] extents = new int[MAX_EXTENTS * 2];
    private int type;
    private int flags;
    private long cookie;
    private long offsetBytes;
    private long lengthBytes;
    private ByteBuf payload;
    private ByteBuf readTarget;
    private int extentCount;
    private int maxExtents;
    private int errno;
    private String errorMessage;
    private Consumer<NbdRequest> executor;

    /**
     * Receives requests as backends complete them.
     */
    @FunctionalInterface
    public interface Completion
    {
        /**
         * Called once per submitted request, on the thread that completed it.
         *
         * @param request the completed request, with {@link #errno()} set.
         */
        void onComplete(NbdRequest request);
    }

    /**
     * @param completion where {@link #complete(int, String)} delivers this request.
     */
    public NbdRequest(final Completion completion)
    {
        this.completion = completion;
    }

    /**
     * Fill in a decoded request header; clears every other field.
     *
     * @param type        command type.
     * @param flags       command flags.
     * @param cookie      client's opaque handle.
     * @param offsetBytes offset (unsigned 64 on the wire; negative here means beyond 2^63).
     * @param lengthBytes length (unsigned 32 on the wire).
     * @return this.
     */
    public NbdRequest reset(final int type, final int flags, final long cookie, final long offsetBytes,
        final long lengthBytes)
    {
        this.type = type;
        this.flags = flags;
        this.cookie = cookie;
        this.offsetBytes = offsetBytes;
        this.lengthBytes = lengthBytes;
        this.payload = null;
        this.readTarget = null;
        this.extentCount = 0;
        this.maxExtents = MAX_EXTENTS;
        this.errno = 0;
        this.errorMessage = null;
        this.executor = null;
        return this;
    }

    /** @return the command type ({@code NbdProtocol.CMD_*}). */
    public int type()
    {
        return type;
    }

    /** @return the command flags ({@code NbdProtocol.CMD_FLAG_*}). */
    public int flags()
    {
        return flags;
    }

    /**
     * @param flag one {@code NbdProtocol.CMD_FLAG_*} bit.
     * @return true if that flag is set.
     */
    public boolean hasFlag(final int flag)
    {
        return (flags & flag) != 0;
    }

    /** @return the client's opaque handle, echoed in the reply. */
    public long cookie()
    {
        return cookie;
    }

    /** @return the byte offset in the export. */
    public long offsetBytes()
    {
        return offsetBytes;
    }

    /** @return the length in bytes. */
    public long lengthBytes()
    {
        return lengthBytes;
    }

    /** @return the write payload (a retained slice, possibly composite), or null. */
    public ByteBuf payload()
    {
        return payload;
    }

    /**
     * @param payload the write payload; ownership passes to this request.
     * @return this.
     */
    public NbdRequest payload(final ByteBuf payload)
    {
        this.payload = payload;
        return this;
    }

    /** @return the buffer a read fills, or null. */
    public ByteBuf readTarget()
    {
        return readTarget;
    }

    /**
     * @param readTarget the buffer a read fills (writerIndex 0, capacity at least the length); owned by this request.
     * @return this.
     */
    public NbdRequest readTarget(final ByteBuf readTarget)
    {
        this.readTarget = readTarget;
        return this;
    }

    /**
     * @return the write payload as NIO buffers (one per contiguous component), for positional writes without a copy.
     */
    public ByteBuffer[] payloadBuffers()
    {
        return payload.nioBuffers(payload.readerIndex(), payload.readableBytes());
    }

    /**
     * @return the read target as one NIO buffer covering exactly {@link #lengthBytes()}.
     */
    public ByteBuffer readBuffer()
    {
        return readTarget.nioBuffer(0, (int)lengthBytes);
    }

    /**
     * @return how many block status descriptors the reply may carry (1 with REQ_ONE).
     */
    public int maxExtents()
    {
        return maxExtents;
    }

    /**
     * @param maxExtents how many descriptors the reply may carry, at most {@link #MAX_EXTENTS}.
     */
    public void maxExtents(final int maxExtents)
    {
        this.maxExtents = Math.min(MAX_EXTENTS, maxExtents);
    }

    /**
     * Append a block status descriptor (base:allocation).
     *
     * @param lengthBytes run length, at most 2^32-1.
     * @param stateFlags  {@link NbdProtocol#STATE_HOLE} / {@link NbdProtocol#STATE_ZERO}.
     * @return true if more descriptors may follow.
     */
    public boolean addExtent(final long lengthBytes, final int stateFlags)
    {
        if (extentCount >= maxExtents)
        {
            return false;
        }
        extents[extentCount * 2] = (int)lengthBytes;
        extents[extentCount * 2 + 1] = stateFlags;
        extentCount++;
        return extentCount < maxExtents;
    }

    /** @return the number of descriptors added. */
    public int extentCount()
    {
        return extentCount;
    }

    /**
     * @param index descriptor index.
     * @return its length (unsigned 32 bits as an int).
     */
    public int extentLength(final int index)
    {
        return extents[index * 2];
    }

    /**
     * @param index descriptor index.
     * @return its state flags.
     */
    public int extentFlags(final int index)
    {
        return extents[index * 2 + 1];
    }

    /** @return 0 on success, else the NBD error code. */
    public int errno()
    {
        return errno;
    }

    /** @return a message explaining the error, or null. */
    public String errorMessage()
    {
        return errorMessage;
    }

    /**
     * Set the blocking work this request runs when a disk thread calls {@link #run()}. Used by backends to queue
     * the request itself on their I/O threads without allocating a task.
     *
     * @param executor the blocking work; called once with this request.
     * @return this.
     */
    public NbdRequest executor(final Consumer<NbdRequest> executor)
    {
        this.executor = executor;
        return this;
    }

    /**
     * Runs the executor set by the backend (on a disk thread).
     */
    @Override
    public void run()
    {
        executor.accept(this);
    }

    /**
     * Complete the request: the frontend sends the reply. Call exactly once, from any thread.
     *
     * @param errno   0 for success, else an NBD error code ({@code NbdProtocol.E*}).
     * @param message what failed, for the structured error reply and the log; null on success.
     */
    public void complete(final int errno, final String message)
    {
        this.errno = errno;
        this.errorMessage = message;
        completion.onComplete(this);
    }

    /**
     * Set an error before submission (validation failure); does not complete.
     *
     * @param errno   NBD error code.
     * @param message explanation.
     */
    public void fail(final int errno, final String message)
    {
        this.errno = errno;
        this.errorMessage = message;
    }

    @Override
    public String toString()
    {
        return NbdProtocol.commandName(type) + "{cookie=" + cookie + ", offset=" + Long.toUnsignedString(offsetBytes) +
            ", length=" + lengthBytes + ", flags=0x" + Integer.toHexString(flags) + "}";
    }
}
