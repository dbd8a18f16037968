package io.mirra.transport.netty;

import java.util.concurrent.TimeUnit;

/**
 * How a dialing side retries: the first retry after {@code initialDelayNs}, each failed attempt doubling the delay up
 * to {@code maxDelayNs}; a refused handshake (wrong secret, resource, version, sizes, unknown peer) retries at
 * {@code maxDelayNs}. Every delay is jittered to 75..100 % of its value with a {@link java.util.Random} seeded with
 * {@code seed}, so runs are reproducible. Immutable.
 *
 * @param initialDelayNs first retry delay, positive.
 * @param maxDelayNs     largest delay, at least {@code initialDelayNs}.
 * @param seed           seed of the jitter.
 */
public record ReconnectPolicy(long initialDelayNs, long maxDelayNs, long seed)
{
    /** Default first delay: 100 ms. */
    public static final long DEFAULT_INITIAL_DELAY_NS = TimeUnit.MILLISECONDS.toNanos(100);
    /** Default largest delay: 5 s. */
    public static final long DEFAULT_MAX_DELAY_NS = TimeUnit.SECONDS.toNanos(5);

    /**
     * Validates.
     */
    public ReconnectPolicy
    {
        if (initialDelayNs <= 0 || maxDelayNs < initialDelayNs)
        {
            throw new IllegalArgumentException("delays " + initialDelayNs + ".." + maxDelayNs + " ns");
        }
    }

    /**
     * @param seed jitter seed.
     * @return 100 ms doubling to 5 s.
     */
    public static ReconnectPolicy defaults(final long seed)
    {
        return new ReconnectPolicy(DEFAULT_INITIAL_DELAY_NS, DEFAULT_MAX_DELAY_NS, seed);
    }
}
