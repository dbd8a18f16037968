package io.mirra.nbd.test;

import io.mirra.nbd.spi.NbdBackend;
import io.mirra.nbd.spi.NbdRequest;
import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static io.mirra.nbd.protocol.NbdProtocol.*;

/**
 * A test export held in memory.
 * <p>
 * Requests complete on a small pool of "disk" threads, like a real backend. Allocation is tracked per
 * {@link #PAGE} (4 KiB): pages never written, trimmed or zeroed (without NO_HOLE) are holes, so block status
 * answers mean something. Tests can count flushes and FUA requests, make requests touching an offset fail with an
 * error ({@link #failAt(long, int)}), and hold every request until released ({@link #hold()} /
 * {@link #release()}) to control what is in flight.
 * <p>
 * Every request seen is checked against what the frontend promised: a validated range, a payload exactly as long as
 * the request, a read target large enough. A broken promise is recorded in {@link #violations()} and the request
 * fails with EIO.
 * <p>
 * Connections share this backend ({@link #open(String)} returns it); opens and closes are counted, and a close
 * without an open, or a request after every connection closed, is a violation. {@link #shutdown()} stops the disk
 * threads: it is not {@link #close()}, which the server calls once per connection.
 */
public final class MemoryNbdBackend implements NbdBackend
{
    /** Allocation granularity. */
    public static final int PAGE = 4096;

    private final Object lock = new Object();
    private final byte[] data;
    private final BitSet allocated;
    private final int pages;
    private final boolean readOnly;
    private final boolean canTrim;
    private final int preferredBlockSize;
    private final ExecutorService disk;
    private final Map<Long, Integer> failures = new ConcurrentHashMap<>();
    private final List<String> violations = new ArrayList<>();
    private final List<Seen> seen = new ArrayList<>();
    private final Queue<NbdRequest> held = new ArrayDeque<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private boolean holding;
    private int maxInFlight;
    private long submitted;
    private long completed;
    private long flushes;
    private long fuaRequests;
    private int opens;
    private int closes;

    /**
     * What the backend saw of one request.
     *
     * @param type   command type.
     * @param flags  command flags.
     * @param offset offset.
     * @param length length.
     */
    public record Seen(int type, int flags, long offset, long length)
    {
    }

    /**
     * @param sizeBytes export size (at most 256 MiB).
     * @param readOnly  refuse writes.
     */
    public MemoryNbdBackend(final int sizeBytes, final boolean readOnly)
    {
        this(sizeBytes, readOnly, true, 4096);
    }

    /**
     * @param sizeBytes          export size.
     * @param readOnly           refuse writes.
     * @param canTrim            advertise trim.
     * @param preferredBlockSize preferred block size.
     */
    public MemoryNbdBackend(final int sizeBytes, final boolean readOnly, final boolean canTrim,
        final int preferredBlockSize)
    {
        this.data = new byte[sizeBytes];
        this.pages = (sizeBytes + PAGE - 1) / PAGE;
        this.allocated = new BitSet(pages);
        this.readOnly = readOnly;
        this.canTrim = canTrim;
        this.preferredBlockSize = preferredBlockSize;
        final AtomicInteger threads = new AtomicInteger();
        this.disk = Executors.newFixedThreadPool(2, r ->
        {
            final Thread t = new Thread(r, "memory-disk-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    // ---- NbdBackend ------------------------------------------------------------------------------------------------

    @Override
    public NbdBackend open(final String client)
    {
        synchronized (lock)
        {
            opens++;
            lock.notifyAll();
        }
        return this;
    }

    @Override
    public void close()
    {
        synchronized (lock)
        {
            closes++;
            if (closes > opens)
            {
                violations.add("close without open: " + closes + " closes, " + opens + " opens");
            }
            lock.notifyAll();
        }
    }

    @Override
    public long sizeBytes()
    {
        return data.length;
    }

    @Override
    public boolean isReadOnly()
    {
        return readOnly;
    }

    @Override
    public boolean canTrim()
    {
        return canTrim;
    }

    @Override
    public boolean canReportExtents()
    {
        return true;
    }

    @Override
    public int preferredBlockSize()
    {
        return preferredBlockSize;
    }

    @Override
    public void submit(final NbdRequest request)
    {
        final int now = inFlight.incrementAndGet();
        synchronized (lock)
        {
            if (closes >= opens)
            {
                violations.add("request submitted while no connection is open: " + request);
            }
            submitted++;
            maxInFlight = Math.max(maxInFlight, now);
            seen.add(new Seen(request.type(), request.flags(), request.offsetBytes(), request.lengthBytes()));
            if (holding)
            {
                held.add(request);
                lock.notifyAll();
                return;
            }
            lock.notifyAll();
        }
        disk.execute(() -> execute(request));
    }

    // ---- test controls -------------------------------------------------------------------------------------------

    /** Hold every request submitted from now on until {@link #release()}. */
    public void hold()
    {
        synchronized (lock)
        {
            holding = true;
        }
    }

    /** Stop holding and run every held request. */
    public void release()
    {
        final List<NbdRequest> toRun;
        synchronized (lock)
        {
            holding = false;
            toRun = new ArrayList<>(held);
            held.clear();
        }
        for (final NbdRequest request : toRun)
        {
            disk.execute(() -> execute(request));
        }
    }

    /**
     * Make every later request whose range covers {@code offset} fail.
     *
     * @param offset byte offset.
     * @param errno  NBD error code to complete with.
     */
    public void failAt(final long offset, final int errno)
    {
        failures.put(offset, errno);
    }

    /**
     * Fill the whole export with a pattern and mark it allocated.
     *
     * @param seed pattern seed.
     */
    public void fillPattern(final int seed)
    {
        synchronized (lock)
        {
            for (int i = 0; i < data.length; i++)
            {
                data[i] = pattern(seed, i);
            }
            allocated.set(0, pages);
        }
    }

    /**
     * @param seed   pattern seed.
     * @param offset byte offset.
     * @return the pattern byte {@link #fillPattern(int)} writes at that offset.
     */
    public static byte pattern(final int seed, final long offset)
    {
        final long x = (offset + 1) * 0x9E3779B97F4A7C15L + seed * 0xBF58476D1CE4E5B9L;
        return (byte)(x >>> 56);
    }

    /**
     * @param offset byte offset.
     * @param length byte count.
     * @return a copy of the export's bytes.
     */
    public byte[] contents(final int offset, final int length)
    {
        synchronized (lock)
        {
            return Arrays.copyOfRange(data, offset, offset + length);
        }
    }

    /**
     * Write directly (not through NBD), marking the pages allocated.
     *
     * @param offset byte offset.
     * @param bytes  what to write.
     */
    public void poke(final int offset, final byte[] bytes)
    {
        synchronized (lock)
        {
            System.arraycopy(bytes, 0, data, offset, bytes.length);
            markAllocated(offset, bytes.length);
        }
    }

    /**
     * @param page page index.
     * @return true if that page holds data (is not a hole).
     */
    public boolean isAllocated(final int page)
    {
        synchronized (lock)
        {
            return allocated.get(page);
        }
    }

    /** @return NBD_CMD_FLUSH requests plus FUA requests executed (FUA is implemented as a flush). */
    public long flushCount()
    {
        synchronized (lock)
        {
            return flushes;
        }
    }

    /** @return requests executed with NBD_CMD_FLAG_FUA. */
    public long fuaCount()
    {
        synchronized (lock)
        {
            return fuaRequests;
        }
    }

    /** @return requests submitted so far. */
    public long submittedCount()
    {
        synchronized (lock)
        {
            return submitted;
        }
    }

    /** @return requests completed so far. */
    public long completedCount()
    {
        synchronized (lock)
        {
            return completed;
        }
    }

    /** @return the most requests that were submitted and not yet completed at once. */
    public int maxInFlight()
    {
        synchronized (lock)
        {
            return maxInFlight;
        }
    }

    /** @return requests submitted and not completed. */
    public int inFlight()
    {
        return inFlight.get();
    }

    /** @return every request seen, in submission order. */
    public List<Seen> seen()
    {
        synchronized (lock)
        {
            return new ArrayList<>(seen);
        }
    }

    /** @return how often a connection opened this backend. */
    public int openCount()
    {
        synchronized (lock)
        {
            return opens;
        }
    }

    /** @return how often a connection closed this backend. */
    public int closeCount()
    {
        synchronized (lock)
        {
            return closes;
        }
    }

    /**
     * Wait until as many connections closed this backend as opened it.
     *
     * @param timeoutMs deadline.
     * @return true if every open was closed, false on timeout.
     * @throws InterruptedException if interrupted.
     */
    public boolean awaitAllClosed(final long timeoutMs) throws InterruptedException
    {
        return await(() -> closes == opens, timeoutMs);
    }

    /** @return broken frontend promises (empty when all is well). */
    public List<String> violations()
    {
        synchronized (lock)
        {
            return new ArrayList<>(violations);
        }
    }

    /**
     * Wait until at least {@code count} requests were submitted.
     *
     * @param count     submissions to wait for.
     * @param timeoutMs deadline.
     * @return true if reached, false on timeout.
     * @throws InterruptedException if interrupted.
     */
    public boolean awaitSubmitted(final long count, final long timeoutMs) throws InterruptedException
    {
        return await(() -> submitted >= count, timeoutMs);
    }

    /**
     * Wait until every submitted request completed.
     *
     * @param timeoutMs deadline.
     * @return true if idle, false on timeout.
     * @throws InterruptedException if interrupted.
     */
    public boolean awaitIdle(final long timeoutMs) throws InterruptedException
    {
        return await(() -> completed == submitted, timeoutMs);
    }

    private boolean await(final BooleanSupplier condition, final long timeoutMs) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        synchronized (lock)
        {
            while (!condition.getAsBoolean())
            {
                final long leftMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (leftMs <= 0)
                {
                    return false;
                }
                lock.wait(leftMs);
            }
            return true;
        }
    }

    /**
     * Run held requests, then stop the disk threads (after the server closed).
     */
    public void shutdown()
    {
        release();
        disk.shutdown();
        try
        {
            disk.awaitTermination(10, TimeUnit.SECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    // ---- execution (disk threads) -----------------------------------------------------------------------------------

    private void execute(final NbdRequest request)
    {
        int errno = 0;
        String message = null;
        try
        {
            final String broken = checkPromises(request);
            final Integer injected = injectedError(request);
            if (broken != null)
            {
                synchronized (lock)
                {
                    violations.add(broken + ": " + request);
                }
                errno = EIO;
                message = broken;
            }
            else if (injected != null)
            {
                errno = injected;
                message = "injected error for " + request;
            }
            else
            {
                perform(request);
            }
        }
        catch (final RuntimeException ex)
        {
            synchronized (lock)
            {
                violations.add("backend threw " + ex + " on " + request);
            }
            errno = EIO;
            message = ex.toString();
        }
        inFlight.decrementAndGet();
        final String description = request.toString();
        try
        {
            request.complete(errno, message); // last touch: the request is recycled after this
        }
        catch (final RuntimeException ex)
        {
            synchronized (lock)
            {
                violations.add("NbdRequest.complete threw " + ex + " for " + description);
            }
        }
        synchronized (lock)
        {
            completed++; // counted after complete(), so awaitIdle() also covers the completion call
            lock.notifyAll();
        }
    }

    private String checkPromises(final NbdRequest request)
    {
        final long offset = request.offsetBytes();
        final long length = request.lengthBytes();
        if (request.type() != CMD_FLUSH && (offset < 0 || length <= 0 || offset + length > data.length))
        {
            return "range not validated";
        }
        if (readOnly && (request.type() == CMD_WRITE || request.type() == CMD_TRIM ||
            request.type() == CMD_WRITE_ZEROES))
        {
            return "write to a read-only export reached the backend";
        }
        switch (request.type())
        {
            case CMD_READ:
                if (request.readTarget() == null || request.readTarget().capacity() < length ||
                    request.readTarget().writerIndex() != 0)
                {
                    return "bad read target";
                }
                return null;
            case CMD_WRITE:
                if (request.payload() == null || request.payload().readableBytes() != length)
                {
                    return "payload length " + (request.payload() == null ? -1 : request.payload().readableBytes()) +
                        " differs from request length";
                }
                return null;
            case CMD_FLUSH:
            case CMD_TRIM:
            case CMD_WRITE_ZEROES:
            case CMD_BLOCK_STATUS:
                return request.payload() == null || !request.payload().isReadable() ? null : "unexpected payload";
            default:
                return "unexpected command " + request.type();
        }
    }

    private Integer injectedError(final NbdRequest request)
    {
        if (failures.isEmpty() || request.type() == CMD_FLUSH)
        {
            return null;
        }
        for (final Map.Entry<Long, Integer> failure : failures.entrySet())
        {
            final long at = failure.getKey();
            if (at >= request.offsetBytes() && at < request.offsetBytes() + request.lengthBytes())
            {
                return failure.getValue();
            }
        }
        return null;
    }

    private void perform(final NbdRequest request)
    {
        final int offset = (int)request.offsetBytes();
        final int length = (int)request.lengthBytes();
        synchronized (lock)
        {
            switch (request.type())
            {
                case CMD_READ:
                {
                    final ByteBuffer target = request.readBuffer();
                    target.put(data, offset, length);
                    break;
                }
                case CMD_WRITE:
                {
                    final ByteBuf payload = request.payload();
                    payload.getBytes(payload.readerIndex(), data, offset, length);
                    markAllocated(offset, length);
                    break;
                }
                case CMD_FLUSH:
                    flushes++;
                    break;
                case CMD_TRIM:
                    punchHoles(offset, length);
                    break;
                case CMD_WRITE_ZEROES:
                    Arrays.fill(data, offset, offset + length, (byte)0);
                    if (request.hasFlag(CMD_FLAG_NO_HOLE))
                    {
                        markAllocated(offset, length);
                    }
                    else
                    {
                        punchHoles(offset, length);
                    }
                    break;
                case CMD_BLOCK_STATUS:
                    blockStatus(request, offset, length);
                    break;
                default:
                    throw new IllegalStateException("unexpected command");
            }
            if (request.hasFlag(CMD_FLAG_FUA))
            {
                fuaRequests++;
                flushes++;
            }
        }
    }

    private void markAllocated(final int offset, final int length)
    {
        allocated.set(offset / PAGE, (offset + length + PAGE - 1) / PAGE);
    }

    /** Whole pages inside the range become zeroed holes; partial pages keep their state (TRIM may round). */
    private void punchHoles(final int offset, final int length)
    {
        final int first = (offset + PAGE - 1) / PAGE;
        final int end = offset + length == data.length ? pages : (offset + length) / PAGE;
        for (int page = first; page < end; page++)
        {
            Arrays.fill(data, page * PAGE, Math.min(data.length, (page + 1) * PAGE), (byte)0);
            allocated.clear(page);
        }
    }

    private void blockStatus(final NbdRequest request, final int offset, final int length)
    {
        final long end = (long)offset + length;
        long position = offset;
        while (position < end)
        {
            final int page = (int)(position / PAGE);
            final boolean isData = allocated.get(page);
            int next = isData ? allocated.nextClearBit(page) : allocated.nextSetBit(page);
            if (next < 0 || next > pages)
            {
                next = pages;
            }
            final long runEnd = Math.min(Math.min((long)next * PAGE, data.length), end);
            final boolean more = request.addExtent(runEnd - position, isData ? 0 : STATE_HOLE | STATE_ZERO);
            position = runEnd;
            if (!more)
            {
                break;
            }
        }
    }
}
