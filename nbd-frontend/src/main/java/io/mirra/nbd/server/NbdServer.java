package io.mirra.nbd.server;

import io.mirra.nbd.spi.ExportRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An NBD server over TCP: fixed-newstyle handshake, then transmission against the selected export's backend.
 * Uses native epoll when available (NIO otherwise). Event loop threads do only network work.
 * <p>
 * Lifecycle: {@link #start()} binds, {@link #close()} stops accepting, closes every connection and releases the
 * threads. Thread-safe.
 */
public final class NbdServer implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(NbdServer.class.getName());

    private final ExportRegistry exports;
    private final NbdServerContext context;
    private final AtomicInteger connections = new AtomicInteger();

    private EventLoopGroup group;
    private boolean ownsGroup;
    private ChannelGroup channels;
    private Channel serverChannel;

    /**
     * @param exports the exports to serve.
     * @param context settings, validated here.
     */
    public NbdServer(final ExportRegistry exports, final NbdServerContext context)
    {
        this.exports = exports;
        this.context = context.conclude();
    }

    /**
     * Bind and start accepting connections.
     *
     * @return this.
     * @throws InterruptedException if interrupted while binding.
     */
    public synchronized NbdServer start() throws InterruptedException
    {
        final boolean epoll = Epoll.isAvailable();
        ownsGroup = context.eventLoopGroup() == null;
        group = !ownsGroup ? context.eventLoopGroup() :
            new MultiThreadIoEventLoopGroup(context.eventLoopThreads(), r ->
            {
                final Thread t = new Thread(r, "nbd-io");
                t.setDaemon(true);
                return t;
            }, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        channels = new DefaultChannelGroup("nbd", GlobalEventExecutor.INSTANCE);
        final Class<? extends ServerChannel> channelClass =
            epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;

        final ServerBootstrap bootstrap = new ServerBootstrap()
            .group(group)
            .channel(channelClass)
            .option(ChannelOption.SO_REUSEADDR, true)
            .option(ChannelOption.SO_BACKLOG, 1024)
            .childOption(ChannelOption.TCP_NODELAY, true)
            // Replies beyond 8 MiB unsent make the channel unwritable, which pauses reading that connection.
            .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(2 << 20, 8 << 20))
            // Netty 4.2's default (adaptive) allocator: the classic pooled one frees and re-zeroes a 4 MiB chunk per
            // lone 1 MiB buffer (about 90 us each, see ByteBufAllocatorBenchmark), which is every 1 MiB read here.
            .childOption(ChannelOption.ALLOCATOR, ByteBufAllocator.DEFAULT)
            // Large reads keep a 1 MiB write payload in few pieces (fewer composite components, fewer syscalls).
            .childOption(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(4096, 65536, 1024 * 1024))
            .childHandler(new ChannelInitializer<SocketChannel>()
            {
                @Override
                protected void initChannel(final SocketChannel ch)
                {
                    if (connections.incrementAndGet() > context.maxConnections())
                    {
                        connections.decrementAndGet();
                        LOG.log(Level.WARNING, "{0}: refused: already serving {1} connections",
                            ch.remoteAddress(), context.maxConnections());
                        ch.close();
                        return;
                    }
                    ch.closeFuture().addListener(f -> connections.decrementAndGet());
                    channels.add(ch);
                    ch.pipeline().addLast("nbd-handshake", new NbdHandshakeHandler(exports, context));
                    ch.pipeline().addLast("nbd-last-resort", new LastResortHandler());
                }
            });
        serverChannel = bootstrap.bind(context.host(), context.port()).sync().channel();
        LOG.log(Level.INFO, "NBD server listening on {0} ({1})", serverChannel.localAddress(),
            epoll ? "epoll" : "nio");
        return this;
    }

    /**
     * @return the bound address (useful when the port was 0).
     */
    public InetSocketAddress localAddress()
    {
        return (InetSocketAddress)serverChannel.localAddress();
    }

    /**
     * @return connections currently open.
     */
    public int connectionCount()
    {
        return connections.get();
    }

    /**
     * Stop accepting, close every connection and stop the event loops.
     */
    @Override
    public synchronized void close()
    {
        if (group == null)
        {
            return;
        }
        if (serverChannel != null)
        {
            serverChannel.close().syncUninterruptibly();
        }
        channels.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        if (ownsGroup)
        {
            group.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
        group = null;
    }

    /** Catches what no other handler handled, so nothing surfaces as an unhandled pipeline exception. */
    private static final class LastResortHandler extends ChannelInboundHandlerAdapter
    {
        @Override
        public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
        {
            LOG.log(Level.WARNING, "{0}: {1}; closing", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }

        @Override
        public void channelRead(final ChannelHandlerContext ctx, final Object msg)
        {
            io.netty.util.ReferenceCountUtil.release(msg);
        }
    }
}
