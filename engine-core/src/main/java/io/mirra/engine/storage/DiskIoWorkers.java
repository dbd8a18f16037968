package io.mirra.engine.storage;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small fixed pool of threads: the only place where blocking disk I/O ({@link BlockStore} calls) runs.
 * <p>
 * Tasks wait in one bounded {@link ArrayBlockingQueue} (no allocation per task beyond the caller's own task object)
 * and run in FIFO order of taking, on as many threads as were asked for. A task that throws is logged and the worker
 * carries on. Completions are the task's business: it hands its result back over a queue of the caller's choice.
 * <p>
 * The workers are never interrupted, not even by {@link #close()}: an interrupt during a FileChannel call would close
 * the channel of the whole store. Close enqueues one stop marker per worker behind the pending tasks instead, so that
 * every accepted task runs before the workers exit.
 * <p>
 * Threading: {@link #offer(Runnable)} and {@link #queueDepth()} are thread-safe, never block, and may be called from
 * any thread, including a Netty event loop. {@link #close()} blocks and must not be called from a worker thread.
 */
public final class DiskIoWorkers implements AutoCloseable
{
    private static final System.Logger LOGGER = System.getLogger(DiskIoWorkers.class.getName());

    // Identity matters, not behaviour: a worker that takes it exits.
    private static final Runnable STOP = () -> {};

    private final String name;
    private final ArrayBlockingQueue<Runnable> queue;
    private final Thread[] threads;
    // Counts offer() calls in progress, so that close() can wait until no task can slip in behind the stop markers.
    private final AtomicInteger offersInProgress = new AtomicInteger();
    private volatile boolean closed;

    /**
     * Start the worker threads, named {@code name-0} to {@code name-(threads-1)}; they are daemon threads.
     * <p>
     * Calling thread: any (control path).
     *
     * @param name          prefix of the thread names, e.g. "mirra-disk".
     * @param threads       number of threads, at least 1.
     * @param queueCapacity tasks that may wait, at least 1; {@link #offer(Runnable)} fails beyond it.
     */
    public DiskIoWorkers(final String name, final int threads, final int queueCapacity)
    {
        if (threads < 1 || queueCapacity < 1)
        {
            throw new IllegalArgumentException(
                "threads and queueCapacity must be at least 1: threads=" + threads + " queueCapacity=" + queueCapacity);
        }

        this.name = name;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.threads = new Thread[threads];
        for (int i = 0; i < threads; i++)
        {
            final Thread thread = new Thread(this::run, name + "-" + i);
            thread.setDaemon(true);
            this.threads[i] = thread;
        }
        for (final Thread thread : this.threads)
        {
            thread.start();
        }
    }

    /**
     * Queue a task for a worker thread. Never blocks.
     * <p>
     * Calling thread: any.
     *
     * @param task the task; it must not block on anything but disk I/O, and should not throw.
     * @return true if the task was queued and will run; false if the queue is full or the workers are closed.
     */
    public boolean offer(final Runnable task)
    {
        offersInProgress.getAndIncrement();
        try
        {
            return !closed && queue.offer(task);
        }
        finally
        {
            offersInProgress.getAndDecrement();
        }
    }

    /**
     * @return the number of tasks waiting (not those running); a snapshot, for metrics and back-pressure.
     */
    public int queueDepth()
    {
        return queue.size();
    }

    /**
     * Stop accepting tasks, run every task already accepted, then stop the threads and wait for them. Idempotent.
     * <p>
     * Calling thread: any thread but a worker of this pool; blocks until the queued tasks have run.
     *
     * @throws IllegalStateException when called from one of the worker threads, which would wait for itself.
     */
    @Override
    public void close()
    {
        for (final Thread thread : threads)
        {
            if (Thread.currentThread() == thread)
            {
                throw new IllegalStateException("close() called from worker thread " + thread.getName());
            }
        }

        final boolean alreadyClosed;
        synchronized (this)
        {
            alreadyClosed = closed;
            closed = true;
        }

        boolean interrupted = false;
        if (!alreadyClosed)
        {
            // An offer that read closed == false may still be adding its task: let it finish before the markers.
            while (offersInProgress.get() > 0)
            {
                Thread.onSpinWait();
            }
            for (int i = 0; i < threads.length; i++)
            {
                interrupted |= putUninterruptibly(STOP);
            }
        }

        for (final Thread thread : threads)
        {
            interrupted |= joinUninterruptibly(thread);
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public String toString()
    {
        return "DiskIoWorkers{name=" + name + ", threads=" + threads.length + ", queueDepth=" + queue.size() + '}';
    }

    private void run()
    {
        while (true)
        {
            final Runnable task;
            try
            {
                task = queue.take();
            }
            catch (final InterruptedException ex)
            {
                // Nobody in mirra interrupts these threads; ignore it rather than let it reach a FileChannel call.
                continue;
            }

            if (STOP == task)
            {
                return;
            }

            try
            {
                task.run();
            }
            catch (final Throwable ex)
            {
                LOGGER.log(System.Logger.Level.ERROR, Thread.currentThread().getName() + ": disk task failed", ex);
            }
        }
    }

    private boolean putUninterruptibly(final Runnable task)
    {
        boolean interrupted = false;
        while (true)
        {
            try
            {
                queue.put(task); // may wait while the queue is full; the workers are draining it
                return interrupted;
            }
            catch (final InterruptedException ex)
            {
                interrupted = true;
            }
        }
    }

    private static boolean joinUninterruptibly(final Thread thread)
    {
        boolean interrupted = false;
        while (true)
        {
            try
            {
                thread.join();
                return interrupted;
            }
            catch (final InterruptedException ex)
            {
                interrupted = true;
            }
        }
    }
}
