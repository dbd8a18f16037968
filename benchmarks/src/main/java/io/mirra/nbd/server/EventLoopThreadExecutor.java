package io.mirra.nbd.server;

import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.FastThreadLocalThread;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * JMH executor whose worker threads are Netty {@link FastThreadLocalThread}s, like the event loops that run the NBD
 * server's handlers. Netty treats those threads differently: {@code PooledByteBufAllocator.DEFAULT} gives them a
 * thread cache (other threads go to the shared arenas), and the adaptive allocator and the object recycler use
 * thread-local state. Benchmarks of Netty code select it with
 * <pre>
 * &#64;Fork(jvmArgsAppend = {EventLoopThreadExecutor.JVM_ARG_EXECUTOR, EventLoopThreadExecutor.JVM_ARG_CLASS})
 * </pre>
 * and JMH instantiates it in the forked JVM with {@code (maxThreads, threadNamePrefix)}. Without a fork
 * ({@code -f 0}), or with {@code -jvmArgsAppend} on the command line, the annotation has no effect and
 * {@link #check(String)} warns.
 */
public final class EventLoopThreadExecutor extends ThreadPoolExecutor
{
    /** Selects a custom JMH executor. */
    public static final String JVM_ARG_EXECUTOR = "-Djmh.executor=CUSTOM";
    /** Names this class as the custom JMH executor. */
    public static final String JVM_ARG_CLASS = "-Djmh.executor.class=io.mirra.nbd.server.EventLoopThreadExecutor";

    /**
     * @param maxThreads       JMH worker threads.
     * @param threadNamePrefix JMH's name for them.
     */
    public EventLoopThreadExecutor(final int maxThreads, final String threadNamePrefix)
    {
        super(maxThreads, maxThreads, 1, TimeUnit.MINUTES, new LinkedBlockingQueue<>(),
            new DefaultThreadFactory(threadNamePrefix, true));
    }

    /**
     * Warns when the calling benchmark thread is not a {@link FastThreadLocalThread} (the executor was not used).
     *
     * @param benchmark name for the warning.
     */
    static void check(final String benchmark)
    {
        if (!(Thread.currentThread() instanceof FastThreadLocalThread))
        {
            System.out.println("# WARNING: " + benchmark + " runs on " + Thread.currentThread() + ", not on a Netty " +
                "FastThreadLocalThread as the server's event loops do; allocator and recycler costs will differ");
        }
    }
}
