package io.mirra.engine.storage;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(30)
class DiskIoWorkersTest
{
    private static final long AWAIT_SECONDS = 10;

    @Test
    void shouldRunTasksOnNamedDaemonWorkerThreads() throws Exception
    {
        final Set<Thread> threads = ConcurrentHashMap.newKeySet();
        final CountDownLatch done = new CountDownLatch(20);
        try (DiskIoWorkers workers = new DiskIoWorkers("test-disk", 2, 32))
        {
            for (int i = 0; i < 20; i++)
            {
                assertTrue(workers.offer(() ->
                {
                    threads.add(Thread.currentThread());
                    done.countDown();
                }));
            }
            assertTrue(done.await(AWAIT_SECONDS, TimeUnit.SECONDS));
        }

        assertFalse(threads.isEmpty());
        for (final Thread thread : threads)
        {
            assertNotSame(Thread.currentThread(), thread);
            assertTrue(thread.getName().matches("test-disk-[01]"), thread.getName());
            assertTrue(thread.isDaemon());
            assertFalse(thread.isAlive(), "close() stops the workers");
        }
    }

    @Test
    void shouldRejectOffersWhenTheQueueIsFull() throws Exception
    {
        final CountDownLatch running = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicInteger ran = new AtomicInteger();
        try (DiskIoWorkers workers = new DiskIoWorkers("test-full", 1, 2))
        {
            assertTrue(workers.offer(() -> block(running, release)));
            assertTrue(running.await(AWAIT_SECONDS, TimeUnit.SECONDS)); // the only worker is busy, the queue empty

            assertTrue(workers.offer(ran::incrementAndGet));
            assertTrue(workers.offer(ran::incrementAndGet));
            assertEquals(2, workers.queueDepth());
            assertFalse(workers.offer(ran::incrementAndGet), "a full queue rejects without blocking");
            assertEquals(2, workers.queueDepth());

            release.countDown();
            awaitCondition(() -> 2 == ran.get() && 0 == workers.queueDepth());
            assertTrue(workers.offer(ran::incrementAndGet), "room again once drained");
            awaitCondition(() -> 3 == ran.get());
        }
    }

    @Test
    void shouldKeepTheWorkerAfterATaskThrows() throws Exception
    {
        final AtomicReference<Thread> thrower = new AtomicReference<>();
        final AtomicReference<Thread> next = new AtomicReference<>();
        final CountDownLatch done = new CountDownLatch(1);
        try (DiskIoWorkers workers = new DiskIoWorkers("test-throw", 1, 4))
        {
            assertTrue(workers.offer(() ->
            {
                thrower.set(Thread.currentThread());
                throw new IllegalStateException("expected by the test: a failing disk task");
            }));
            assertTrue(workers.offer(() ->
            {
                next.set(Thread.currentThread());
                done.countDown();
            }));
            assertTrue(done.await(AWAIT_SECONDS, TimeUnit.SECONDS));
        }

        assertSame(thrower.get(), next.get(), "the same worker ran the next task");
    }

    @Test
    void shouldRunEveryQueuedTaskBeforeClosing() throws Exception
    {
        final CountDownLatch running = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final List<Integer> ran = new CopyOnWriteArrayList<>();
        final AtomicReference<Thread> worker = new AtomicReference<>();
        final DiskIoWorkers workers = new DiskIoWorkers("test-close", 1, 8);

        assertTrue(workers.offer(() ->
        {
            worker.set(Thread.currentThread());
            block(running, release);
        }));
        assertTrue(running.await(AWAIT_SECONDS, TimeUnit.SECONDS));
        for (int i = 0; i < 8; i++) // fills the queue, so close() must also wait for room for its stop marker
        {
            final int task = i;
            assertTrue(workers.offer(() -> ran.add(task)));
        }

        final Thread closer = new Thread(workers::close, "test-closer");
        closer.start();
        awaitCondition(() -> Thread.State.WAITING == closer.getState()); // waiting for room for its stop marker
        assertFalse(workers.offer(() -> ran.add(-1)), "closing: offers are refused");
        assertTrue(ran.isEmpty());

        release.countDown();
        closer.join(TimeUnit.SECONDS.toMillis(AWAIT_SECONDS));

        assertFalse(closer.isAlive(), "close() returned");
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7), ran);
        assertFalse(worker.get().isAlive());
        assertFalse(workers.offer(() -> ran.add(-2)));
        workers.close(); // idempotent
    }

    @Test
    void shouldRefuseCloseFromAWorkerThread() throws Exception
    {
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final CountDownLatch done = new CountDownLatch(1);
        final DiskIoWorkers workers = new DiskIoWorkers("test-self", 1, 4);
        try
        {
            assertTrue(workers.offer(() ->
            {
                try
                {
                    workers.close();
                }
                catch (final Throwable ex)
                {
                    failure.set(ex);
                }
                done.countDown();
            }));
            assertTrue(done.await(AWAIT_SECONDS, TimeUnit.SECONDS));
            assertInstanceOf(IllegalStateException.class, failure.get());
            assertTrue(workers.offer(() -> {}), "still open");
        }
        finally
        {
            workers.close();
        }
    }

    @Test
    void shouldRejectInvalidArguments()
    {
        assertThrows(IllegalArgumentException.class, () -> new DiskIoWorkers("x", 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new DiskIoWorkers("x", 1, 0));
    }

    @Test
    void shouldNeverLeaveATaskWaitingWhileWorkersSleep() throws Exception
    {
        // Producers offer in bursts separated by pauses of random length, so workers keep parking and being woken
        // at every possible moment; a lost wake-up would leave a task queued and the count short at the deadline.
        final long seed = Long.getLong("mirra.test.seed", 7L);
        System.out.println("DiskIoWorkersTest.shouldNeverLeaveATaskWaitingWhileWorkersSleep seed=" + seed);
        final int producers = 3;
        final int perProducer = 20_000;
        final AtomicInteger done = new AtomicInteger();
        final Runnable task = done::incrementAndGet;
        try (DiskIoWorkers workers = new DiskIoWorkers("stress", 4, producers * perProducer))
        {
            final Thread[] threads = new Thread[producers];
            for (int p = 0; p < producers; p++)
            {
                final java.util.Random random = new java.util.Random(seed + p);
                threads[p] = new Thread(() ->
                {
                    for (int i = 0; i < perProducer; i++)
                    {
                        assertTrue(workers.offer(task));
                        if (random.nextInt(64) == 0)
                        {
                            final long untilNs = System.nanoTime() + random.nextInt(200_000);
                            while (System.nanoTime() - untilNs < 0)
                            {
                                Thread.onSpinWait();
                            }
                        }
                    }
                });
                threads[p].start();
            }
            for (final Thread thread : threads)
            {
                thread.join();
            }
            awaitCondition(() -> done.get() == producers * perProducer);
            // and a single task offered to a fully idle pool still runs
            awaitCondition(() -> workers.queueDepth() == 0);
            assertTrue(workers.offer(task));
            awaitCondition(() -> done.get() == producers * perProducer + 1);
        }
    }

    private static void block(final CountDownLatch running, final CountDownLatch release)
    {
        running.countDown();
        try
        {
            if (!release.await(AWAIT_SECONDS, TimeUnit.SECONDS))
            {
                throw new IllegalStateException("the test never released the worker");
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    private static void awaitCondition(final BooleanSupplier condition)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(AWAIT_SECONDS);
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadlineNs > 0)
            {
                throw new AssertionError("condition not met within " + AWAIT_SECONDS + " s");
            }
            Thread.yield();
        }
    }
}
