package io.mirra.nbd.spi;

/**
 * What the NBD frontend needs from whatever stores an export: its size, what it can do, and asynchronous execution
 * of requests. Implementations must never block the caller of {@link #submit(NbdRequest)}: it runs on a Netty event
 * loop. Several connections share one backend (multi-conn), so a flush must cover every write completed before it
 * on any connection.
 * <p>
 * Connection lifecycle: when a connection selects the export (NBD_OPT_GO or NBD_OPT_EXPORT_NAME), the frontend calls
 * {@link #open(String)} on the export's backend, which may refuse with a message or return the backend that serves
 * this connection (itself, or a per-connection wrapper holding connection state); when the connection ends, the
 * frontend calls {@link #close()} once on what {@code open} returned. The defaults make a backend shared by every
 * connection, with nothing to do on open or close.
 */
public interface NbdBackend
{
    /**
     * A connection selects this export with NBD_OPT_GO or NBD_OPT_EXPORT_NAME; called before the server replies.
     * NBD_OPT_INFO, NBD_OPT_LIST and the meta context options never call it (they describe this backend).
     * <p>
     * The returned backend serves the connection from now on: the size, transmission flags (read-only, trim) and
     * block size sent in the reply come from it, every request of the connection goes to its
     * {@link #submit(NbdRequest)}, and {@link #isReadOnly()} is asked again for every write, trim and zeroing
     * request, so it may change its answer later: such requests then fail with EPERM and the message "export is
     * read-only". To tell the client a specific reason instead, keep answering false and complete the writes with
     * EPERM and that reason ({@link NbdRequest#complete(int, String)}; sent with structured replies).
     * <p>
     * Runs on a Netty event loop: must not block. A decision that takes time (a promotion that needs the peers) is
     * made later: return a wrapper at once and let it hold, complete or fail requests (with an errno and a message)
     * when the answer is known.
     *
     * @param client the client's address as text ({@code host:port}, IPv6 as {@code [addr]:port}), for state and
     *               log lines.
     * @return the backend for this connection, never null: this one (the default) or a per-connection wrapper.
     * @throws NbdOpenRefusedException to refuse: with NBD_OPT_GO the client receives its error and message and may
     *                                 try another export; with NBD_OPT_EXPORT_NAME (no error reply in the protocol)
     *                                 the connection is closed and the message logged.
     */
    default NbdBackend open(final String client) throws NbdOpenRefusedException
    {
        return this;
    }

    /**
     * The connection that {@link #open(String)} returned this backend to has ended (NBD_CMD_DISC, the client closing
     * or resetting the connection, or the server closing). Called exactly once per successful {@code open}, on the
     * object {@code open} returned (this backend itself when {@code open} returned {@code this}, once per
     * connection), after every request the connection submitted was completed or, when the server stopped before
     * the backend completed them, abandoned. No request of that connection is submitted afterwards. Never called
     * for a refused {@code open}.
     * <p>
     * This is the end of a connection, not of the backend: a backend that is shared by connections must not release
     * its storage here (in particular, a backend that is also {@link AutoCloseable} receives this call per
     * connection). Runs on the connection's event loop, or on the thread that completed the last request when the
     * event loop had already stopped: must not block. An exception is logged and otherwise ignored.
     */
    default void close()
    {
    }

    /** @return the export size in bytes. */
    long sizeBytes();

    /** @return true if writes are refused. */
    boolean isReadOnly();

    /** @return true if NBD_CMD_TRIM releases space. */
    boolean canTrim();

    /** @return true if NBD_CMD_BLOCK_STATUS reports real holes (otherwise all data is reported). */
    boolean canReportExtents();

    /** @return the preferred block size: power of two, 512 to 65536. */
    int preferredBlockSize();

    /**
     * Start a validated request: READ (fill {@link NbdRequest#readBuffer()}), WRITE, FLUSH, TRIM, WRITE_ZEROES or
     * BLOCK_STATUS (add descriptors). Complete it later with {@link NbdRequest#complete(int, String)} from any thread,
     * exactly once, also on failure. Must not block.
     *
     * @param request the request; owned by the backend until completed.
     */
    void submit(NbdRequest request);
}
