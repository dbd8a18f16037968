package io.mirra.transport.netty;

import java.util.concurrent.TimeUnit;

/**
 * How a link retries and when it gives a silent peer up. A dialing side retries after {@code initialDelayNs}, each
 * failed attempt doubling the delay up to {@code maxDelayNs}; a refused handshake (wrong secret, resource, version,
 * sizes, unknown peer) retries at {@code maxDelayNs}. Every delay is jittered to 75..100 % of its value with a
 * {@link java.util.Random} seeded with {@code seed}, so runs are reproducible. While a link is up, a side that heard
 * nothing from the peer for {@code pingIntervalNs} sends a PING (the peer answers PING_ACK on the control stream,
 * which bulk data never delays); after {@code peerTimeoutNs} of silence the link goes down (a hung peer or a link
 * that drops everything is detected, so a Primary never waits for it forever). Immutable.
 *
 * @param initialDelayNs first retry delay, positive.
 * @param maxDelayNs     largest delay, at least {@code initialDelayNs}.
 * @param seed           seed of the jitter.
 * @param pingIntervalNs silence after which a PING is sent, positive.
 * @param peerTimeoutNs  silence after which the link goes down, more than {@code pingIntervalNs}.
 */
public record ReconnectPolicy(long initialDelayNs, long maxDelayNs, long seed, long pingIntervalNs,
    long peerTimeoutNs)
{
    /** Default ping interval: 1 s. */
    public static final long DEFAULT_PING_INTERVAL_NS = TimeUnit.SECONDS.toNanos(1);
    /** Default peer timeout: 6 s (DRBD's default timeout). */
    public static final long DEFAULT_PEER_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(6);
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
        if (pingIntervalNs <= 0 || peerTimeoutNs <= pingIntervalNs)
        {
            throw new IllegalArgumentException("ping interval " + pingIntervalNs + " ns and peer timeout " +
                peerTimeoutNs + " ns: both positive, the timeout longer");
        }
    }

    /**
     * Retry delays with the default ping interval and peer timeout.
     *
     * @param initialDelayNs first retry delay.
     * @param maxDelayNs     largest delay.
     * @param seed           jitter seed.
     */
    public ReconnectPolicy(final long initialDelayNs, final long maxDelayNs, final long seed)
    {
        this(initialDelayNs, maxDelayNs, seed, DEFAULT_PING_INTERVAL_NS, DEFAULT_PEER_TIMEOUT_NS);
    }

    /**
     * @param timeoutNs the peer timeout (the ping interval becomes a sixth of it, as DRBD's defaults relate).
     * @return this policy with another peer timeout.
     */
    public ReconnectPolicy withPeerTimeout(final long timeoutNs)
    {
        return new ReconnectPolicy(initialDelayNs, maxDelayNs, seed, Math.max(1, timeoutNs / 6), timeoutNs);
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
