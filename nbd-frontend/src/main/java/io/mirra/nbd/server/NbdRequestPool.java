package io.mirra.nbd.server;

import io.mirra.nbd.spi.NbdRequest;

/**
 * Per-connection free list of {@link NbdRequest}s, so the steady state allocates no request objects.
 * Used only on the connection's event loop: not thread-safe.
 */
final class NbdRequestPool
{
    private final NbdRequest.Completion completion;
    private final NbdRequest[] free;
    private int size;

    NbdRequestPool(final NbdRequest.Completion completion, final int capacity)
    {
        this.completion = completion;
        this.free = new NbdRequest[capacity];
    }

    NbdRequest acquire()
    {
        if (size == 0)
        {
            return new NbdRequest(completion);
        }
        final NbdRequest request = free[--size];
        free[size] = null;
        return request;
    }

    void release(final NbdRequest request)
    {
        if (size < free.length)
        {
            free[size++] = request;
        }
    }
}
