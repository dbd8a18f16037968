package io.mirra.engine.storage;

import java.nio.ByteBuffer;

/**
 * A {@link BlockStore} that fails on demand, for fault-injection tests (the randomized checker, disk-failure tests):
 * while an errno is set, every read, write, flush, trim and zero fails with it (EIO for a dying disk, ENOSPC for a
 * full file system). A node wraps its disks in it only when started with fault injection enabled by test
 * configuration ({@code MIRRA_TEST_FAULTS=1}); it costs one volatile read per request. Thread-safe.
 */
public final class FaultInjectingStore implements BlockStore
{
    private final BlockStore delegate;
    private volatile int failWith;

    /** @param delegate the real store; closed with this one. */
    public FaultInjectingStore(final BlockStore delegate)
    {
        this.delegate = delegate;
    }

    /** @param errno fail every request with it from now on (e.g. {@link StorageException#EIO}); 0 heals. */
    public void failWith(final int errno)
    {
        if (errno < 0)
        {
            throw new IllegalArgumentException("errno " + errno);
        }
        failWith = errno;
    }

    /** @return the errno requests fail with, 0 when healthy. */
    public int failingWith()
    {
        return failWith;
    }

    private void check(final String what) throws StorageException
    {
        final int errno = failWith;
        if (errno != 0)
        {
            throw new StorageException(errno, "injected fault on " + what);
        }
    }

    @Override
    public long sizeBytes()
    {
        return delegate.sizeBytes();
    }

    @Override
    public int preferredBlockSizeBytes()
    {
        return delegate.preferredBlockSizeBytes();
    }

    @Override
    public boolean isBlockDevice()
    {
        return delegate.isBlockDevice();
    }

    @Override
    public boolean isReadOnly()
    {
        return delegate.isReadOnly();
    }

    @Override
    public void read(final ByteBuffer dst, final long byteOffset) throws StorageException
    {
        check("read");
        delegate.read(dst, byteOffset);
    }

    @Override
    public void write(final ByteBuffer src, final long byteOffset) throws StorageException
    {
        check("write");
        delegate.write(src, byteOffset);
    }

    @Override
    public void write(final ByteBuffer[] srcs, final long byteOffset) throws StorageException
    {
        check("write");
        delegate.write(srcs, byteOffset);
    }

    @Override
    public void flush() throws StorageException
    {
        check("flush");
        delegate.flush();
    }

    @Override
    public boolean canTrim()
    {
        return delegate.canTrim();
    }

    @Override
    public void trim(final long byteOffset, final long lengthBytes) throws StorageException
    {
        check("trim");
        delegate.trim(byteOffset, lengthBytes);
    }

    @Override
    public boolean zero(final long byteOffset, final long lengthBytes, final boolean mayPunch, final boolean fastOnly)
        throws StorageException
    {
        check("zero");
        return delegate.zero(byteOffset, lengthBytes, mayPunch, fastOnly);
    }

    @Override
    public boolean canReportExtents()
    {
        return delegate.canReportExtents();
    }

    @Override
    public void extents(final long byteOffset, final long lengthBytes, final ExtentSink sink) throws StorageException
    {
        check("extents");
        delegate.extents(byteOffset, lengthBytes, sink);
    }

    @Override
    public void close() throws StorageException
    {
        delegate.close();
    }
}
