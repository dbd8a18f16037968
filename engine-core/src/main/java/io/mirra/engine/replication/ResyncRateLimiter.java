package io.mirra.engine.replication;

import java.util.function.LongSupplier;

/**
 * A token bucket for resync bytes ({@code resync-rate-max}): a resync may send a chunk only when the bucket holds
 * its bytes; the bucket refills at the configured rate and holds at most one second's worth (so a resync that was
 * idle does not burst beyond a second of traffic). Not thread-safe: the resource's lock guards it.
 */
final class ResyncRateLimiter
{
    private final long bytesPerSecond;
    private final LongSupplier nanoClock;
    private double tokens;
    private long lastNs;

    /**
     * @param bytesPerSecond the rate; 0 or less for no limit.
     * @param nanoClock      a monotonic clock in nanoseconds ({@code System::nanoTime}).
     */
    ResyncRateLimiter(final long bytesPerSecond, final LongSupplier nanoClock)
    {
        this.bytesPerSecond = bytesPerSecond;
        this.nanoClock = nanoClock;
        this.lastNs = nanoClock.getAsLong();
        this.tokens = Math.max(0, bytesPerSecond);
    }

    /**
     * Take the bytes of a chunk if the rate allows it now.
     *
     * @param bytes the chunk's size.
     * @return 0 when taken, or how many nanoseconds to wait before asking again.
     */
    long tryAcquire(final long bytes)
    {
        if (bytesPerSecond <= 0)
        {
            return 0;
        }
        final long now = nanoClock.getAsLong();
        tokens = Math.min(bytesPerSecond, tokens + (now - lastNs) * (bytesPerSecond / 1e9));
        lastNs = now;
        // A chunk larger than a second's worth goes once the bucket is full, else it would never go.
        final double needed = Math.min(bytes, bytesPerSecond);
        if (tokens >= needed)
        {
            tokens -= bytes;
            return 0;
        }
        return Math.max(1, (long)((needed - tokens) * 1e9 / bytesPerSecond));
    }
}
