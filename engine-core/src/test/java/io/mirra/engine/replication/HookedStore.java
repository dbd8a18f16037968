package io.mirra.engine.replication;

import io.mirra.engine.storage.BlockStore;
import io.mirra.engine.storage.FaultInjectingStore;
import io.mirra.engine.storage.StorageException;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A store that records the order of the writes and flushes it receives and lets a test hold a write at a given
 * offset until released (a slow disk), to observe ordering on a peer deterministically.
 */
final class HookedStore implements BlockStore
{
    private final FaultInjectingStore delegate;
    final List<Long> writeOffsets = new CopyOnWriteArrayList<>();
    final AtomicInteger flushes = new AtomicInteger();
    private volatile long holdOffset = -1;
    private volatile long holdReadOffset = -1;
    private final Object holdLock = new Object();
    private boolean released;
    private volatile boolean holding;

    HookedStore(final BlockStore delegate)
    {
        this.delegate = new FaultInjectingStore(delegate);
    }

    /** The next write at this offset blocks until {@link #release()}. */
    void holdWriteAt(final long offset)
    {
        synchronized (holdLock)
        {
            released = false;
        }
        holdOffset = offset;
    }

    /** The next read at this offset blocks until {@link #release()}. */
    void holdReadAt(final long offset)
    {
        synchronized (holdLock)
        {
            released = false;
        }
        holdReadOffset = offset;
    }

    /** @return true while a held write or read is blocked. */
    boolean isHolding()
    {
        return holding;
    }

    void release()
    {
        synchronized (holdLock)
        {
            released = true;
            holdLock.notifyAll();
        }
    }

    private void maybeHold(final long offset)
    {
        if (offset != holdOffset)
        {
            return;
        }
        holdOffset = -1;
        block();
    }

    private void block()
    {
        synchronized (holdLock)
        {
            holding = true;
            while (!released)
            {
                try
                {
                    holdLock.wait();
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            holding = false;
        }
    }

    /** @param errno fail every request with it from now on (a failing disk); 0 to heal the disk. */
    void failIo(final int errno)
    {
        delegate.failWith(errno);
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
        if (byteOffset == holdReadOffset)
        {
            holdReadOffset = -1;
            block();
        }
        delegate.read(dst, byteOffset);
    }

    @Override
    public void write(final ByteBuffer src, final long byteOffset) throws StorageException
    {
        maybeHold(byteOffset);
        delegate.write(src, byteOffset);
        writeOffsets.add(byteOffset);
    }

    @Override
    public void write(final ByteBuffer[] srcs, final long byteOffset) throws StorageException
    {
        maybeHold(byteOffset);
        delegate.write(srcs, byteOffset);
        writeOffsets.add(byteOffset);
    }

    @Override
    public void flush() throws StorageException
    {
        delegate.flush();
        flushes.incrementAndGet();
    }

    @Override
    public boolean canTrim()
    {
        return delegate.canTrim();
    }

    @Override
    public void trim(final long byteOffset, final long lengthBytes) throws StorageException
    {
        delegate.trim(byteOffset, lengthBytes);
    }

    @Override
    public boolean zero(final long byteOffset, final long lengthBytes, final boolean mayPunch, final boolean fastOnly)
        throws StorageException
    {
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
        delegate.extents(byteOffset, lengthBytes, sink);
    }

    @Override
    public void close() throws StorageException
    {
        delegate.close();
    }
}
