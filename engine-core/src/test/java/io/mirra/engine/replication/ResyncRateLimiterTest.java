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
}
