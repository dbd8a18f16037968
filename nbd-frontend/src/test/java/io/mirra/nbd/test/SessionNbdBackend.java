package io.mirra.nbd.test;

import io.mirra.nbd.spi.NbdBackend;
import io.mirra.nbd.spi.NbdOpenRefusedException;
import io.mirra.nbd.spi.NbdRequest;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.mirra.nbd.protocol.NbdProtocol.*;

/**
 * A test export that gives every connection its own backend, a {@link Connection} over one shared
 * {@link MemoryNbdBackend}, the way a replicated volume tracks its writers. Tests can refuse opens, open new
 * connections read-only, switch a connection to read-only, make it fail writes with a message, and hold its requests
 * to complete them later from the test thread.
 * <p>
 * Broken frontend promises are recorded in {@link #violations()}: a request or a close reaching the export's own
 * backend (which only describes the export), a second close, a request after close, a write reaching a read-only
 * connection.
 */
public final class SessionNbdBackend implements NbdBackend
{
    private final MemoryNbdBackend store;
    private final BlockingQueue<Connection> opened = new LinkedBlockingQueue<>();
    private final BlockingQueue<Connection> closed = new LinkedBlockingQueue<>();
    private final List<Connection> connections = new CopyOnWriteArrayList<>();
    private final List<String> violations = new CopyOnWriteArrayList<>();
    private final AtomicInteger openCalls = new AtomicInteger();
    private volatile NbdOpenRefusedException refusal;
    private volatile RuntimeException openFailure;
    private volatile boolean openReadOnly;

    /**
     * @param store the storage every connection shares.
     */
    public SessionNbdBackend(final MemoryNbdBackend store)
    {
        this.store = store;
    }

    // ---- the export's backend: describes the export, opens connections -------------------------------------------

    @Override
    public NbdBackend open(final String client) throws NbdOpenRefusedException
    {
        openCalls.incrementAndGet();
        final NbdOpenRefusedException refused = refusal;
        if (refused != null)
        {
            throw refused;
        }
        final RuntimeException failure = openFailure;
        if (failure != null)
        {
            throw failure;
        }
        store.open(client); // the store counts connections too, and checks that none is used after its close
        final Connection connection = new Connection(client, openReadOnly);
        connections.add(connection);
        opened.add(connection);
        return connection;
    }

    @Override
    public void close()
    {
        violations.add("close() reached the export's backend, which open() never returned");
    }

    @Override
    public long sizeBytes()
    {
        return store.sizeBytes();
    }

    @Override
    public boolean isReadOnly()
    {
        return store.isReadOnly();
    }

    @Override
    public boolean canTrim()
    {
        return store.canTrim();
    }

    @Override
    public boolean canReportExtents()
    {
        return store.canReportExtents();
    }

    @Override
    public int preferredBlockSize()
    {
        return store.preferredBlockSize();
    }

    @Override
    public void submit(final NbdRequest request)
    {
        violations.add("request reached the export's backend instead of the connection's: " + request);
        request.complete(EIO, "wrong backend");
    }

    // ---- test controls ---------------------------------------------------------------------------------------------

    /**
     * @param refused thrown by every later {@link #open(String)}; null to accept opens again.
     */
    public void refuseOpens(final NbdOpenRefusedException refused)
    {
        this.refusal = refused;
    }

    /**
     * @param failure thrown by every later {@link #open(String)} (a backend bug); null to accept opens again.
     */
    public void failOpens(final RuntimeException failure)
    {
        this.openFailure = failure;
    }

    /**
     * @param readOnly whether connections opened from now on start read-only.
     */
    public void openReadOnly(final boolean readOnly)
    {
        this.openReadOnly = readOnly;
    }

    /** @return how often {@link #open(String)} was called, refused or not. */
    public int openCalls()
    {
        return openCalls.get();
    }

    /** @return every connection opened so far, in order. */
    public List<Connection> connections()
    {
        return new ArrayList<>(connections);
    }

    /**
     * @param timeoutMs deadline.
     * @return the next connection opened (in order), or null on timeout.
     * @throws InterruptedException if interrupted.
     */
    public Connection awaitOpened(final long timeoutMs) throws InterruptedException
    {
        return opened.poll(timeoutMs, TimeUnit.MILLISECONDS);
    }

    /**
     * @param timeoutMs deadline.
     * @return the next connection closed (in order of closing), or null on timeout.
     * @throws InterruptedException if interrupted.
     */
    public Connection awaitClosed(final long timeoutMs) throws InterruptedException
    {
        return closed.poll(timeoutMs, TimeUnit.MILLISECONDS);
    }

    /** Complete every request any connection still holds, successfully (before the server closes). */
    public void completeAllHeld()
    {
        for (final Connection connection : connections)
        {
            connection.completeHeld();
        }
    }

    /** @return broken frontend promises (empty when all is well). */
    public List<String> violations()
    {
        return new ArrayList<>(violations);
    }

    /**
     * One connection's backend: requests go to the shared store unless held or failed.
     */
    public final class Connection implements NbdBackend
    {
        private final String client;
        private final List<NbdRequest> held = new ArrayList<>();
        private final AtomicInteger submitted = new AtomicInteger();
        private final AtomicInteger heldSubmitted = new AtomicInteger();
        private final AtomicInteger heldCompleted = new AtomicInteger();
        private final AtomicInteger closeCalls = new AtomicInteger();
        private volatile boolean readOnly;
        private volatile boolean holding;
        private volatile int failErrno;
        private volatile String failMessage;
        private volatile int pendingAtClose = -1;

        private Connection(final String client, final boolean readOnly)
        {
            this.client = client;
            this.readOnly = readOnly;
        }

        @Override
        public long sizeBytes()
        {
            return store.sizeBytes();
        }

        @Override
        public boolean isReadOnly()
        {
            return readOnly;
        }

        @Override
        public boolean canTrim()
        {
            return store.canTrim();
        }

        @Override
        public boolean canReportExtents()
        {
            return store.canReportExtents();
        }

        @Override
        public int preferredBlockSize()
        {
            return store.preferredBlockSize();
        }

        @Override
        public void submit(final NbdRequest request)
        {
            submitted.incrementAndGet();
            if (closeCalls.get() != 0)
            {
                violations.add(client + ": request after close: " + request);
            }
            final boolean write = request.type() == CMD_WRITE || request.type() == CMD_TRIM ||
                request.type() == CMD_WRITE_ZEROES;
            if (write && readOnly)
            {
                violations.add(client + ": write reached a read-only connection: " + request);
            }
            if (write && failErrno != 0)
            {
                request.complete(failErrno, failMessage); // synchronously, on the event loop: allowed
                return;
            }
            synchronized (held)
            {
                if (holding)
                {
                    heldSubmitted.incrementAndGet();
                    held.add(request);
                    held.notifyAll();
                    return;
                }
            }
            store.submit(request);
        }

        @Override
        public void close()
        {
            pendingAtClose = heldSubmitted.get() - heldCompleted.get();
            if (closeCalls.incrementAndGet() != 1)
            {
                violations.add(client + ": closed " + closeCalls.get() + " times");
                return;
            }
            store.close();
            closed.add(this);
        }

        /** @return the client address open() was given. */
        public String client()
        {
            return client;
        }

        /**
         * @param readOnly whether writes are refused from now on.
         */
        public void readOnly(final boolean readOnly)
        {
            this.readOnly = readOnly;
        }

        /**
         * Complete writes, trims and zeroing at once with an error instead of executing them.
         *
         * @param errno   NBD error code; 0 to execute writes again.
         * @param message the explanation passed to {@link NbdRequest#complete(int, String)}.
         */
        public void failWrites(final int errno, final String message)
        {
            this.failMessage = message;
            this.failErrno = errno;
        }

        /** Hold every request submitted from now on until {@link #completeHeld()}. */
        public void hold()
        {
            synchronized (held)
            {
                holding = true;
            }
        }

        /**
         * Stop holding and complete every held request successfully, here on the caller's thread (writes are not
         * stored; reads return zeros).
         */
        public void completeHeld()
        {
            final List<NbdRequest> toComplete;
            synchronized (held)
            {
                holding = false;
                toComplete = new ArrayList<>(held);
                held.clear();
            }
            for (final NbdRequest request : toComplete)
            {
                heldCompleted.incrementAndGet(); // before complete(): close must not come earlier
                request.complete(0, null);
            }
        }

        /**
         * Wait until at least {@code count} requests are held.
         *
         * @param count     held requests to wait for.
         * @param timeoutMs deadline.
         * @return true if reached, false on timeout.
         * @throws InterruptedException if interrupted.
         */
        public boolean awaitHeld(final int count, final long timeoutMs) throws InterruptedException
        {
            final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            synchronized (held)
            {
                while (held.size() < count)
                {
                    final long leftMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                    if (leftMs <= 0)
                    {
                        return false;
                    }
                    held.wait(leftMs);
                }
                return true;
            }
        }

        /** @return requests submitted to this connection's backend. */
        public int submittedCount()
        {
            return submitted.get();
        }

        /** @return how often close() was called. */
        public int closeCount()
        {
            return closeCalls.get();
        }

        /** @return held requests not yet completed when close() was called; -1 if not closed. */
        public int pendingAtClose()
        {
            return pendingAtClose;
        }

        @Override
        public String toString()
        {
            return "Connection{" + client + "}";
        }
    }
}
