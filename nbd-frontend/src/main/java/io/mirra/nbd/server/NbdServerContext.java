package io.mirra.nbd.server;

/**
 * Settings of an {@link NbdServer}, fluent in the Aeron style; {@link #conclude()} validates them.
 * Defaults suit a 2-core machine serving a handful of clients.
 */
public final class NbdServerContext
{
    /** Default most connections served at once. */
    public static final int MAX_CONNECTIONS_DEFAULT = 256;
    /** Default deadline for a client to finish the handshake. */
    public static final long HANDSHAKE_TIMEOUT_MS_DEFAULT = 30_000;
    /** Default most requests in flight per connection before the server stops reading from it. */
    public static final int MAX_IN_FLIGHT_REQUESTS_DEFAULT = 256;
    /** Default most payload bytes in flight per connection before the server stops reading from it. */
    public static final long MAX_IN_FLIGHT_BYTES_DEFAULT = 64L * 1024 * 1024;
    /** Default most options in one handshake: a client that haggles longer is disconnected. */
    public static final int MAX_OPTIONS_DEFAULT = 128;
    /** Default event loop threads: one per core (at most 4), so multi-conn clients spread over the cores. */
    public static final int EVENT_LOOP_THREADS_DEFAULT =
        Integer.getInteger("mirra.nbd.eventLoopThreads", Math.min(4, Runtime.getRuntime().availableProcessors()));

    private String host = "127.0.0.1";
    private int port = 10809;
    private int maxConnections = MAX_CONNECTIONS_DEFAULT;
    private long handshakeTimeoutMs = HANDSHAKE_TIMEOUT_MS_DEFAULT;
    private int maxInFlightRequests = MAX_IN_FLIGHT_REQUESTS_DEFAULT;
    private long maxInFlightBytes = MAX_IN_FLIGHT_BYTES_DEFAULT;
    private int maxOptions = MAX_OPTIONS_DEFAULT;
    private int eventLoopThreads = EVENT_LOOP_THREADS_DEFAULT;
    private io.netty.channel.EventLoopGroup eventLoopGroup;

    /** @return the listen host. */
    public String host()
    {
        return host;
    }

    /**
     * @param host the listen host or address.
     * @return this.
     */
    public NbdServerContext host(final String host)
    {
        this.host = host;
        return this;
    }

    /** @return the listen port; 0 picks a free one. */
    public int port()
    {
        return port;
    }

    /**
     * @param port the listen port; 0 picks a free one.
     * @return this.
     */
    public NbdServerContext port(final int port)
    {
        this.port = port;
        return this;
    }

    /** @return most connections at once. */
    public int maxConnections()
    {
        return maxConnections;
    }

    /**
     * @param maxConnections most connections at once; more are closed on accept with a log line.
     * @return this.
     */
    public NbdServerContext maxConnections(final int maxConnections)
    {
        this.maxConnections = maxConnections;
        return this;
    }

    /** @return the handshake deadline in milliseconds. */
    public long handshakeTimeoutMs()
    {
        return handshakeTimeoutMs;
    }

    /**
     * @param handshakeTimeoutMs how long a client may take to reach transmission.
     * @return this.
     */
    public NbdServerContext handshakeTimeoutMs(final long handshakeTimeoutMs)
    {
        this.handshakeTimeoutMs = handshakeTimeoutMs;
        return this;
    }

    /** @return most requests in flight per connection. */
    public int maxInFlightRequests()
    {
        return maxInFlightRequests;
    }

    /**
     * @param maxInFlightRequests most requests in flight per connection.
     * @return this.
     */
    public NbdServerContext maxInFlightRequests(final int maxInFlightRequests)
    {
        this.maxInFlightRequests = maxInFlightRequests;
        return this;
    }

    /** @return most payload bytes in flight per connection. */
    public long maxInFlightBytes()
    {
        return maxInFlightBytes;
    }

    /**
     * @param maxInFlightBytes most payload bytes (writes received plus reads buffered) in flight per connection.
     * @return this.
     */
    public NbdServerContext maxInFlightBytes(final long maxInFlightBytes)
    {
        this.maxInFlightBytes = maxInFlightBytes;
        return this;
    }

    /** @return most options per handshake. */
    public int maxOptions()
    {
        return maxOptions;
    }

    /**
     * @param maxOptions most options per handshake.
     * @return this.
     */
    public NbdServerContext maxOptions(final int maxOptions)
    {
        this.maxOptions = maxOptions;
        return this;
    }

    /** @return event loop threads. */
    public int eventLoopThreads()
    {
        return eventLoopThreads;
    }

    /**
     * @param eventLoopThreads event loop threads (network only: disk I/O runs elsewhere).
     * @return this.
     */
    public NbdServerContext eventLoopThreads(final int eventLoopThreads)
    {
        this.eventLoopThreads = eventLoopThreads;
        return this;
    }

    /** @return the shared event loop group to serve on, or null for a server-owned one. */
    public io.netty.channel.EventLoopGroup eventLoopGroup()
    {
        return eventLoopGroup;
    }

    /**
     * Serve on a shared event loop group (a node's I/O threads, also running its replication links) instead of
     * {@link #eventLoopThreads()} threads of the server's own. It must use the native epoll transport when that is
     * available, and it is not shut down when the server closes.
     *
     * @param eventLoopGroup the group, or null.
     * @return this.
     */
    public NbdServerContext eventLoopGroup(final io.netty.channel.EventLoopGroup eventLoopGroup)
    {
        this.eventLoopGroup = eventLoopGroup;
        return this;
    }

    /**
     * Validate the settings.
     *
     * @return this.
     * @throws IllegalArgumentException naming the first bad setting.
     */
    public NbdServerContext conclude()
    {
        require(port >= 0 && port <= 65535, "port must be 0..65535: " + port);
        require(maxConnections > 0, "maxConnections must be > 0: " + maxConnections);
        require(handshakeTimeoutMs > 0, "handshakeTimeoutMs must be > 0: " + handshakeTimeoutMs);
        require(maxInFlightRequests > 0, "maxInFlightRequests must be > 0: " + maxInFlightRequests);
        require(maxInFlightBytes >= 2L * io.mirra.nbd.protocol.NbdProtocol.MAX_PAYLOAD_LENGTH,
            "maxInFlightBytes must be at least twice the 32 MiB maximum payload: " + maxInFlightBytes);
        require(maxOptions > 0, "maxOptions must be > 0: " + maxOptions);
        require(eventLoopThreads > 0, "eventLoopThreads must be > 0: " + eventLoopThreads);
        return this;
    }

    private static void require(final boolean condition, final String message)
    {
        if (!condition)
        {
            throw new IllegalArgumentException(message);
        }
    }
}
