package io.mirra.engine.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The resync rate limit, on a clock the test moves. */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class ResyncRateLimiterTest
{
    private final AtomicLong now = new AtomicLong(1_000_000_000L);

    @Test
    void shouldLetThroughAtMostTheRatePerSecond()
    {
        final ResyncRateLimiter limiter = new ResyncRateLimiter(4L << 20, now::get);
        long sent = 0;
        // Ten simulated seconds, asking for 1 MiB chunks whenever allowed.
        final long end = now.get() + TimeUnit.SECONDS.toNanos(10);
        while (now.get() < end)
        {
            final long wait = limiter.tryAcquire(1 << 20);
            if (wait == 0)
            {
                sent += 1 << 20;
            }
            else
            {
                now.addAndGet(wait);
            }
        }
        // A full bucket at the start (one second's worth) plus the rate over ten seconds.
        assertTrue(sent <= (4L << 20) * 11, "sent " + sent);
        assertTrue(sent >= (4L << 20) * 10, "sent " + sent);
    }

    @Test
    void shouldSayHowLongToWait()
    {
        final ResyncRateLimiter limiter = new ResyncRateLimiter(1L << 20, now::get);
        assertEquals(0, limiter.tryAcquire(1 << 20)); // the first second's worth
        final long wait = limiter.tryAcquire(512 * 1024);
        assertEquals(TimeUnit.MILLISECONDS.toNanos(500), wait, TimeUnit.MILLISECONDS.toNanos(1));
        now.addAndGet(wait);
        assertEquals(0, limiter.tryAcquire(512 * 1024));
    }

    @Test
    void shouldNotLimitWithoutARate()
    {
        final ResyncRateLimiter limiter = new ResyncRateLimiter(0, now::get);
        for (int i = 0; i < 1000; i++)
        {
            assertEquals(0, limiter.tryAcquire(1 << 20));
        }
    }

    @Test
    void shouldLetAChunkLargerThanASecondGoWhenTheBucketIsFull()
    {
        final ResyncRateLimiter limiter = new ResyncRateLimiter(100_000, now::get);
        assertEquals(0, limiter.tryAcquire(1 << 20));
        assertTrue(limiter.tryAcquire(1 << 20) > 0);
    }

    @Test
    void shouldLeaveTheResyncWhatApplicationWritesDoNotTakeButNeverLessThanTheMinimum()
    {
        final AtomicLong appBytes = new AtomicLong();
        final ResyncRateLimiter.Controller controller = new ResyncRateLimiter.Controller(1L << 20, 100L << 20,
            now::get, appBytes::get);
        assertEquals(100L << 20, controller.rate(), "no application writes: the maximum");
        // Applications write 60 MiB/s for two seconds: the resync gets what is left, 40 MiB/s.
        for (int i = 0; i < 20; i++)
        {
            now.addAndGet(TimeUnit.MILLISECONDS.toNanos(100));
            appBytes.addAndGet(6L << 20);
            controller.rate();
        }
        final long rate = controller.rate();
        assertTrue(Math.abs(rate - (40L << 20)) < (1L << 20), "rate " + rate);
        // Applications take more than the maximum: the resync keeps the minimum.
        for (int i = 0; i < 20; i++)
        {
            now.addAndGet(TimeUnit.MILLISECONDS.toNanos(100));
            appBytes.addAndGet(30L << 20);
            controller.rate();
        }
        assertEquals(1L << 20, controller.rate());
        // Writes stop: the resync soon has the maximum again.
        for (int i = 0; i < 20; i++)
        {
            now.addAndGet(TimeUnit.MILLISECONDS.toNanos(100));
            controller.rate();
        }
        assertTrue(controller.rate() > (99L << 20));
    }

    @Test
    void shouldSendAtTheControllersRate()
    {
        final AtomicLong appBytes = new AtomicLong();
        final ResyncRateLimiter.Controller controller = new ResyncRateLimiter.Controller(1L << 20, 8L << 20,
            now::get, appBytes::get);
        final ResyncRateLimiter limiter = new ResyncRateLimiter(controller, now::get);
        long sent = 0;
        final long end = now.get() + TimeUnit.SECONDS.toNanos(10);
        while (now.get() < end)
        {
            final long wait = limiter.tryAcquire(64 << 10);
            if (wait == 0)
            {
                sent += 64 << 10;
            }
            else
            {
                final long step = Math.min(wait, TimeUnit.MILLISECONDS.toNanos(50));
                now.addAndGet(step);
                appBytes.addAndGet((long)(step * (6L << 20) / 1e9)); // 6 MiB/s of application writes
            }
        }
        // About (8 - 6) MiB/s over ten seconds, plus the first second's bucket.
        assertTrue(sent < (8L << 20) + 10 * (3L << 20), "sent " + sent);
        assertTrue(sent > 10 * (1L << 20), "sent " + sent);
    }
}
