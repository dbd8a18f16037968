package io.mirra.nbd.spi;

/**
 * What the NBD frontend needs from whatever stores an export: its size, what it can do, and asynchronous execution
 * of requests. Implementations must never block the caller of {@link #submit(NbdRequest)}: it runs on a Netty event
 * loop. Several connections share one backend (multi-conn), so a flush must cover every write completed before it
 * on any connection.
 */
public interface NbdBackend
{
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
