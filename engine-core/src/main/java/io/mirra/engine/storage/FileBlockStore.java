package io.mirra.engine.storage;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.locks.StampedLock;

import static io.mirra.engine.storage.StorageException.EINVAL;
import static io.mirra.engine.storage.StorageException.EIO;
import static io.mirra.engine.storage.StorageException.ENOSPC;
import static io.mirra.engine.storage.StorageException.ENOTSUP;
import static io.mirra.engine.storage.StorageException.EPERM;
import static io.mirra.engine.storage.StorageException.EROFS;

/**
 * A {@link BlockStore} over a regular file or a block device.
 * <p>
 * Reads, writes and flushes go through a {@link FileChannel} with positional calls ({@code pread}/{@code pwrite};
 * direct buffers without a copy, buffered I/O, no O_DIRECT). What a FileChannel cannot do goes through a second
 * descriptor opened with {@link LibC}:
 * <ul>
 *     <li>regular file: trim = punch hole; zero = punch hole ({@code mayPunch}) or {@code FALLOC_FL_ZERO_RANGE},
 *     falling back to writing zeros; extents from {@code SEEK_DATA}/{@code SEEK_HOLE}.</li>
 *     <li>block device: size from {@code BLKGETSIZE64}, block size from {@code BLKSSZGET}, trim = {@code BLKDISCARD},
 *     zero = {@code BLKZEROOUT}; extents report all data. A writable device is opened with {@code O_EXCL}, so it
 *     cannot be opened while mounted, nor mounted while open.</li>
 * </ul>
 * When {@link LibC} is unavailable the store works with the FileChannel alone: trim does nothing, extents report all
 * data, and zeroing writes zeros (so {@code fastOnly} zeroing returns false).
 * <p>
 * Threading: thread-safe; every method may block, so call them only from disk I/O threads ({@link DiskIoWorkers}).
 * <b>Disk threads must never be interrupted</b>: an interrupt that arrives during a FileChannel call closes the channel
 * for every user of the store (then every call fails with EIO "store closed"). An interrupt already pending when a
 * call starts is set aside for the call and restored afterwards, so only one that arrives mid-call does harm.
 * {@link #close()} may run while other threads are inside calls; they then fail with EIO "store closed", and the
 * native descriptor is never closed under a running native call (so its number cannot be reused under it).
 */
public final class FileBlockStore implements BlockStore
{
    /** Block size reported for a regular file when its file store does not give a usable one. */
    public static final int DEFAULT_FILE_BLOCK_SIZE = 4096;

    /** Buffers per pwritev call (well under IOV_MAX = 1024). */
    static final int IOV_BATCH = 64;

    /** Per disk thread: the native iovec array for gathering writes (no allocation per write). */
    private static final ThreadLocal<ByteBuffer> IOV = ThreadLocal.withInitial(
        () -> ByteBuffer.allocateDirect(IOV_BATCH * 16).order(java.nio.ByteOrder.nativeOrder()));

    private static final System.Logger LOGGER = System.getLogger(FileBlockStore.class.getName());

    private static final int DEFAULT_DEVICE_BLOCK_SIZE = 512;
    private static final int MAX_BLOCK_SIZE = 64 * 1024;
    private static final int ZERO_CHUNK_BYTES = 1024 * 1024;
    private static final int S_IFMT = 0170000;
    private static final int S_IFBLK = 0060000;

    // Shared by every store and thread: read-only, so nobody can dirty it; each user works on a duplicate.
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(ZERO_CHUNK_BYTES).asReadOnlyBuffer();

    private final Path path;
    private final boolean readOnly;
    private final boolean blockDevice;
    private final boolean nativeIo;
    private final long sizeBytes;
    private final int blockSizeBytes;
    private final FileChannel channel;

    // Readers hold it around every native call, close() takes it exclusively: fd numbers are reused by the kernel.
    private final StampedLock nativeFdLock = new StampedLock();
    private int nativeFd;

    private volatile boolean closed;
    private volatile boolean punchHoleSupported = true;
    private volatile boolean zeroRangeSupported = true;
    private volatile boolean discardSupported = true;
    private volatile boolean zeroOutSupported = true;

    private FileBlockStore(
        final Path path,
        final boolean readOnly,
        final boolean blockDevice,
        final long requestedSizeBytes,
        final boolean useNative) throws StorageException
    {
        this.path = path;
        this.readOnly = readOnly;
        this.blockDevice = blockDevice;

        FileChannel openedChannel = null;
        int fd = -1;
        try
        {
            openedChannel = readOnly ?
                FileChannel.open(path, StandardOpenOption.READ) :
                FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
            fd = useNative && LibC.isAvailable() ? openNative(path, readOnly, blockDevice) : -1;

            final long actualSizeBytes = blockDevice && fd >= 0 ?
                LibC.ioctlReadLong(fd, LibC.BLKGETSIZE64) : openedChannel.size();
            if (actualSizeBytes < 0)
            {
                throw new StorageException(EIO, "open " + path + ": cannot read the device size: " + errnoText());
            }
            checkSize(path, blockDevice, actualSizeBytes, requestedSizeBytes);

            this.sizeBytes = actualSizeBytes;
            this.blockSizeBytes = blockDevice ? deviceBlockSize(fd) : fileBlockSize(path);
            this.channel = openedChannel;
            this.nativeFd = fd;
            this.nativeIo = fd >= 0;
        }
        catch (final IOException ex)
        {
            closeQuietly(openedChannel, fd);
            throw ex instanceof StorageException ? (StorageException)ex : openFailure(path, ex);
        }
        catch (final RuntimeException | Error ex)
        {
            closeQuietly(openedChannel, fd);
            throw ex;
        }
    }

    /**
     * Open an existing regular file or block device, with the size it has.
     * <p>
     * Calling thread: any thread that may block (control path).
     *
     * @param path     the file or device.
     * @param readOnly true to open without write access.
     * @return the open store; the caller closes it.
     * @throws StorageException EINVAL when the path does not exist, is empty, or is neither a regular file nor a block
     *                          device; EBUSY (16) when a writable device is mounted or claimed; EIO, EPERM otherwise.
     */
    public static FileBlockStore open(final Path path, final boolean readOnly) throws StorageException
    {
        return openOrCreate(path, -1, readOnly);
    }

    /**
     * Create a new sparse regular file of {@code sizeBytes} and open it for writing. Fails if the path exists.
     * <p>
     * Calling thread: any thread that may block (control path).
     *
     * @param path      the file to create; its directory must exist.
     * @param sizeBytes the size, greater than zero.
     * @return the open store; the caller closes it.
     * @throws StorageException EINVAL when the path exists, its directory does not, or the size is not positive.
     */
    public static FileBlockStore create(final Path path, final long sizeBytes) throws StorageException
    {
        checkSizeArgument(path, sizeBytes, false);
        createSparseFile(path, sizeBytes);
        return new FileBlockStore(path, false, false, sizeBytes, true);
    }

    /**
     * Open a regular file or block device, creating a sparse file when it is missing and a size is given: the
     * semantics of {@code mirra serve --disk PATH [--size SIZE]}.
     * <ul>
     *     <li>missing, size given: create a sparse regular file of that size (not when {@code readOnly}).</li>
     *     <li>missing, no size: EINVAL "PATH does not exist; give --size to create it".</li>
     *     <li>exists, no size: open it with its size (EINVAL if it is an empty file).</li>
     *     <li>exists, size given: the sizes must match, with one exception: an <em>empty</em> regular file opened for
     *     writing is extended sparsely to the size. Anything else is EINVAL naming both sizes; a store never
     *     truncates or grows a file that holds data, nor resizes a device.</li>
     * </ul>
     * Calling thread: any thread that may block (control path).
     *
     * @param path              the file or device; symbolic links are followed.
     * @param sizeBytesOrMinus1 the wanted size in bytes, or -1 for "use the existing size".
     * @param readOnly          true to open without write access.
     * @return the open store; the caller closes it.
     * @throws StorageException EINVAL for the cases above; EBUSY (16) when a writable device is mounted or claimed;
     *                          EPERM when access is denied; EIO otherwise.
     */
    public static FileBlockStore openOrCreate(final Path path, final long sizeBytesOrMinus1, final boolean readOnly)
        throws StorageException
    {
        return openOrCreate(path, sizeBytesOrMinus1, readOnly, true);
    }

    /**
     * As {@link #openOrCreate(Path, long, boolean)}; {@code useNative} false gives the FileChannel-only store that
     * is used when {@link LibC} cannot load (for tests of that fallback).
     */
    static FileBlockStore openOrCreate(
        final Path path, final long sizeBytesOrMinus1, final boolean readOnly, final boolean useNative)
        throws StorageException
    {
        checkSizeArgument(path, sizeBytesOrMinus1, true);

        BasicFileAttributes attributes = null;
        try
        {
            attributes = Files.readAttributes(path, BasicFileAttributes.class);
        }
        catch (final NoSuchFileException ignore)
        {
            // the path is missing: attributes stays null
        }
        catch (final IOException ex)
        {
            throw openFailure(path, ex);
        }

        if (null == attributes)
        {
            if (-1 == sizeBytesOrMinus1)
            {
                throw new StorageException(EINVAL, path + " does not exist; give --size to create it");
            }
            if (readOnly)
            {
                throw new StorageException(EINVAL, path + " does not exist, and a read-only store is not created");
            }
            createSparseFile(path, sizeBytesOrMinus1);
            return new FileBlockStore(path, false, false, sizeBytesOrMinus1, useNative);
        }

        if (attributes.isDirectory())
        {
            throw new StorageException(EINVAL, path + " is a directory, not a regular file or block device");
        }
        final boolean blockDevice = !attributes.isRegularFile() && isBlockDevice(path);
        if (!attributes.isRegularFile() && !blockDevice)
        {
            throw new StorageException(EINVAL, path + " is neither a regular file nor a block device");
        }
        if (!blockDevice && !readOnly && -1 != sizeBytesOrMinus1 && 0 == attributes.size())
        {
            extendEmptyFile(path, sizeBytesOrMinus1);
        }

        return new FileBlockStore(path, readOnly, blockDevice, sizeBytesOrMinus1, useNative);
    }

    /**
     * @return the path this store was opened with.
     */
    public Path path()
    {
        return path;
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public long sizeBytes()
    {
        return sizeBytes;
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public int preferredBlockSizeBytes()
    {
        return blockSizeBytes;
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public boolean isBlockDevice()
    {
        return blockDevice;
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public boolean isReadOnly()
    {
        return readOnly;
    }

    /**
     * {@inheritDoc}
     * <p>
     * A range past the end of a regular file (one truncated behind the store's back) reads as zeros.
     */
    @Override
    public void read(final ByteBuffer dst, final long byteOffset) throws StorageException
    {
        final int lengthBytes = dst.remaining();
        checkOpen("read", byteOffset, lengthBytes);
        checkRange("read", byteOffset, lengthBytes);

        final boolean interrupted = Thread.interrupted();
        try
        {
            long position = byteOffset;
            while (dst.hasRemaining())
            {
                final int bytesRead = channel.read(dst, position);
                if (bytesRead < 0)
                {
                    if (blockDevice)
                    {
                        throw new StorageException(
                            EIO, describe("read", byteOffset, lengthBytes) + " failed: end of device at " + position);
                    }
                    fillZeros(dst);
                    break;
                }
                position += bytesRead;
            }
        }
        catch (final IOException ex)
        {
            throw ioFailure("read", byteOffset, lengthBytes, ex);
        }
        finally
        {
            restoreInterrupt(interrupted);
        }
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public void write(final ByteBuffer src, final long byteOffset) throws StorageException
    {
        final int lengthBytes = src.remaining();
        checkWritable("write", byteOffset, lengthBytes);

        final boolean interrupted = Thread.interrupted();
        try
        {
            long position = byteOffset;
            while (src.hasRemaining())
            {
                position += channel.write(src, position);
            }
        }
        catch (final IOException ex)
        {
            throw ioFailure("write", byteOffset, lengthBytes, ex);
        }
        finally
        {
            restoreInterrupt(interrupted);
        }
    }

    /**
     * {@inheritDoc}
     * <p>
     * With the native library and direct buffers: pwritev on the native descriptor (the page cache and fdatasync are
     * per file, not per descriptor, so FileChannel's flush covers it), up to {@link #IOV_BATCH} buffers per call.
     */
    @Override
    public void write(final ByteBuffer[] srcs, final long byteOffset) throws StorageException
    {
        long lengthBytes = 0;
        boolean direct = true;
        for (final ByteBuffer src : srcs)
        {
            lengthBytes += src.remaining();
            direct &= src.isDirect();
        }
        if (srcs.length == 1 || !direct || nativeFd < 0)
        {
            BlockStore.super.write(srcs, byteOffset);
            return;
        }
        checkWritable("write", byteOffset, lengthBytes);
        final ByteBuffer iov = IOV.get();
        final long iovAddress = org.agrona.BufferUtil.address(iov);
        long position = byteOffset;
        int first = 0;
        while (first < srcs.length)
        {
            int count = 0;
            for (int i = first; i < srcs.length && count < IOV_BATCH; i++)
            {
                final ByteBuffer src = srcs[i];
                iov.putLong(count * 16, org.agrona.BufferUtil.address(src) + src.position());
                iov.putLong(count * 16 + 8, src.remaining());
                count++;
            }
            final long written = pwritev(iovAddress, count, position);
            if (written < 0)
            {
                throw nativeFailure("write", byteOffset, lengthBytes, (int)-written);
            }
            position += written;
            // Advance the buffers by what was written; a short write resumes inside a buffer.
            long left = written;
            while (first < srcs.length && left >= srcs[first].remaining())
            {
                left -= srcs[first].remaining();
                srcs[first].position(srcs[first].limit());
                first++;
            }
            if (left > 0)
            {
                srcs[first].position(srcs[first].position() + (int)left);
            }
        }
    }

    /**
     * @return bytes written, or minus the errno.
     */
    private long pwritev(final long iovAddress, final int count, final long byteOffset)
    {
        final long stamp = nativeFdLock.readLock();
        try
        {
            if (nativeFd < 0)
            {
                return -LibC.EBADF;
            }
            long result;
            do
            {
                result = LibC.pwritev(nativeFd, iovAddress, count, byteOffset);
            }
            while (result < 0 && LibC.errno() == LibC.EINTR);
            return result >= 0 ? result : -LibC.errno();
        }
        finally
        {
            nativeFdLock.unlockRead(stamp);
        }
    }

    /**
     * {@inheritDoc}
     * <p>
     * {@code FileChannel.force(false)}, i.e. fdatasync. Does nothing on a read-only store.
     */
    @Override
    public void flush() throws StorageException
    {
        checkOpen("flush", 0, sizeBytes);
        if (readOnly)
        {
            return;
        }

        final boolean interrupted = Thread.interrupted();
        try
        {
            channel.force(false);
        }
        catch (final IOException ex)
        {
            throw ioFailure("flush", 0, sizeBytes, ex);
        }
        finally
        {
            restoreInterrupt(interrupted);
        }
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public boolean canTrim()
    {
        return nativeIo && !readOnly && (blockDevice ? discardSupported : punchHoleSupported);
    }

    /**
     * {@inheritDoc}
     * <p>
     * A file gets a punched hole (the range reads as zeros). A device gets BLKDISCARD on the logical blocks that the
     * range covers entirely; partial blocks at either end are left alone, since trim is only advice.
     *
     * @throws StorageException EROFS on a read-only store, EINVAL out of range, EIO when closed or on failure.
     */
    @Override
    public void trim(final long byteOffset, final long lengthBytes) throws StorageException
    {
        checkWritable("trim", byteOffset, lengthBytes);
        if (0 == lengthBytes || !canTrim())
        {
            return;
        }

        if (blockDevice)
        {
            final long start = alignUp(byteOffset);
            final long end = alignDown(byteOffset + lengthBytes);
            if (end > start)
            {
                final int errno = ioctlRange(LibC.BLKDISCARD, start, end - start);
                if (0 != errno)
                {
                    if (!isUnsupported(errno))
                    {
                        throw nativeFailure("trim", byteOffset, lengthBytes, errno);
                    }
                    discardSupported = false;
                    logUnsupported("BLKDISCARD", errno, "trim is disabled");
                }
            }
        }
        else
        {
            final int errno = fallocate(LibC.FALLOC_FL_PUNCH_HOLE | LibC.FALLOC_FL_KEEP_SIZE, byteOffset, lengthBytes);
            if (0 != errno)
            {
                if (!isUnsupported(errno))
                {
                    throw nativeFailure("trim", byteOffset, lengthBytes, errno);
                }
                punchHoleSupported = false;
                logUnsupported("fallocate(PUNCH_HOLE)", errno, "trim is disabled");
            }
        }
    }

    /**
     * {@inheritDoc}
     * <p>
     * A file: punch hole when {@code mayPunch}, else (or when punching is unsupported) FALLOC_FL_ZERO_RANGE, else
     * writing zeros unless {@code fastOnly}. A device: BLKZEROOUT on the whole logical blocks of the range (the
     * partial blocks at either end, under one block each, are written), else writing zeros unless {@code fastOnly}.
     *
     * @throws StorageException EROFS on a read-only store, EINVAL out of range, ENOSPC, EIO when closed or on failure.
     */
    @Override
    public boolean zero(final long byteOffset, final long lengthBytes, final boolean mayPunch, final boolean fastOnly)
        throws StorageException
    {
        checkWritable("zero", byteOffset, lengthBytes);
        if (0 == lengthBytes)
        {
            return true;
        }
        if (blockDevice)
        {
            return zeroDevice(byteOffset, lengthBytes, fastOnly);
        }

        if (nativeIo && mayPunch && punchHoleSupported)
        {
            final int errno = fallocate(LibC.FALLOC_FL_PUNCH_HOLE | LibC.FALLOC_FL_KEEP_SIZE, byteOffset, lengthBytes);
            if (0 == errno)
            {
                return true;
            }
            if (!isUnsupported(errno))
            {
                throw nativeFailure("zero", byteOffset, lengthBytes, errno);
            }
            punchHoleSupported = false;
            logUnsupported("fallocate(PUNCH_HOLE)", errno, "trim is disabled and zeroing does not punch holes");
        }

        if (nativeIo && zeroRangeSupported)
        {
            final int errno = fallocate(LibC.FALLOC_FL_ZERO_RANGE | LibC.FALLOC_FL_KEEP_SIZE, byteOffset, lengthBytes);
            if (0 == errno)
            {
                return true;
            }
            if (!isUnsupported(errno))
            {
                throw nativeFailure("zero", byteOffset, lengthBytes, errno);
            }
            zeroRangeSupported = false;
            logUnsupported("fallocate(ZERO_RANGE)", errno, "zeroing without punching writes zeros");
        }

        if (fastOnly)
        {
            return false;
        }
        writeZeros(byteOffset, lengthBytes);
        return true;
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public boolean canReportExtents()
    {
        return nativeIo && !blockDevice;
    }

    /**
     * {@inheritDoc}
     * <p>
     * A file: walks SEEK_DATA/SEEK_HOLE; the range past the end of a truncated file is a hole. On ext4, ranges
     * zeroed with FALLOC_FL_ZERO_RANGE stay allocated as unwritten extents, which are reported as holes until a read
     * brings them into the page cache, and as data afterwards; either way they read as zeros. A device, or a store
     * without native I/O: one data run. The sink runs on the calling thread, outside any lock.
     */
    @Override
    public void extents(final long byteOffset, final long lengthBytes, final ExtentSink sink) throws StorageException
    {
        checkOpen("extents", byteOffset, lengthBytes);
        checkRange("extents", byteOffset, lengthBytes);
        if (0 == lengthBytes)
        {
            return;
        }
        if (!canReportExtents())
        {
            sink.onExtent(lengthBytes, false);
            return;
        }

        final long end = byteOffset + lengthBytes;
        long position = byteOffset;
        while (position < end)
        {
            final long dataStart = seek(position, LibC.SEEK_DATA);
            if (dataStart < 0)
            {
                if (LibC.ENXIO == (int)-dataStart)
                {
                    sink.onExtent(end - position, true); // no data from here to the end of the file
                    return;
                }
                throw nativeFailure("extents", byteOffset, lengthBytes, (int)-dataStart);
            }

            if (dataStart > position)
            {
                final long holeEnd = Math.min(dataStart, end);
                if (!sink.onExtent(holeEnd - position, true) || holeEnd == end)
                {
                    return;
                }
                position = holeEnd;
            }

            long holeStart = seek(position, LibC.SEEK_HOLE);
            if (holeStart < 0)
            {
                if (LibC.ENXIO != (int)-holeStart)
                {
                    throw nativeFailure("extents", byteOffset, lengthBytes, (int)-holeStart);
                }
                sink.onExtent(end - position, true); // the file was truncated under us
                return;
            }
            if (holeStart <= position)
            {
                holeStart = end; // never seen; guarantees progress if a file system answers inconsistently
            }

            final long dataEnd = Math.min(holeStart, end);
            if (!sink.onExtent(dataEnd - position, false))
            {
                return;
            }
            position = dataEnd;
        }
    }

    /**
     * {@inheritDoc}
     * <p>
     * Idempotent. Waits for native calls in flight on other threads (never for FileChannel calls, which fail).
     */
    @Override
    public synchronized void close() throws StorageException
    {
        if (closed)
        {
            return;
        }
        closed = true;

        IOException failure = null;
        try
        {
            channel.close();
        }
        catch (final IOException ex)
        {
            failure = ex;
        }

        final long stamp = nativeFdLock.writeLock();
        try
        {
            if (nativeFd >= 0)
            {
                LibC.close(nativeFd);
                nativeFd = -1;
            }
        }
        finally
        {
            nativeFdLock.unlockWrite(stamp);
        }

        if (null != failure)
        {
            throw new StorageException(EIO, "close " + path + " failed: " + failure.getMessage(), failure);
        }
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public String toString()
    {
        return "FileBlockStore{path=" + path + ", sizeBytes=" + sizeBytes + ", blockDevice=" + blockDevice +
            ", readOnly=" + readOnly + ", nativeIo=" + nativeIo + '}';
    }

    private boolean zeroDevice(final long byteOffset, final long lengthBytes, final boolean fastOnly)
        throws StorageException
    {
        final long end = byteOffset + lengthBytes;
        final long alignedStart = alignUp(byteOffset);
        final long alignedEnd = alignDown(end);
        if (alignedEnd <= alignedStart)
        {
            writeZeros(byteOffset, lengthBytes); // under two blocks: as cheap as any ioctl
            return true;
        }

        if (nativeIo && zeroOutSupported)
        {
            final int errno = ioctlRange(LibC.BLKZEROOUT, alignedStart, alignedEnd - alignedStart);
            if (0 == errno)
            {
                // The ioctl goes first, so that a failure leaves the range unchanged for a fastOnly caller.
                if (alignedStart > byteOffset)
                {
                    writeZeros(byteOffset, alignedStart - byteOffset);
                }
                if (end > alignedEnd)
                {
                    writeZeros(alignedEnd, end - alignedEnd);
                }
                return true;
            }
            if (!isUnsupported(errno))
            {
                throw nativeFailure("zero", byteOffset, lengthBytes, errno);
            }
            zeroOutSupported = false;
            logUnsupported("BLKZEROOUT", errno, "zeroing writes zeros");
        }

        if (fastOnly)
        {
            return false;
        }
        writeZeros(byteOffset, lengthBytes);
        return true;
    }

    private void writeZeros(final long byteOffset, final long lengthBytes) throws StorageException
    {
        final ByteBuffer zeros = ZEROS.duplicate();
        final long end = byteOffset + lengthBytes;
        final boolean interrupted = Thread.interrupted();
        try
        {
            long position = byteOffset;
            while (position < end)
            {
                zeros.limit((int)Math.min(ZERO_CHUNK_BYTES, end - position)).position(0);
                while (zeros.hasRemaining())
                {
                    position += channel.write(zeros, position);
                }
            }
        }
        catch (final IOException ex)
        {
            throw ioFailure("zero", byteOffset, lengthBytes, ex);
        }
        finally
        {
            restoreInterrupt(interrupted);
        }
    }

    private static void fillZeros(final ByteBuffer dst)
    {
        final ByteBuffer zeros = ZEROS.duplicate();
        while (dst.hasRemaining())
        {
            zeros.limit(Math.min(ZERO_CHUNK_BYTES, dst.remaining())).position(0);
            dst.put(zeros);
        }
    }

    /**
     * @return 0 or the errno.
     */
    private int fallocate(final int mode, final long byteOffset, final long lengthBytes)
    {
        final long stamp = nativeFdLock.readLock();
        try
        {
            if (nativeFd < 0)
            {
                return LibC.EBADF;
            }
            int errno;
            do
            {
                errno = 0 == LibC.fallocate(nativeFd, mode, byteOffset, lengthBytes) ? 0 : LibC.errno();
            }
            while (LibC.EINTR == errno);
            return errno;
        }
        finally
        {
            nativeFdLock.unlockRead(stamp);
        }
    }

    /**
     * @return 0 or the errno.
     */
    private int ioctlRange(final long request, final long byteOffset, final long lengthBytes)
    {
        final long stamp = nativeFdLock.readLock();
        try
        {
            if (nativeFd < 0)
            {
                return LibC.EBADF;
            }
            int errno;
            do
            {
                errno = LibC.ioctlRange(nativeFd, request, byteOffset, lengthBytes) >= 0 ? 0 : LibC.errno();
            }
            while (LibC.EINTR == errno);
            return errno;
        }
        finally
        {
            nativeFdLock.unlockRead(stamp);
        }
    }

    /**
     * @return the offset found, or minus the errno.
     */
    private long seek(final long byteOffset, final int whence)
    {
        final long stamp = nativeFdLock.readLock();
        try
        {
            if (nativeFd < 0)
            {
                return -LibC.EBADF;
            }
            final long result = LibC.lseek(nativeFd, byteOffset, whence);
            return result >= 0 ? result : -LibC.errno();
        }
        finally
        {
            nativeFdLock.unlockRead(stamp);
        }
    }

    private long alignUp(final long byteOffset)
    {
        return (byteOffset + blockSizeBytes - 1) & -blockSizeBytes;
    }

    private long alignDown(final long byteOffset)
    {
        return byteOffset & -blockSizeBytes;
    }

    private void checkOpen(final String operation, final long byteOffset, final long lengthBytes)
        throws StorageException
    {
        if (closed)
        {
            throw new StorageException(EIO, "store closed: " + describe(operation, byteOffset, lengthBytes));
        }
    }

    private void checkRange(final String operation, final long byteOffset, final long lengthBytes)
        throws StorageException
    {
        if (byteOffset < 0 || lengthBytes < 0 || byteOffset > sizeBytes || lengthBytes > sizeBytes - byteOffset)
        {
            throw new StorageException(
                EINVAL, describe(operation, byteOffset, lengthBytes) + " is outside the store of " + sizeBytes +
                " bytes");
        }
    }

    private void checkWritable(final String operation, final long byteOffset, final long lengthBytes)
        throws StorageException
    {
        checkOpen(operation, byteOffset, lengthBytes);
        if (readOnly)
        {
            throw new StorageException(EROFS, describe(operation, byteOffset, lengthBytes) + ": store is read-only");
        }
        checkRange(operation, byteOffset, lengthBytes);
    }

    private String describe(final String operation, final long byteOffset, final long lengthBytes)
    {
        return operation + " " + path + " offset=" + byteOffset + " length=" + lengthBytes;
    }

    private StorageException ioFailure(
        final String operation, final long byteOffset, final long lengthBytes, final IOException ex)
    {
        if (ex instanceof ClosedByInterruptException)
        {
            LOGGER.log(
                System.Logger.Level.ERROR,
                "a thread interrupt closed " + path + " during " + describe(operation, byteOffset, lengthBytes) +
                "; every later call fails. Disk I/O threads must never be interrupted.");
            return new StorageException(
                EIO, "store closed (by a thread interrupt): " + describe(operation, byteOffset, lengthBytes), ex);
        }
        if (closed || ex instanceof ClosedChannelException)
        {
            return new StorageException(EIO, "store closed: " + describe(operation, byteOffset, lengthBytes), ex);
        }
        return new StorageException(
            errnoOf(ex), describe(operation, byteOffset, lengthBytes) + " failed: " + ex.getMessage(), ex);
    }

    private StorageException nativeFailure(
        final String operation, final long byteOffset, final long lengthBytes, final int nativeErrno)
    {
        if (closed || LibC.EBADF == nativeErrno)
        {
            return new StorageException(EIO, "store closed: " + describe(operation, byteOffset, lengthBytes));
        }

        final int errno;
        switch (nativeErrno)
        {
            case LibC.ENOSPC:
            case LibC.EDQUOT:
                errno = ENOSPC;
                break;

            case LibC.EROFS:
                errno = EROFS;
                break;

            case LibC.EOPNOTSUPP:
                errno = ENOTSUP;
                break;

            default:
                errno = EIO;
        }

        return new StorageException(
            errno, describe(operation, byteOffset, lengthBytes) + " failed: errno " + nativeErrno + " (" +
            LibC.strerror(nativeErrno) + ")");
    }

    private void logUnsupported(final String call, final int errno, final String consequence)
    {
        LOGGER.log(
            System.Logger.Level.INFO,
            path + ": " + call + " is not supported (" + LibC.strerror(errno) + "); " + consequence);
    }

    private static boolean isUnsupported(final int errno)
    {
        return LibC.EOPNOTSUPP == errno || LibC.ENOTTY == errno;
    }

    private static int errnoOf(final IOException ex)
    {
        if (ex instanceof AccessDeniedException)
        {
            return EPERM;
        }
        final String message = String.valueOf(ex.getMessage());
        if (message.contains("No space left on device") || message.contains("Disk quota exceeded"))
        {
            return ENOSPC;
        }
        if (message.contains("Read-only file system"))
        {
            return EROFS;
        }
        return EIO;
    }

    private static void restoreInterrupt(final boolean interrupted)
    {
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    private static String errnoText()
    {
        final int errno = LibC.errno();
        return "errno " + errno + " (" + LibC.strerror(errno) + ")";
    }

    private static StorageException openFailure(final Path path, final IOException ex)
    {
        final String reason = ex instanceof AccessDeniedException ? "permission denied" : ex.getMessage();
        return new StorageException(errnoOf(ex), "cannot open " + path + ": " + reason, ex);
    }

    private static int openNative(final Path path, final boolean readOnly, final boolean blockDevice)
        throws StorageException
    {
        // O_EXCL on a block device claims it, as DRBD does: it fails with EBUSY while mounted, and blocks mounting.
        final int flags = readOnly ? LibC.O_RDONLY | LibC.O_CLOEXEC :
            LibC.O_RDWR | LibC.O_CLOEXEC | (blockDevice ? LibC.O_EXCL : 0);
        final int fd = LibC.open(path.toString(), flags);
        if (fd >= 0)
        {
            return fd;
        }

        final int errno = LibC.errno();
        if (blockDevice && LibC.EBUSY == errno)
        {
            throw new StorageException(
                LibC.EBUSY, "cannot open " + path + ": the device is in use (mounted, or claimed by another program)");
        }
        LOGGER.log(
            System.Logger.Level.WARNING,
            "cannot open a native descriptor for " + path + " (errno " + errno + ", " + LibC.strerror(errno) +
            "): trim is disabled, extents report all data, and zeroing writes zeros");
        return -1;
    }

    private static void checkSize(
        final Path path, final boolean blockDevice, final long actualSizeBytes, final long requestedSizeBytes)
        throws StorageException
    {
        if (-1 == requestedSizeBytes)
        {
            if (0 == actualSizeBytes)
            {
                throw new StorageException(EINVAL, path + " is empty; give --size to set its size");
            }
        }
        else if (actualSizeBytes != requestedSizeBytes)
        {
            final String rule = blockDevice ? "a block device is never resized" :
                "only an empty file is extended to --size; a file holding data is never resized";
            throw new StorageException(
                EINVAL, path + " is " + actualSizeBytes + " bytes but --size is " + requestedSizeBytes + " bytes (" +
                rule + ")");
        }
    }

    private static void checkSizeArgument(final Path path, final long sizeBytes, final boolean minusOneAllowed)
        throws StorageException
    {
        if (sizeBytes <= 0 && !(minusOneAllowed && -1 == sizeBytes))
        {
            throw new StorageException(EINVAL, path + ": size must be greater than zero, not " + sizeBytes);
        }
    }

    private static void createSparseFile(final Path path, final long sizeBytes) throws StorageException
    {
        try
        {
            Files.createFile(path);
        }
        catch (final FileAlreadyExistsException ex)
        {
            throw new StorageException(EINVAL, "cannot create " + path + ": it already exists", ex);
        }
        catch (final NoSuchFileException ex)
        {
            throw new StorageException(EINVAL, "cannot create " + path + ": its directory does not exist", ex);
        }
        catch (final IOException ex)
        {
            throw new StorageException(errnoOf(ex), "cannot create " + path + ": " + ex.getMessage(), ex);
        }

        try
        {
            setLength(path, sizeBytes, false);
        }
        catch (final StorageException ex)
        {
            try
            {
                Files.deleteIfExists(path); // do not leave an empty file that a retry would then extend
            }
            catch (final IOException suppressed)
            {
                ex.addSuppressed(suppressed);
            }
            throw ex;
        }
    }

    private static void extendEmptyFile(final Path path, final long sizeBytes) throws StorageException
    {
        setLength(path, sizeBytes, true);
    }

    private static void setLength(final Path path, final long sizeBytes, final boolean onlyIfEmpty)
        throws StorageException
    {
        // RandomAccessFile.setLength is ftruncate, which extends sparsely; FileChannel.truncate only shrinks.
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw"))
        {
            if (!onlyIfEmpty || 0 == file.length())
            {
                file.setLength(sizeBytes);
            }
        }
        catch (final IOException ex)
        {
            throw new StorageException(
                errnoOf(ex), "cannot set the size of " + path + " to " + sizeBytes + " bytes: " + ex.getMessage(), ex);
        }
    }

    private static boolean isBlockDevice(final Path path) throws StorageException
    {
        try
        {
            final int mode = (Integer)Files.getAttribute(path, "unix:mode");
            return S_IFBLK == (mode & S_IFMT);
        }
        catch (final UnsupportedOperationException | IllegalArgumentException ex)
        {
            throw new StorageException(EINVAL, "cannot tell whether " + path + " is a block device", ex);
        }
        catch (final IOException ex)
        {
            throw openFailure(path, ex);
        }
    }

    private static int deviceBlockSize(final int fd)
    {
        final int size = fd >= 0 ? LibC.ioctlReadInt(fd, LibC.BLKSSZGET) : -1;
        return isUsableBlockSize(size) ? size : DEFAULT_DEVICE_BLOCK_SIZE;
    }

    private static int fileBlockSize(final Path path)
    {
        try
        {
            final long size = Files.getFileStore(path).getBlockSize();
            return size <= MAX_BLOCK_SIZE && isUsableBlockSize((int)size) ? (int)size : DEFAULT_FILE_BLOCK_SIZE;
        }
        catch (final IOException | UnsupportedOperationException ex)
        {
            return DEFAULT_FILE_BLOCK_SIZE;
        }
    }

    private static boolean isUsableBlockSize(final int size)
    {
        return size >= 512 && size <= MAX_BLOCK_SIZE && 0 == (size & (size - 1));
    }

    private static void closeQuietly(final FileChannel channel, final int fd)
    {
        if (fd >= 0)
        {
            LibC.close(fd);
        }
        if (null != channel)
        {
            try
            {
                channel.close();
            }
            catch (final IOException ignore)
            {
                // already failing; the original exception is the one to report
            }
        }
    }
}
