package io.mirra.transport.netty;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The handshake and framing over real loopback TCP sockets (NIO, pooled direct buffers), both streams.
 */
@Timeout(60)
class PeerHandshakeLoopbackTest
{
    private static final long WAIT_SECONDS = 10;
    private static final long[] SIZES = {64L << 20};

    private EventLoopGroup group;
    private final BlockingQueue<Object> serverEvents = new LinkedBlockingQueue<>();
    private final BlockingQueue<Object> clientEvents = new LinkedBlockingQueue<>();

    @BeforeEach
    void start()
    {
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop()
    {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        serverEvents.forEach(ReferenceCountUtil::release);
        clientEvents.forEach(ReferenceCountUtil::release);
    }

    /** Queues user events and frames (frames must be released by whoever takes them). */
    private static final class Collector extends ChannelInboundHandlerAdapter
    {
        private final BlockingQueue<Object> queue;

        Collector(final BlockingQueue<Object> queue)
        {
            this.queue = queue;
        }

        @Override
        public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt)
        {
            queue.add(evt);
        }

        @Override
        public void channelRead(final ChannelHandlerContext ctx, final Object msg)
        {
            queue.add(msg);
        }
    }

    private static PeerHandshakeConfig config(final String self, final String peer, final String secret)
    {
        return PeerHandshakeConfig.of(self, "vm-disk", Set.of(peer), secret.getBytes(StandardCharsets.UTF_8), SIZES);
    }

    private static ChannelHandler pipeline(final Supplier<PeerHandshakeHandler> handshake,
        final BlockingQueue<Object> events)
    {
        return new ChannelInitializer<SocketChannel>()
        {
            @Override
            protected void initChannel(final SocketChannel ch)
            {
                ch.pipeline().addLast(new FrameDecoder(), new FrameEncoder(), handshake.get(), new Collector(events));
            }
        };
    }

    private InetSocketAddress listen(final PeerHandshakeConfig config)
    {
        final Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
            .childHandler(pipeline(() -> PeerHandshakeHandler.acceptor(config), serverEvents))
            .bind("127.0.0.1", 0).syncUninterruptibly().channel();
        return (InetSocketAddress)server.localAddress();
    }

    private Channel connect(final InetSocketAddress address, final PeerHandshakeConfig config, final int streamKind)
    {
        return new Bootstrap().group(group).channel(NioSocketChannel.class)
            .handler(pipeline(() -> PeerHandshakeHandler.connector(config, streamKind), clientEvents))
            .connect(address).syncUninterruptibly().channel();
    }

    private static <T> T next(final BlockingQueue<Object> queue, final Class<T> type) throws InterruptedException
    {
        final Object event = queue.poll(WAIT_SECONDS, TimeUnit.SECONDS);
        assertNotNull(event, "no " + type.getSimpleName() + " within " + WAIT_SECONDS + " s");
        assertInstanceOf(type, event);
        return type.cast(event);
    }

    @Test
    void shouldConnectBothStreamsAndCarryFrames() throws InterruptedException
    {
        final InetSocketAddress address = listen(config("bravo", "alpha", "s3cret"));
        final Channel data = connect(address, config("alpha", "bravo", "s3cret"), STREAM_DATA);
        assertEquals(STREAM_DATA, next(clientEvents, PeerHandshakeCompleted.class).streamKind());
        assertEquals(new PeerHandshakeCompleted("alpha", PROTOCOL_VERSION, KNOWN_FEATURES, STREAM_DATA),
            next(serverEvents, PeerHandshakeCompleted.class));
        final Channel control = connect(address, config("alpha", "bravo", "s3cret"), STREAM_CONTROL);
        assertEquals(STREAM_CONTROL, next(clientEvents, PeerHandshakeCompleted.class).streamKind());
        assertEquals(STREAM_CONTROL, next(serverEvents, PeerHandshakeCompleted.class).streamKind());

        final byte[] payload = new byte[256 * 1024];
        new Random(7).nextBytes(payload);
        final OutboundFrames frames = new OutboundFrames();
        data.eventLoop().execute(() -> data.writeAndFlush(
            frames.write(data.alloc(), 0, 1, 4096, 1, WRITE_FLAG_FUA, Unpooled.wrappedBuffer(payload))));
        final Frame write = next(serverEvents, Frame.class);
        try
        {
            assertEquals(WRITE, write.type());
            assertArrayEquals(payload, ByteBufUtil.getBytes(write.writeData()));
        }
        finally
        {
            write.release();
        }

        control.eventLoop().execute(() -> control.writeAndFlush(frames.ping(control.alloc(), PING, 3, 4)));
        final Frame ping = next(serverEvents, Frame.class);
        assertEquals(PING, ping.type());
        ping.release();
        data.close().syncUninterruptibly();
        control.close().syncUninterruptibly();
    }

    @Test
    void shouldRefuseAWrongSecretOverTcp() throws InterruptedException
    {
        final InetSocketAddress address = listen(config("bravo", "alpha", "s3cret"));
        final Channel data = connect(address, config("alpha", "bravo", "guess"), STREAM_DATA);
        assertEquals(REFUSE_AUTH_FAILED, next(clientEvents, PeerHandshakeFailed.class).reason());
        assertEquals(REFUSE_AUTH_FAILED, next(serverEvents, PeerHandshakeFailed.class).reason());
        assertTrue(data.closeFuture().awaitUninterruptibly(WAIT_SECONDS, TimeUnit.SECONDS));
    }
}
