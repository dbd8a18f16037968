package io.mirra.transport.netty;

import io.mirra.transport.StreamKind;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.util.ReferenceCountUtil;

import java.lang.System.Logger.Level;

/**
 * Builds the pipeline of one peer stream: {@link FrameDecoder}, {@link FrameEncoder}, {@link PeerHandshakeHandler}
 * (connector for a dialed stream, acceptor for an accepted one), then a handler that hands the stream to its
 * {@link NettyPeerLink}: handshake results, inbound frames, errors. Sharable; one instance per dial or per listening
 * socket.
 */
final class PeerChannelInitializer extends ChannelInitializer<Channel>
{
    private static final System.Logger LOG = System.getLogger(PeerChannelInitializer.class.getName());

    private final NettyPeerTransport transport;
    private final NettyPeerLink link;
    private final StreamKind stream;

    /**
     * @param transport the owner.
     * @param link      the link of a dialed stream, or null for accepted streams.
     * @param stream    the kind of a dialed stream, or null for accepted streams.
     */
    PeerChannelInitializer(final NettyPeerTransport transport, final NettyPeerLink link, final StreamKind stream)
    {
        this.transport = transport;
        this.link = link;
        this.stream = stream;
    }

    @Override
    protected void initChannel(final Channel ch)
    {
        transport.track(ch);
        ch.pipeline().addLast("frame-decoder", new FrameDecoder());
        ch.pipeline().addLast("frame-encoder", new FrameEncoder());
        ch.pipeline().addLast("handshake", link == null ? PeerHandshakeHandler.acceptor(transport.config()) :
            PeerHandshakeHandler.connector(transport.config(), stream.wireCode()));
        ch.pipeline().addLast("peer-stream", new StreamHandler(transport, link));
    }

    /** Per channel: routes handshake results and frames to the link. Event loop only. */
    static final class StreamHandler extends ChannelInboundHandlerAdapter
    {
        private final NettyPeerTransport transport;
        private NettyPeerLink link;

        StreamHandler(final NettyPeerTransport transport, final NettyPeerLink link)
        {
            this.transport = transport;
            this.link = link;
        }

        @Override
        public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt)
        {
            if (evt instanceof PeerHandshakeCompleted completed)
            {
                final StreamKind kind = StreamKind.ofWireCode(completed.streamKind());
                if (link == null)
                {
                    link = transport.acceptedLink(completed.peerName(), ctx.channel());
                }
                if (link != null)
                {
                    link.onStreamAuthenticated(ctx.channel(), kind, completed);
                }
            }
            else if (evt instanceof PeerHandshakeFailed failed)
            {
                final boolean active = ctx.channel().isActive();
                if (link != null)
                {
                    link.onHandshakeFailed(ctx.channel(), failed, active);
                }
                else
                {
                    final PeerHandshakeHandler handshake = ctx.pipeline().get(PeerHandshakeHandler.class);
                    transport.onAcceptedHandshakeFailed(handshake == null ? null : handshake.peerName(), failed,
                        active);
                }
            }
            else if (evt instanceof FrameDecodingException error && link != null)
            {
                link.onStreamError(ctx.channel(), error.getMessage());
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelRead(final ChannelHandlerContext ctx, final Object msg)
        {
            if (link != null && msg instanceof Frame frame)
            {
                link.onFrame(ctx.channel(), frame);
            }
            else
            {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
        {
            LOG.log(ctx.channel().isActive() ? Level.WARNING : Level.DEBUG, "{0}: closing peer stream: {1}",
                ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }
}
