package io.mirra.engine.replication;

import java.util.function.LongSupplier;

/**
 * A token bucket for resync bytes: a resync may send a chunk only when the bucket holds its bytes; the bucket refills
 * at the current rate and holds at most one second's worth (so a resync that was idle does not burst beyond a second
 * of traffic). The rate is fixed ({@code resync-rate-max}) or follows a {@link Controller}. Not thread-safe: the
 * resource's lock guards it.
 */
final class ResyncRateLimiter
{
    /**
     * The adaptive resync rate ({@code resync-controller: adaptive}): the resync takes what application writes leave
     * of {@code resync-rate-max}, but never less than {@code resync-rate-min}. The application rate is measured from
     * the bytes written on this node, smoothed over samples at least 100 ms apart.
     */
    static final class Controller
    {
        private static final long SAMPLE_NS = 100_000_000L;
        private final long min;
        private final long max;
        private final LongSupplier nanoClock;
        private final LongSupplier applicationBytes;
        private long lastNs;
        private long lastBytes;
        private double applicationRate;

        /**
         * @param min              bytes per second kept even under application writes.
         * @param max              bytes per second never exceeded (positive).
         * @param nanoClock        a monotonic clock in nanoseconds.
         * @param applicationBytes bytes written by applications so far (a counter).
         */
        Controller(final long min, final long max, final LongSupplier nanoClock, final LongSupplier applicationBytes)
        {
            this.min = Math.min(min, max);
            this.max = max;
            this.nanoClock = nanoClock;
            this.applicationBytes = applicationBytes;
            this.lastNs = nanoClock.getAsLong();
            this.lastBytes = applicationBytes.getAsLong();
        }

        /** @return the resync rate now, in bytes per second. */
        long rate()
        {
            final long now = nanoClock.getAsLong();
            if (now - lastNs >= SAMPLE_NS)
            {
                final long bytes = applicationBytes.getAsLong();
                final double sample = (bytes - lastBytes) * 1e9 / (now - lastNs);
                applicationRate = applicationRate * 0.5 + sample * 0.5;
                lastNs = now;
                lastBytes = bytes;
            }
            return Math.max(min, Math.min(max, max - (long)applicationRate));
        }

        /** @return the smoothed application write rate, bytes per second. */
        long applicationRate()
        {
            return (long)applicationRate;
        }
    }

    private long bytesPerSecond;
    private final Controller controller;
    private final LongSupplier nanoClock;
    private double tokens;
    private long lastNs;

    /**
     * @param bytesPerSecond the rate; 0 or less for no limit.
     * @param nanoClock      a monotonic clock in nanoseconds ({@code System::nanoTime}).
     */
    ResyncRateLimiter(final long bytesPerSecond, final LongSupplier nanoClock)
    {
        this(bytesPerSecond, null, nanoClock);
    }

    /**
     * @param controller sets the rate before every chunk (its maximum is the starting rate).
     * @param nanoClock  a monotonic clock in nanoseconds ({@code System::nanoTime}).
     */
    ResyncRateLimiter(final Controller controller, final LongSupplier nanoClock)
    {
        this(controller.max, controller, nanoClock);
    }

    private ResyncRateLimiter(final long bytesPerSecond, final Controller controller, final LongSupplier nanoClock)
    {
        this.controller = controller;
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
        if (controller != null)
        {
            bytesPerSecond = Math.max(1, controller.rate());
        }
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
