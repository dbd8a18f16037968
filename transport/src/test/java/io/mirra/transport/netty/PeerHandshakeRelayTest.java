package io.mirra.transport.netty;

import io.mirra.transport.protocol.AuthResponseFlyweight;
import io.mirra.transport.protocol.HelloFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;

import static io.mirra.transport.netty.FrameTestSupport.EventRecorder;
import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A man in the middle without the secret dials both alpha and bravo, posing as the other to each, and hands each
 * acceptor's signature over the other's nonce across. The role bound into the MAC must make alpha refuse it.
 */
@Timeout(30)
class PeerHandshakeRelayTest
{
    private final List<EmbeddedChannel> channels = new ArrayList<>();
    private final OutboundFrames frames = new OutboundFrames();
    private final ByteBufView view = new ByteBufView();

    @AfterEach
    void releaseAll()
    {
        channels.forEach(EmbeddedChannel::finishAndReleaseAll);
    }

    private EmbeddedChannel track(final EmbeddedChannel channel)
    {
        channels.add(channel);
        return channel;
    }

    /** Move everything `from` wrote into `to`. */
    private static void transfer(final EmbeddedChannel from, final EmbeddedChannel to)
    {
        ByteBuf buf;
        while ((buf = from.readOutbound()) != null)
        {
            if (to.isOpen())
            {
                to.writeInbound(buf);
            }
            else
            {
                buf.release();
            }
        }
    }

    private static Frame next(final EmbeddedChannel channel, final int type)
    {
        final Frame frame = channel.readInbound();
        assertNotNull(frame, "expected " + typeName(type));
        assertEquals(type, frame.type(), frame.toString());
        return frame;
    }

    @Test
    void shouldRefuseASignatureRelayedFromAnotherAcceptor()
    {
        final EventRecorder alphaEvents = new EventRecorder();
        final EmbeddedChannel alpha = track(new EmbeddedChannel(new FrameDecoder(), new FrameEncoder(),
            PeerHandshakeHandler.acceptor(PeerHandshakeTest.alpha()), alphaEvents));
        final EmbeddedChannel bravo = track(new EmbeddedChannel(new FrameDecoder(), new FrameEncoder(),
            PeerHandshakeHandler.acceptor(PeerHandshakeTest.bravo())));
        // The attacker's two connections: an encoder to talk, a decoder to listen, on each.
        final EmbeddedChannel toAlpha = track(new EmbeddedChannel(new FrameEncoder()));
        final EmbeddedChannel fromAlpha = track(new EmbeddedChannel(new FrameDecoder()));
        final EmbeddedChannel toBravo = track(new EmbeddedChannel(new FrameEncoder()));
        final EmbeddedChannel fromBravo = track(new EmbeddedChannel(new FrameDecoder()));
        final long[] sizes = PeerHandshakeTest.alpha().volumeSizes();

        toAlpha.writeOutbound(frames.hello(toAlpha.alloc(), 1, 1, STREAM_DATA, 0, new byte[NONCE_LENGTH], sizes,
            "bravo", "demo"));
        transfer(toAlpha, alpha);
        transfer(alpha, fromAlpha);
        final Frame alphaHello = next(fromAlpha, HELLO);
        final byte[] alphaNonce = new HelloFlyweight().wrap(view.wrapForRead(alphaHello.content(),
            alphaHello.content().readerIndex(), alphaHello.bodyLength()), 0).getNonce(new byte[NONCE_LENGTH]);
        alphaHello.release();
        next(fromAlpha, AUTH_RESPONSE).release();

        toBravo.writeOutbound(frames.hello(toBravo.alloc(), 1, 1, STREAM_DATA, 0, alphaNonce, sizes, "alpha",
            "demo"));
        transfer(toBravo, bravo);
        transfer(bravo, fromBravo);
        next(fromBravo, HELLO).release();
        final Frame bravoAuth = next(fromBravo, AUTH_RESPONSE);
        final byte[] bravoSignatureOverAlphaNonce = new AuthResponseFlyweight().wrap(view.wrapForRead(
            bravoAuth.content(), bravoAuth.content().readerIndex(), AuthResponseFlyweight.LENGTH), 0)
            .getMac(new byte[MAC_LENGTH]);
        bravoAuth.release();

        toAlpha.writeOutbound(frames.authResponse(toAlpha.alloc(), bravoSignatureOverAlphaNonce));
        toAlpha.writeOutbound(frames.authOk());
        transfer(toAlpha, alpha);

        assertTrue(alphaEvents.eventsOf(PeerHandshakeCompleted.class).isEmpty(), String.valueOf(alphaEvents.events));
        final List<PeerHandshakeFailed> failures = alphaEvents.eventsOf(PeerHandshakeFailed.class);
        assertEquals(1, failures.size());
        assertEquals(REFUSE_AUTH_FAILED, failures.get(0).reason());
        assertFalse(alpha.isOpen());
    }
}
