package io.mirra.test;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;

/**
 * An allocator for fuzz tests that knows, to the byte, how much memory its live buffers hold and the most they ever
 * held at once, so a test can bound it by what was received, and check that everything was released (live 0).
 * <p>
 * Every buffer is an unpooled heap buffer, direct ones included: the decoders only copy and slice bytes, so where
 * the bytes live does not matter, and heap arrays can be counted exactly (including every capacity change).
 * Buffers are not wrapped for Netty's leak detector: the live count is a stricter, deterministic leak check, and
 * paranoid tracking of every access would slow fuzzing down a lot. Single-threaded, like an EmbeddedChannel.
 */
public final class TrackingAllocator extends AbstractByteBufAllocator
{
    private long live;
    private long peak;

    public TrackingAllocator()
    {
        super(false);
    }

    /** @return bytes held by buffers of this allocator that are not released yet. */
    public long live()
    {
        return live;
    }

    /** @return the most bytes held at once so far. */
    public long peak()
    {
        return peak;
    }

    @Override
    public ByteBuf heapBuffer(final int initialCapacity, final int maxCapacity)
    {
        if (initialCapacity < 0 || initialCapacity > maxCapacity)
        {
            throw new IllegalArgumentException("initialCapacity " + initialCapacity + ", maxCapacity " + maxCapacity);
        }
        return new TrackedHeapByteBuf(this, initialCapacity, maxCapacity);
    }

    @Override
    public ByteBuf directBuffer(final int initialCapacity, final int maxCapacity)
    {
        return heapBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public CompositeByteBuf compositeHeapBuffer(final int maxNumComponents)
    {
        return new CompositeByteBuf(this, false, maxNumComponents);
    }

    @Override
    public CompositeByteBuf compositeDirectBuffer(final int maxNumComponents)
    {
        return new CompositeByteBuf(this, true, maxNumComponents);
    }

    @Override
    protected ByteBuf newHeapBuffer(final int initialCapacity, final int maxCapacity)
    {
        return heapBuffer(initialCapacity, maxCapacity);
    }

    @Override
    protected ByteBuf newDirectBuffer(final int initialCapacity, final int maxCapacity)
    {
        return heapBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public boolean isDirectBufferPooled()
    {
        return false;
    }

    private void allocated(final int bytes)
    {
        live += bytes;
        peak = Math.max(peak, live);
    }

    private void freed(final int bytes)
    {
        live -= bytes;
    }

    /** Reports each backing array it allocates (also when growing) and frees to its allocator. */
    private static final class TrackedHeapByteBuf extends UnpooledHeapByteBuf
    {
        TrackedHeapByteBuf(final TrackingAllocator alloc, final int initialCapacity, final int maxCapacity)
        {
            super(alloc, initialCapacity, maxCapacity);
        }

        @Override
        protected byte[] allocateArray(final int initialCapacity)
        {
            final byte[] array = super.allocateArray(initialCapacity);
            ((TrackingAllocator)alloc()).allocated(array.length);
            return array;
        }

        @Override
        protected void freeArray(final byte[] array)
        {
            ((TrackingAllocator)alloc()).freed(array.length);
            super.freeArray(array);
        }
    }
}
