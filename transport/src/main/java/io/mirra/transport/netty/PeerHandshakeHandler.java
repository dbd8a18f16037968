package io.mirra.transport.netty;

import io.mirra.transport.protocol.AuthResponseFlyweight;
import io.mirra.transport.protocol.HelloFlyweight;
import io.mirra.transport.protocol.RefuseFlyweight;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static io.mirra.transport.protocol.ReplicationProtocol.*;

/**
 * The handshake of one stream (DATA or CONTROL) of a peer connection: HELLO exchange with version and feature
 * negotiation, then mutual challenge/response authentication with the resource's shared secret. Sits after
 * {@link FrameDecoder} and {@link FrameEncoder}; removes itself when done.
 * <pre>
 *   connector                                   acceptor
 *     HELLO(kind, versions, features, sizes, nonceC) --&gt;
 *                                      (check resource, peer name, versions, sizes)
 *     &lt;-- HELLO(kind, ..., nonceA), AUTH_RESPONSE(HMAC(secret, nonceC | ACCEPTOR | nameA | resource | kind))
 *     (check the same; verify)
 *     AUTH_RESPONSE(HMAC(secret, nonceA | CONNECTOR | nameC | resource | kind)), AUTH_OK --&gt;
 *                                                  (verify)
 *     &lt;-- AUTH_OK
 * </pre>
 * Each side completes once it has verified the peer's AUTH_RESPONSE and received the peer's AUTH_OK, i.e. both
 * sides verified each other. The agreed version is the highest both speak; the agreed features are those both offer.
 * The MAC binds the peer's fresh nonce, the signer's role and own name, the resource and the stream kind, so it
 * cannot be replayed, reflected, relayed between two acceptors or moved to another resource or stream; it is compared in constant time, and the secret never
 * travels.
 * <p>
 * On success: tells the decoder and encoder the agreed version, fires {@link PeerHandshakeCompleted} and removes
 * itself. On any mismatch (wrong resource, unknown peer name, no common version, different volume count or sizes,
 * failed authentication, malformed or unexpected message, deadline passed): logs the exact reason, sends REFUSE with
 * its code and message, fires {@link PeerHandshakeFailed} and closes. A received REFUSE is logged and fired the same
 * way. The acceptor sends nothing before a valid HELLO arrives.
 * <p>
 * Threading: not sharable; one instance per channel, used only on its event loop. Inbound frames are released here.
 */
public final class PeerHandshakeHandler extends ChannelInboundHandlerAdapter
{
    private static final System.Logger LOG = System.getLogger(PeerHandshakeHandler.class.getName());
    private static final String HMAC_ALGORITHM = "HmacSHA256";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final PeerHandshakeConfig config;
    private final boolean connector;
    private final OutboundFrames frames = new OutboundFrames();
    private final ByteBufView view = new ByteBufView();
    private final HelloFlyweight hello = new HelloFlyweight();
    private final AuthResponseFlyweight authResponse = new AuthResponseFlyweight();
    private final RefuseFlyweight refuse = new RefuseFlyweight();
    private final byte[] ownNonce = new byte[NONCE_LENGTH];
    private final byte[] peerNonce = new byte[NONCE_LENGTH];
    private int streamKind;
    private String peerName;
    private int agreedVersion;
    private long agreedFeatures;
    private boolean started;
    private boolean peerHelloReceived;
    private boolean peerAuthVerified;
    private boolean finished;
    private ScheduledFuture<?> deadline;

    private PeerHandshakeHandler(final PeerHandshakeConfig config, final boolean connector, final int streamKind)
    {
        this.config = config;
        this.connector = connector;
        this.streamKind = streamKind;
        RANDOM.nextBytes(ownNonce);
    }

    /**
     * The side that dialled: sends its HELLO as soon as the channel is active.
     *
     * @param config     this side's configuration.
     * @param streamKind the stream this channel is, {@link io.mirra.transport.protocol.ReplicationProtocol#STREAM_DATA}
     *                   or {@link io.mirra.transport.protocol.ReplicationProtocol#STREAM_CONTROL}.
     * @return a new handler for one channel.
     */
    public static PeerHandshakeHandler connector(final PeerHandshakeConfig config, final int streamKind)
    {
        if (streamKind != STREAM_DATA && streamKind != STREAM_CONTROL)
        {
            throw new IllegalArgumentException("stream kind " + streamKind);
        }
        return new PeerHandshakeHandler(config, true, streamKind);
    }

    /**
     * The side that accepted: waits for the connector's HELLO, learns the stream kind from it, then answers.
     *
     * @param config this side's configuration.
     * @return a new handler for one channel.
     */
    public static PeerHandshakeHandler acceptor(final PeerHandshakeConfig config)
    {
        return new PeerHandshakeHandler(config, false, 0);
    }

    /**
     * @return the peer's node name once its HELLO named a configured peer of this resource, else null (lets the
     *         owner of an accepted connection attribute a failed handshake to a peer). Event loop only.
     */
    public String peerName()
    {
        return peerName;
    }

    /** {@inheritDoc} */
    @Override
    public void handlerAdded(final ChannelHandlerContext ctx)
    {
        if (ctx.channel().isActive())
        {
            start(ctx);
        }
    }

    /** {@inheritDoc} */
    @Override
    public void channelActive(final ChannelHandlerContext ctx)
    {
        start(ctx);
        ctx.fireChannelActive();
    }

    private void start(final ChannelHandlerContext ctx)
    {
        if (started)
        {
            return;
        }
        started = true;
        deadline = ctx.executor().schedule(() -> onDeadline(ctx), config.timeoutNs(), TimeUnit.NANOSECONDS);
        if (connector)
        {
            sendHello(ctx);
            ctx.flush();
        }
    }

    private void onDeadline(final ChannelHandlerContext ctx)
    {
        if (!finished)
        {
            refuse(ctx, REFUSE_HANDSHAKE_TIMEOUT, "handshake not completed within " +
                TimeUnit.NANOSECONDS.toMillis(config.timeoutNs()) + " ms");
        }
    }

    /** {@inheritDoc} */
    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        try
        {
            if (finished)
            {
                return;
            }
            if (!(msg instanceof Frame))
            {
                refuse(ctx, REFUSE_PROTOCOL_ERROR, "unexpected " + msg.getClass().getSimpleName() + " in handshake");
                return;
            }
            final Frame frame = (Frame)msg;
            switch (frame.type())
            {
                case HELLO:
                    onHello(ctx, frame);
                    break;
                case AUTH_RESPONSE:
                    onAuthResponse(ctx, frame);
                    break;
                case AUTH_OK:
                    onAuthOk(ctx);
                    break;
                case REFUSE:
                    onRefuse(ctx, frame);
                    break;
                default:
                    refuse(ctx, REFUSE_PROTOCOL_ERROR, typeName(frame.type()) + " during the handshake");
            }
        }
        finally
        {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onHello(final ChannelHandlerContext ctx, final Frame frame)
    {
        if (peerHelloReceived)
        {
            refuse(ctx, REFUSE_PROTOCOL_ERROR, "second HELLO");
            return;
        }
        peerHelloReceived = true;
        final int length = frame.bodyLength();
        hello.wrap(view.wrapForRead(frame.content(), frame.content().readerIndex(), length), 0);
        final String malformed = hello.validate(length);
        if (malformed != null)
        {
            refuse(ctx, REFUSE_PROTOCOL_ERROR, malformed);
            return;
        }
        final String resource = hello.resourceName();
        final String name = hello.nodeName();
        if (!resource.equals(config.resourceName()))
        {
            refuse(ctx, REFUSE_WRONG_RESOURCE, "peer " + name + " asks for resource '" + resource +
                "', this is resource '" + config.resourceName() + "'");
            return;
        }
        if (!config.peerNames().contains(name))
        {
            refuse(ctx, REFUSE_UNKNOWN_PEER, "node '" + name + "' is not a peer of resource '" + resource +
                "' on " + config.nodeName() + " (expected one of " + config.peerNames() + ")");
            return;
        }
        peerName = name;
        if (!connector)
        {
            streamKind = hello.streamKind();
        }
        else if (hello.streamKind() != streamKind)
        {
            refuse(ctx, REFUSE_PROTOCOL_ERROR, "peer answered for the " + streamName(hello.streamKind()) +
                " stream on the " + streamName(streamKind) + " stream");
            return;
        }
        final int low = Math.max(hello.minVersion(), config.minVersion());
        final int high = Math.min(hello.maxVersion(), config.maxVersion());
        if (low > high)
        {
            refuse(ctx, REFUSE_VERSION_MISMATCH, "peer " + name + " speaks protocol versions " + hello.minVersion() +
                ".." + hello.maxVersion() + ", " + config.nodeName() + " speaks " + config.minVersion() + ".." +
                config.maxVersion());
            return;
        }
        final String sizeMismatch = compareVolumes();
        if (sizeMismatch != null)
        {
            refuse(ctx, REFUSE_VOLUME_SIZE_MISMATCH, "peer " + name + ": " + sizeMismatch);
            return;
        }
        agreedVersion = high;
        agreedFeatures = hello.features() & config.features();
        hello.getNonce(peerNonce);
        if (!connector)
        {
            sendHello(ctx);
        }
        ctx.write(frames.authResponse(ctx.alloc(), mac(peerNonce, connector ? ROLE_CONNECTOR : ROLE_ACCEPTOR,
            config.nodeName())));
        ctx.flush();
    }

    private String compareVolumes()
    {
        final long[] own = config.volumeSizes();
        if (hello.volumeCount() != own.length)
        {
            return hello.volumeCount() + " volumes, " + config.nodeName() + " has " + own.length;
        }
        for (int i = 0; i < own.length; i++)
        {
            if (hello.volumeSize(i) != own[i])
            {
                return "volume " + i + " is " + hello.volumeSize(i) + " bytes, on " + config.nodeName() + " " +
                    own[i] + " bytes";
            }
        }
        return null;
    }

    private void onAuthResponse(final ChannelHandlerContext ctx, final Frame frame)
    {
        if (!peerHelloReceived || peerAuthVerified)
        {
            refuse(ctx, REFUSE_PROTOCOL_ERROR,
                peerAuthVerified ? "second AUTH_RESPONSE" : "AUTH_RESPONSE before HELLO");
            return;
        }
        final byte[] received = authResponse.wrap(
            view.wrapForRead(frame.content(), frame.content().readerIndex(), AuthResponseFlyweight.LENGTH), 0)
            .getMac(new byte[MAC_LENGTH]);
        final byte[] expected = mac(ownNonce, connector ? ROLE_ACCEPTOR : ROLE_CONNECTOR, peerName);
        if (!MessageDigest.isEqual(expected, received))
        {
            refuse(ctx, REFUSE_AUTH_FAILED, "peer " + peerName + " failed authentication for resource '" +
                config.resourceName() + "' (no or another shared secret)");
            return;
        }
        peerAuthVerified = true;
        ctx.writeAndFlush(frames.authOk());
    }

    private void onAuthOk(final ChannelHandlerContext ctx)
    {
        if (!peerAuthVerified)
        {
            refuse(ctx, REFUSE_PROTOCOL_ERROR, "AUTH_OK before a verified AUTH_RESPONSE");
            return;
        }
        finished = true;
        cancelDeadline();
        final FrameDecoder decoder = ctx.pipeline().get(FrameDecoder.class);
        if (decoder != null)
        {
            decoder.handshakeCompleted(agreedVersion, streamKind);
        }
        final FrameEncoder encoder = ctx.pipeline().get(FrameEncoder.class);
        if (encoder != null)
        {
            encoder.handshakeCompleted(agreedVersion);
        }
        LOG.log(Level.INFO, "{0}: {1} stream of resource {2} connected to peer {3}, protocol version {4}, " +
            "features 0x{5}", ctx.channel().remoteAddress(), streamName(streamKind), config.resourceName(), peerName,
            agreedVersion, Long.toHexString(agreedFeatures));
        ctx.fireUserEventTriggered(new PeerHandshakeCompleted(peerName, agreedVersion, agreedFeatures, streamKind));
        ctx.pipeline().remove(this);
    }

    private void onRefuse(final ChannelHandlerContext ctx, final Frame frame)
    {
        final int length = frame.bodyLength();
        refuse.wrap(view.wrapForRead(frame.content(), frame.content().readerIndex(), length), 0);
        final String malformed = refuse.validate(length);
        final int reason = malformed == null ? refuse.reason() : REFUSE_PROTOCOL_ERROR;
        final String message = malformed == null ? refuse.message() : malformed;
        finished = true;
        cancelDeadline();
        LOG.log(Level.WARNING, "{0}: refused by peer {1} for resource {2}: {3}: {4}", ctx.channel().remoteAddress(),
            peerLabel(), config.resourceName(), refuseReasonName(reason), message);
        ctx.fireUserEventTriggered(new PeerHandshakeFailed(reason, message, true));
        ctx.close();
    }

    private void refuse(final ChannelHandlerContext ctx, final int reason, final String message)
    {
        if (finished)
        {
            return;
        }
        finished = true;
        cancelDeadline();
        LOG.log(Level.WARNING, "{0}: refusing peer {1} for resource {2}: {3}: {4}", ctx.channel().remoteAddress(),
            peerLabel(), config.resourceName(), refuseReasonName(reason), message);
        ctx.fireUserEventTriggered(new PeerHandshakeFailed(reason, message, false));
        if (ctx.channel().isActive())
        {
            ctx.writeAndFlush(frames.refuse(ctx.alloc(), reason, message)).addListener(ChannelFutureListener.CLOSE);
        }
        else
        {
            ctx.close();
        }
    }

    /** {@inheritDoc} */
    @Override
    public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt)
    {
        if (evt instanceof FrameDecodingException && !finished)
        {
            refuse(ctx, REFUSE_PROTOCOL_ERROR, ((FrameDecodingException)evt).getMessage());
        }
        ctx.fireUserEventTriggered(evt);
    }

    /** {@inheritDoc} */
    @Override
    public void channelInactive(final ChannelHandlerContext ctx)
    {
        if (!finished)
        {
            finished = true;
            cancelDeadline();
            final String message = "connection closed during the handshake" +
                (peerName == null ? "" : " with peer " + peerName);
            LOG.log(Level.WARNING, "{0}: {1}", ctx.channel().remoteAddress(), message);
            ctx.fireUserEventTriggered(new PeerHandshakeFailed(REFUSE_PROTOCOL_ERROR, message, false));
        }
        ctx.fireChannelInactive();
    }

    /** {@inheritDoc} */
    @Override
    public void handlerRemoved(final ChannelHandlerContext ctx)
    {
        cancelDeadline();
    }

    private void sendHello(final ChannelHandlerContext ctx)
    {
        ctx.write(frames.hello(ctx.alloc(), config.minVersion(), config.maxVersion(), streamKind, config.features(),
            ownNonce, config.volumeSizes(), config.nodeName(), config.resourceName()));
    }

    private String peerLabel()
    {
        return peerName == null ? "(not yet identified)" : peerName;
    }

    private void cancelDeadline()
    {
        if (deadline != null)
        {
            deadline.cancel(false);
            deadline = null;
        }
    }

    /**
     * HMAC-SHA256(secret, nonce || u8 signerRole || u8 len || signer || u8 len || resource || u8 streamKind).
     */
    private byte[] mac(final byte[] nonce, final int signerRole, final String signer)
    {
        final byte[] secret = config.sharedSecret();
        try
        {
            final Mac hmac = Mac.getInstance(HMAC_ALGORITHM);
            hmac.init(new SecretKeySpec(secret, HMAC_ALGORITHM));
            hmac.update(nonce);
            hmac.update((byte)signerRole);
            final byte[] signerBytes = signer.getBytes(StandardCharsets.UTF_8);
            hmac.update((byte)signerBytes.length);
            hmac.update(signerBytes);
            final byte[] resource = config.resourceName().getBytes(StandardCharsets.UTF_8);
            hmac.update((byte)resource.length);
            hmac.update(resource);
            hmac.update((byte)streamKind);
            return hmac.doFinal();
        }
        catch (final GeneralSecurityException ex)
        {
            throw new IllegalStateException(HMAC_ALGORITHM + " unavailable", ex);
        }
        finally
        {
            Arrays.fill(secret, (byte)0);
        }
    }
}
