package io.mirra.nbd.test;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Memory held by Netty's shared allocators, whichever of them the server uses (pooled, adaptive or unpooled).
 */
public final class NettyMemory
{
    private NettyMemory()
    {
    }

    /** @return heap plus direct bytes in use by the default pooled, default and unpooled allocators. */
    public static long usedBytes()
    {
        final Map<ByteBufAllocator, Boolean> seen = new IdentityHashMap<>();
        long used = 0;
        for (final ByteBufAllocator allocator : new ByteBufAllocator[] {
            PooledByteBufAllocator.DEFAULT, ByteBufAllocator.DEFAULT, UnpooledByteBufAllocator.DEFAULT})
        {
            if (seen.put(allocator, Boolean.TRUE) == null && allocator instanceof ByteBufAllocatorMetricProvider)
            {
                final var metric = ((ByteBufAllocatorMetricProvider)allocator).metric();
                used += metric.usedHeapMemory() + metric.usedDirectMemory();
            }
        }
        return used;
    }
}
