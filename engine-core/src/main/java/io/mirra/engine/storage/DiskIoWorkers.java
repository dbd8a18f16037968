package io.mirra.engine.storage;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;

/**
 * A small fixed pool of threads: the only place where blocking disk I/O ({@link BlockStore} calls) runs.
 * <p>
 * Tasks wait in one bounded {@link ArrayBlockingQueue} (no allocation per task beyond the caller's own task object)
 * and run in FIFO order of taking, on as many threads as were asked for. A task that throws is logged and the worker
 * carries on. Completions are the task's business: it hands its result back over a queue of the caller's choice.
 * <p>
 * Wake-ups: a parked thread costs the producer a futex call and the task a trip through the scheduler, the largest
 * cost of a 4 KiB request on a busy 2-core machine. So the producer wakes a worker only when no worker is awake and
 * looking for work ("searching"), and a worker that takes a task wakes a successor only if tasks remain and nobody
 * else is searching. A burst of requests thus wakes workers one at a time as they are needed, and a worker that
 * keeps up with the load is never parked and woken per task. Idle workers park; nothing spins.
 * <p>
 * The workers are never interrupted, not even by {@link #close()}: an interrupt during a FileChannel call would close
 * the channel of the whole store. Close lets the workers drain every accepted task before they exit.
 * <p>
 * Threading: {@link #offer(Runnable)} and {@link #queueDepth()} are thread-safe, never block, and may be called from
 * any thread, including a Netty event loop. {@link #close()} blocks and must not be called from a worker thread.
 */
public final class DiskIoWorkers implements AutoCloseable
{
    private static final System.Logger LOGGER = System.getLogger(DiskIoWorkers.class.getName());
    private static final int RUNNING = 0;
    private static final int PARKED = 1;

    private final String name;
    private final ArrayBlockingQueue<Runnable> queue;
    private final Thread[] threads;
    // Per worker: RUNNING or PARKED. A waker moves a worker PARKED -> RUNNING by CAS, so exactly one party wakes it.
    private final AtomicIntegerArray states;
    // Workers awake and not running a task. Producers skip the wake-up while one is searching.
    private final AtomicInteger searching = new AtomicInteger();
    // Counts offer() calls in progress, so that close() can wait until no task can slip in after the last drain.
    private final AtomicInteger offersInProgress = new AtomicInteger();
    private int nextToWake;
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
        this.states = new AtomicIntegerArray(threads);
        searching.set(threads); // every worker starts awake and looks for work before it parks
        for (int i = 0; i < threads; i++)
        {
            final int index = i;
            final Thread thread = new Thread(() -> run(index), name + "-" + i);
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
            if (closed || !queue.offer(task))
            {
                return false;
            }
        }
        finally
        {
            offersInProgress.getAndDecrement();
        }
        if (searching.get() == 0)
        {
            wakeOne();
        }
        return true;
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

        closed = true;
        // An offer that read closed == false may still be adding its task: let it finish, so workers see it.
        while (offersInProgress.get() > 0)
        {
            Thread.onSpinWait();
        }
        for (int i = 0; i < threads.length; i++)
        {
            states.set(i, RUNNING);
            LockSupport.unpark(threads[i]);
        }

        boolean interrupted = false;
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

    private void run(final int index)
    {
        while (true)
        {
            final Runnable task = queue.poll();
            if (task != null)
            {
                // Taking work ends this worker's search; if work remains and nobody else searches, pass it on.
                if (searching.decrementAndGet() == 0 && !queue.isEmpty())
                {
                    wakeOne();
                }
                runSafely(task);
                searching.incrementAndGet();
                continue;
            }
            if (closed)
            {
                if (offersInProgress.get() == 0 && queue.isEmpty())
                {
                    searching.decrementAndGet();
                    return;
                }
                continue;
            }

            // Publish PARKED before leaving the searchers, then look once more: a producer that saw searching > 0
            // before our decrement had already queued its task, and we see it here (all atomics are sequentially
            // consistent), so no task waits while every worker sleeps.
            states.set(index, PARKED);
            searching.decrementAndGet();
            if (!queue.isEmpty() || closed)
            {
                if (states.compareAndSet(index, PARKED, RUNNING))
                {
                    searching.incrementAndGet();
                }
                // else a waker already moved us to RUNNING and counted us as searching
                continue;
            }
            while (states.get(index) == PARKED)
            {
                LockSupport.park(this); // returns early on unpark or spuriously; the state tells which
                if (closed && states.compareAndSet(index, PARKED, RUNNING))
                {
                    searching.incrementAndGet();
                }
            }
        }
    }

    private void wakeOne()
    {
        final int n = threads.length;
        final int start = nextToWake; // a racy hint to spread the wake-ups; correctness does not depend on it
        for (int i = 0; i < n; i++)
        {
            final int candidate = (start + i) % n;
            if (states.get(candidate) == PARKED && states.compareAndSet(candidate, PARKED, RUNNING))
            {
                nextToWake = candidate + 1;
                searching.incrementAndGet(); // counted for the woken worker, so others do not wake a second one
                LockSupport.unpark(threads[candidate]);
                return;
            }
        }
    }

    private static void runSafely(final Runnable task)
    {
        try
        {
            task.run();
        }
        catch (final Throwable ex)
        {
            LOGGER.log(System.Logger.Level.ERROR, Thread.currentThread().getName() + ": disk task failed", ex);
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
