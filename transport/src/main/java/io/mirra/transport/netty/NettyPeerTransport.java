package io.mirra.transport.netty;

import io.mirra.transport.FrameHandler;
import io.mirra.transport.PeerLink;
import io.mirra.transport.StreamKind;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The peer links of one node for one resource over Netty TCP: one {@link PeerLink} per configured peer, each two
 * streams (DATA and CONTROL) authenticated by {@link PeerHandshakeHandler}.
 * <p>
 * <b>Dialing rule.</b> Of two nodes, the one whose name sorts lower ({@link String#compareTo}) dials and the other
 * only accepts ({@link #dials}), so the two never dial each other at once and there is never more than one
 * connection attempt per pair. {@link #connect} refuses a peer this node must not dial, and a listening node closes
 * (after the handshake, with a warning) the streams of a peer that should have waited for it.
 * <p>
 * <b>Reconnecting.</b> The dialing side reconnects after any loss of either stream, with the delays of its
 * {@link ReconnectPolicy} (100 ms doubling to 5 s by default, jittered, reset once the link is UP); a refused
 * handshake (AUTH_FAILED, WRONG_RESOURCE, VERSION_MISMATCH, VOLUME_SIZE_MISMATCH, UNKNOWN_PEER) retries at the
 * largest delay, and the link exposes the refusal ({@link PeerLink#lastRefusal()}) on both sides. Timers run on the
 * event loop; nothing sleeps.
 * <p>
 * <b>Threads.</b> One event loop thread (epoll when available, else NIO) runs every stream, handshake, timer and
 * {@link FrameHandler} callback of this transport. {@link #close()} closes every stream and stops the thread.
 * Methods may be called from any thread except that event loop (close() waits for it).
 */
public final class NettyPeerTransport implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(NettyPeerTransport.class.getName());
    private static final AtomicInteger INSTANCES = new AtomicInteger();
    /** Name prefix of the event loop threads of every transport. */
    public static final String THREAD_NAME_PREFIX = "mirra-peer-";

    private final PeerHandshakeConfig config;
    private final boolean epoll;
    private final EventLoopGroup group;
    private final boolean ownsGroup;
    private final EventLoop loop;
    private final Map<String, NettyPeerLink> links;
    private final Set<Channel> channels = new HashSet<>(); // event loop only
    private final String threadName;
    private volatile Channel serverChannel;
    private volatile boolean closed;
    private volatile String lastUnattributedRefusal;

    /**
     * Create the transport and its event loop; nothing is listened on or dialled yet.
     *
     * @param config  this node, the resource, its peers, secret and volume sizes.
     * @param handler receives frames and link changes, on the event loop.
     * @param policy  reconnect delays and jitter seed.
     */
    public NettyPeerTransport(final PeerHandshakeConfig config, final FrameHandler handler,
        final ReconnectPolicy policy)
    {
        this(config, handler, policy, null);
    }

    /**
     * Create the transport on a shared event loop group (the node's I/O threads, also serving NBD), so that sending
     * to a peer from a connection on the same loop needs no thread hand-off, and a node with many resources keeps a
     * fixed number of I/O threads. The group must use the native epoll transport when it is available (as
     * {@link #newIoGroup(int, String)} does) and is not shut down by {@link #close()}.
     *
     * @param config      this node, the resource, its peers, secret and volume sizes.
     * @param handler     receives frames and link changes, on the event loop.
     * @param policy      reconnect delays and jitter seed.
     * @param sharedGroup the group to run on, or null for a transport-owned single thread.
     */
    public NettyPeerTransport(final PeerHandshakeConfig config, final FrameHandler handler,
        final ReconnectPolicy policy, final EventLoopGroup sharedGroup)
    {
        this.config = config;
        this.epoll = Epoll.isAvailable();
        this.threadName = THREAD_NAME_PREFIX + config.nodeName() + "-" + INSTANCES.incrementAndGet();
        this.ownsGroup = sharedGroup == null;
        this.group = sharedGroup != null ? sharedGroup : newIoGroup(1, threadName);
        this.loop = group.next();
        final Random jitter = new Random(policy.seed());
        final Map<String, NettyPeerLink> byName = new TreeMap<>();
        for (final String peer : config.peerNames())
        {
            byName.put(peer, new NettyPeerLink(this, handler, peer, dials(config.nodeName(), peer), loop, policy,
                jitter));
        }
        this.links = Collections.unmodifiableMap(byName);
    }

    /**
     * An event loop group for transports (and other Netty servers) of this JVM: native epoll when available, daemon
     * threads named {@code name} or {@code name-N}.
     *
     * @param threads event loop threads.
     * @param name    thread name prefix.
     * @return the group; the caller shuts it down.
     */
    public static EventLoopGroup newIoGroup(final int threads, final String name)
    {
        final AtomicInteger count = new AtomicInteger();
        return new MultiThreadIoEventLoopGroup(threads, r ->
        {
            final Thread t = new Thread(r, threads == 1 ? name : name + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        }, Epoll.isAvailable() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    }

    /**
     * The dialing rule.
     *
     * @param node a node.
     * @param peer its peer.
     * @return true when {@code node} dials {@code peer}: its name sorts lower.
     */
    public static boolean dials(final String node, final String peer)
    {
        return node.compareTo(peer) < 0;
    }

    /**
     * Accept both streams of known peers on this address.
     *
     * @param host address to bind.
     * @param port port, 0 for any free one.
     * @return the bound address.
     */
    public InetSocketAddress listen(final String host, final int port)
    {
        checkOpen();
        if (serverChannel != null)
        {
            throw new IllegalStateException("already listening on " + serverChannel.localAddress());
        }
        final Class<? extends ServerChannel> type = epoll ? EpollServerSocketChannel.class :
            NioServerSocketChannel.class;
        final Channel server = new ServerBootstrap()
            // Every channel of this transport lives on its one loop: a link's state is confined to that thread.
            // (On a shared group, the group would spread accepted streams over its loops.)
            .group(loop)
            .channel(type)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childOption(ChannelOption.SO_KEEPALIVE, true)
            .childOption(ChannelOption.ALLOCATOR, ByteBufAllocator.DEFAULT)
            .childOption(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(4096, 65536, 1 << 20))
            .childHandler(new PeerChannelInitializer(this, null, null))
            .bind(host, port).syncUninterruptibly().channel();
        serverChannel = server;
        LOG.log(Level.INFO, "{0}: resource {1} accepting peers on {2} ({3})", config.nodeName(),
            config.resourceName(), server.localAddress(), epoll ? "epoll" : "nio");
        return (InetSocketAddress)server.localAddress();
    }

    /**
     * Dial a peer (both streams) and keep the link up: reconnect whenever it drops.
     *
     * @param peerName a configured peer that this node dials by the dialing rule.
     * @param host     the peer's address (resolved now).
     * @param port     the peer's port.
     * @return the link.
     * @throws IllegalArgumentException for an unknown peer or one that dials this node.
     */
    public PeerLink connect(final String peerName, final String host, final int port)
    {
        checkOpen();
        final NettyPeerLink link = links.get(peerName);
        if (link == null)
        {
            throw new IllegalArgumentException(peerName + " is not a peer of resource " + config.resourceName() +
                " on " + config.nodeName());
        }
        if (!link.isDialer())
        {
            throw new IllegalArgumentException("by the dialing rule " + peerName + " dials " + config.nodeName() +
                " (the lower name dials); " + config.nodeName() + " only accepts it");
        }
        final InetSocketAddress address = new InetSocketAddress(host, port);
        loop.execute(() -> link.dial(address));
        return link;
    }

    /**
     * @param peerName a configured peer.
     * @return its link, or null when not a peer.
     */
    public PeerLink link(final String peerName)
    {
        return links.get(peerName);
    }

    /** @return every link, by peer name. */
    public Collection<PeerLink> links()
    {
        return List.copyOf(links.values());
    }

    /** @return the last refusal of an accepted connection that named no configured peer, or null. */
    public String lastUnattributedRefusal()
    {
        return lastUnattributedRefusal;
    }

    /**
     * For tests: whether every channel of this transport runs on its loop (a link's state relies on it).
     *
     * @return true when no channel lives on another event loop.
     */
    boolean allChannelsOnLoop()
    {
        return loop.submit(() -> channels.stream().allMatch((ch) -> ch.eventLoop() == loop)).syncUninterruptibly()
            .getNow();
    }

    /** @return this node's name. */
    public String nodeName()
    {
        return config.nodeName();
    }

    /** @return the resource. */
    public String resourceName()
    {
        return config.resourceName();
    }

    /** @return the name of the event loop thread. */
    public String threadName()
    {
        return threadName;
    }

    /** @return true when using native epoll. */
    public boolean isEpoll()
    {
        return epoll;
    }

    /**
     * Close every stream (links go DOWN, reporting "transport closed"), stop listening and retrying, and stop the
     * event loop. Idempotent. Must not be called on the event loop.
     */
    @Override
    public void close()
    {
        if (loop.inEventLoop())
        {
            throw new IllegalStateException("close() on the transport's own event loop");
        }
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;
        }
        if (!loop.isShuttingDown())
        {
            loop.submit(() ->
            {
                links.values().forEach(NettyPeerLink::shutDown);
                final Channel server = serverChannel;
                if (server != null)
                {
                    server.close();
                }
                new ArrayList<>(channels).forEach(Channel::close);
            }).syncUninterruptibly();
        }
        if (ownsGroup)
        {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("transport closed");
        }
    }

    // ---------------------------------------------------------------- for links and channels (event loop)

    PeerHandshakeConfig config()
    {
        return config;
    }

    boolean isClosed()
    {
        return closed;
    }

    void track(final Channel ch)
    {
        if (closed)
        {
            ch.close();
            return;
        }
        channels.add(ch);
        ch.closeFuture().addListener(f -> channels.remove(ch));
    }

    /**
     * Open one dialed stream. The link's pending field must be set before a close can be reported, so the channel
     * is registered first and connected after the close listener is in place.
     *
     */
    void openStream(final NettyPeerLink link, final StreamKind stream, final InetSocketAddress remote)
    {
        final Channel ch = new Bootstrap()
            .group(loop)
            .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
            .option(ChannelOption.TCP_NODELAY, true)
            .option(ChannelOption.SO_KEEPALIVE, true)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
            .option(ChannelOption.ALLOCATOR, ByteBufAllocator.DEFAULT)
            .option(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(4096, 65536, 1 << 20))
            .handler(new PeerChannelInitializer(this, link, stream))
            .register().channel();
        link.setPending(stream, ch);
        ch.closeFuture().addListener(f -> link.onStreamClosed(ch, stream));
        ch.connect(remote).addListener(f ->
        {
            if (!f.isSuccess())
            {
                link.onConnectFailed(ch, f.cause());
                ch.close();
            }
        });
    }

    /**
     * An accepted stream authenticated its peer: find the link, applying the dialing rule.
     *
     * @return the link, or null (the channel is being closed).
     */
    NettyPeerLink acceptedLink(final String peerName, final Channel ch)
    {
        final NettyPeerLink link = links.get(peerName);
        if (link == null || link.isDialer())
        {
            LOG.log(Level.WARNING, "{0}: peer {1} dialed resource {2}, but by the dialing rule {0} dials {1}; " +
                "closing", config.nodeName(), peerName, config.resourceName());
            ch.close();
            return null;
        }
        return link;
    }

    void onAcceptedHandshakeFailed(final String peerName, final PeerHandshakeFailed failed, final boolean active)
    {
        final NettyPeerLink link = peerName == null ? null : links.get(peerName);
        if (link != null && !link.isDialer())
        {
            link.onHandshakeFailed(null, failed, active);
        }
        else if (active)
        {
            lastUnattributedRefusal = failed.reasonName() + ": " + failed.message();
        }
    }
}
