package io.mirra.engine.storage;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The storage behind one volume: a regular file or a block device, addressed in bytes.
 * <p>
 * This is the one narrow interface between the data path and the disk. The NBD frontend of
 * {@code mirra serve} uses it directly; replication reuses it for the local copy of every volume.
 * <p>
 * Threading: every method may block and must only be called from disk I/O threads (never a Netty
 * event loop). Implementations are thread-safe: positional reads and writes from several threads
 * at once are allowed, as with {@code pread}/{@code pwrite}. Callers order overlapping requests.
 * <p>
 * Errors: every failure is a {@link StorageException} carrying the POSIX errno that describes it,
 * so that frontends can map it (EIO, ENOSPC, EINVAL, ENOTSUP...) without parsing messages.
 */
public interface BlockStore extends AutoCloseable
{
    /**
     * @return the size of the store in bytes; fixed for the life of this object.
     */
    long sizeBytes();

    /**
     * @return the granularity below which writes cost a read-modify-write (the logical block size of
     * a device, the file system block size of a file); a power of two, at least 512.
     */
    int preferredBlockSizeBytes();

    /**
     * @return true when this store is a block device rather than a regular file.
     */
    boolean isBlockDevice();

    /**
     * @return true when the store was opened without write access.
     */
    boolean isReadOnly();

    /**
     * Read {@code dst.remaining()} bytes at {@code byteOffset} into {@code dst}, advancing its position to its limit.
     * Holes read as zeros.
     */
    void read(ByteBuffer dst, long byteOffset) throws StorageException;

    /**
     * Write all of {@code src.remaining()} bytes at {@code byteOffset}, advancing its position to its limit.
     * Direct buffers go to the kernel without a copy.
     */
    void write(ByteBuffer src, long byteOffset) throws StorageException;

    /**
     * Write the remaining bytes of every buffer, in order, contiguously from {@code byteOffset}, advancing each
     * buffer's position to its limit. Implementations may do it in one gathering system call (pwritev): a payload
     * that arrived in several socket reads is written without being joined first.
     *
     * @param srcs       the buffers, in order.
     * @param byteOffset where the first byte goes.
     * @throws StorageException as {@link #write(ByteBuffer, long)}.
     */
    default void write(final ByteBuffer[] srcs, final long byteOffset) throws StorageException
    {
        long position = byteOffset;
        for (final ByteBuffer src : srcs)
        {
            final int length = src.remaining();
            write(src, position);
            position += length;
        }
    }

    /**
     * Make every write that completed before this call durable (fdatasync).
     */
    void flush() throws StorageException;

    /**
     * @return true when {@link #trim(long, long)} can release space (punch hole, BLKDISCARD).
     */
    boolean canTrim();

    /**
     * Release the space of a range; afterwards the range reads as zeros on a file, and as zeros or
     * the old data on a device without discard-zeroes-data. A store without trim support does nothing.
     */
    void trim(long byteOffset, long lengthBytes) throws StorageException;

    /**
     * Make a range read as zeros.
     *
     * @param mayPunch true if the range may become a hole (deallocated); false to keep it allocated (NBD NO_HOLE).
     * @param fastOnly true if the caller wants the zeroing only when it is cheap (NBD FAST_ZERO): a metadata
     *                 operation (punch hole, zero range, BLKZEROOUT/BLKDISCARD) rather than writing zero bytes.
     * @return true if the range is now zero; false only when {@code fastOnly} is set and no fast way exists,
     * in which case nothing was changed.
     */
    boolean zero(long byteOffset, long lengthBytes, boolean mayPunch, boolean fastOnly) throws StorageException;

    /**
     * @return true when {@link #extents} reports real holes (SEEK_DATA/SEEK_HOLE on a file), false when
     * it reports every range as data.
     */
    boolean canReportExtents();

    /**
     * Describe the allocation of {@code [byteOffset, byteOffset + lengthBytes)} as consecutive runs, in order,
     * starting exactly at {@code byteOffset}, stopping early when the sink returns false. Runs are clipped to the
     * requested range. Does not allocate per run.
     */
    void extents(long byteOffset, long lengthBytes, ExtentSink sink) throws StorageException;

    /**
     * Receives the runs found by {@link #extents}.
     */
    @FunctionalInterface
    interface ExtentSink
    {
        /**
         * @param lengthBytes length of this run, greater than zero.
         * @param hole        true when the run is unallocated (and therefore reads as zeros).
         * @return true to receive further runs, false to stop.
         */
        boolean onExtent(long lengthBytes, boolean hole);
    }

    /**
     * Close the underlying file descriptors. In-flight calls on other threads may fail with EIO (errno 9 EBADF mapped).
     */
    @Override
    void close() throws StorageException;
}
