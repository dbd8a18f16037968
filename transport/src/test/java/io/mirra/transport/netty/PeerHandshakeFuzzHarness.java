package io.mirra.transport.netty;

import io.mirra.test.FuzzInput;
import io.mirra.test.TrackingAllocator;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import io.mirra.transport.protocol.HelloFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import org.agrona.concurrent.UnsafeBuffer;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.List;
import java.util.Set;

import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The body of the guided fuzz test of a stream's handshake: the fuzzer's bytes, in reads it chooses, arrive at node
 * alpha's {@link FrameDecoder} + {@link FrameEncoder} + {@link PeerHandshakeHandler} (as the acceptor, or as the
 * connector of a DATA or CONTROL stream, as the fuzzer chooses), and go on through the stream after the handshake.
 * <p>
 * A fuzzer cannot forge the HMAC over alpha's fresh nonce, so this harness plays the honest part of a peer: an
 * AUTH_RESPONSE whose MAC is all zeros is replaced, before feeding, by the correct MAC for the node name and stream
 * kind of the first well-formed HELLO in the stream (the nonce is read from the handler). That lets inputs get
 * through authentication into the stream phase; any other MAC is left as the fuzzer made it.
 * <p>
 * Checked whatever the bytes, besides {@link FrameDecoderFuzzHarness}'s properties (no exception, every frame the
 * exact next bytes of the stream and valid in its phase, memory bounded by what was received, nothing leaked):
 * the handshake completes at most once and never after failing, a completed one names a configured peer with the
 * agreed version and leaves the pipeline, and a closed channel always has a reason (a handshake failure or a
 * decoding failure). Seeds named {@code valid-} must complete the handshake and decode completely.
 */
final class PeerHandshakeFuzzHarness
{
    static final byte[] SECRET = "a shared secret for fuzzing".getBytes(StandardCharsets.UTF_8);
    static final long[] SIZES = {1L << 30, 1L << 20};
    static final String NODE = "alpha";
    static final String PEER = "bravo";
    static final String RESOURCE = "demo";
    /** The fuzzer's first choice: alpha accepts the connection. */
    static final int ALPHA_ACCEPTS = 0;
    /** The fuzzer's first choice: alpha dialled the DATA stream. */
    static final int ALPHA_CONNECTS_DATA = 1;
    /** The fuzzer's first choice: alpha dialled the CONTROL stream. */
    static final int ALPHA_CONNECTS_CONTROL = 2;

    private static final Field OWN_NONCE;

    static
    {
        try
        {
            OWN_NONCE = PeerHandshakeHandler.class.getDeclaredField("ownNonce");
            OWN_NONCE.setAccessible(true);
        }
        catch (final NoSuchFieldException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private PeerHandshakeFuzzHarness()
    {
    }

    /** @return alpha's configuration: peers bravo and charlie. */
    static PeerHandshakeConfig alpha()
    {
        return PeerHandshakeConfig.of(NODE, RESOURCE, Set.of(PEER, "charlie"), SECRET, SIZES);
    }

    /**
     * One fuzz input: the role of alpha, the split into reads, then the stream the peer sends.
     *
     * @param data      the fuzzer's input.
     * @param inputName the seed's file name in regression mode (else anything).
     */
    static void handshake(final FuzzedDataProvider data, final String inputName)
    {
        final int role = data.consumeInt(ALPHA_ACCEPTS, ALPHA_CONNECTS_CONTROL);
        final int[] cuts = FuzzInput.readCuts(data);
        final byte[] stream = data.consumeRemainingAsBytes();

        final int dialledKind = role == ALPHA_CONNECTS_DATA ? STREAM_DATA : STREAM_CONTROL;
        final PeerHandshakeHandler handler = role == ALPHA_ACCEPTS ? PeerHandshakeHandler.acceptor(alpha()) :
            PeerHandshakeHandler.connector(alpha(), dialledKind);
        completeMacs(stream, nonceOf(handler), role == ALPHA_ACCEPTS ? ROLE_CONNECTOR : ROLE_ACCEPTOR,
            role == ALPHA_ACCEPTS ? 0 : dialledKind);

        final TrackingAllocator alloc = new TrackingAllocator();
        final FrameDecoder decoder = new FrameDecoder();
        final FrameStreamCheck check = new FrameStreamCheck(stream, decoder);
        final Events events = new Events(check);
        final EmbeddedChannel channel = new EmbeddedChannel(false, false, decoder, new Tap(check, events),
            new FrameEncoder(), handler, events);
        channel.config().setAllocator(alloc);
        register(channel); // alpha as the connector sends its HELLO now

        final List<ByteBuf> reads = FrameDecoderFuzzHarness.feed(channel, alloc, stream, cuts);
        discardOutbound(channel);
        final boolean open = channel.isOpen();
        final FrameDecodingException failure = decoder.failure();
        if (failure != null)
        {
            assertFalse(open, "open after " + failure.getMessage());
            assertEquals(List.of(failure), check.failures(), "the decoding failure is fired once");
        }
        else
        {
            assertTrue(check.failures().isEmpty(), "failure events without a failure: " + check.failures());
        }
        assertFalse(events.completed != null && events.failed != null, "completed and failed: " + events.completed +
            ", " + events.failed);
        if (events.completed != null)
        {
            assertTrue(alpha().peerNames().contains(events.completed.peerName()), events.completed.toString());
            assertEquals(PROTOCOL_VERSION, events.completed.agreedVersion());
            assertNull(channel.pipeline().get(PeerHandshakeHandler.class), "the handler left the pipeline");
            if (role != ALPHA_ACCEPTS)
            {
                assertEquals(dialledKind, events.completed.streamKind());
            }
        }
        if (events.failed != null)
        {
            assertFalse(open, "open after the handshake failed: " + events.failed);
        }
        if (!open)
        {
            assertTrue(events.failed != null || failure != null, "closed without a reason");
        }
        else
        {
            check.assertOnlyAnIncompleteFrameLeft();
        }
        if (inputName.startsWith(FrameDecoderFuzzHarness.VALID_SEED_PREFIX))
        {
            assertNotNull(events.completed, "a valid seed completes the handshake: " + events.failed);
            assertTrue(open, "a valid seed keeps the stream open");
            assertEquals(stream.length, check.consumed(), "a valid seed decodes completely");
        }
        channel.close();
        discardOutbound(channel);
        FrameDecoderFuzzHarness.closeAndAssertAllReleased(channel, alloc, reads);
    }

    /**
     * Replace each all-zero AUTH_RESPONSE MAC by the one alpha expects (see the class comment).
     *
     * @param stream     the peer's bytes, changed in place.
     * @param nonce      alpha's nonce.
     * @param signerRole the peer's role ({@code ROLE_CONNECTOR} when alpha accepts).
     * @param streamKind the stream alpha dialled, or 0 when alpha accepts (the HELLO says).
     */
    static void completeMacs(final byte[] stream, final byte[] nonce, final int signerRole, final int streamKind)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(stream);
        String signer = null;
        int kind = streamKind;
        int at = 0;
        while (at + HEADER_LENGTH <= stream.length)
        {
            final int type = buffer.getShort(at + TYPE_OFFSET, BYTE_ORDER) & 0xFFFF;
            final long bodyLength = Integer.toUnsignedLong(buffer.getInt(at + BODY_LENGTH_OFFSET, BYTE_ORDER));
            final int body = at + HEADER_LENGTH;
            if (bodyLength > stream.length - body)
            {
                return;
            }
            if (type == HELLO && signer == null && bodyLength <= HelloFlyweight.MAX_LENGTH)
            {
                final HelloFlyweight hello = new HelloFlyweight().wrap(new UnsafeBuffer(stream, body,
                    (int)bodyLength), 0);
                if (hello.validate((int)bodyLength) == null)
                {
                    signer = hello.nodeName();
                    kind = streamKind == 0 ? hello.streamKind() : streamKind;
                }
            }
            else if (type == AUTH_RESPONSE && bodyLength == MAC_LENGTH && signer != null &&
                isZero(stream, body, MAC_LENGTH))
            {
                System.arraycopy(mac(nonce, signerRole, signer, kind), 0, stream, body, MAC_LENGTH);
            }
            at = body + (int)bodyLength;
        }
    }

    /**
     * HMAC-SHA256(secret, nonce || u8 signerRole || u8 len || signer || u8 len || resource || u8 streamKind), as
     * docs/wire-protocol.md specifies it.
     */
    static byte[] mac(final byte[] nonce, final int signerRole, final String signer, final int streamKind)
    {
        try
        {
            final Mac hmac = Mac.getInstance("HmacSHA256");
            hmac.init(new SecretKeySpec(SECRET, "HmacSHA256"));
            hmac.update(nonce);
            hmac.update((byte)signerRole);
            final byte[] signerBytes = signer.getBytes(StandardCharsets.UTF_8);
            hmac.update((byte)signerBytes.length);
            hmac.update(signerBytes);
            final byte[] resource = RESOURCE.getBytes(StandardCharsets.UTF_8);
            hmac.update((byte)resource.length);
            hmac.update(resource);
            hmac.update((byte)streamKind);
            return hmac.doFinal();
        }
        catch (final GeneralSecurityException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private static boolean isZero(final byte[] bytes, final int from, final int length)
    {
        for (int i = from; i < from + length; i++)
        {
            if (bytes[i] != 0)
            {
                return false;
            }
        }
        return true;
    }

    private static byte[] nonceOf(final PeerHandshakeHandler handler)
    {
        try
        {
            return ((byte[])OWN_NONCE.get(handler)).clone();
        }
        catch (final IllegalAccessException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private static void register(final EmbeddedChannel channel)
    {
        try
        {
            channel.register();
        }
        catch (final Exception ex)
        {
            throw new IllegalStateException(ex);
        }
        channel.checkException();
    }

    private static void discardOutbound(final EmbeddedChannel channel)
    {
        Object msg;
        while ((msg = channel.readOutbound()) != null)
        {
            ReferenceCountUtil.release(msg);
        }
    }

    /** Between the decoder and the handshake handler: checks every frame against the stream, passes it on. */
    private static final class Tap extends ChannelInboundHandlerAdapter
    {
        private final FrameStreamCheck check;
        private final Events events;

        Tap(final FrameStreamCheck check, final Events events)
        {
            this.check = check;
            this.events = events;
        }

        @Override
        public void channelRead(final ChannelHandlerContext ctx, final Object msg)
        {
            final Frame frame = (Frame)msg;
            try
            {
                check.check(frame, events.completed == null ? 0 : events.completed.streamKind());
            }
            catch (final RuntimeException | Error ex)
            {
                frame.release();
                throw ex;
            }
            ctx.fireChannelRead(frame);
        }
    }

    /** The end of the pipeline: records the handshake's events and releases the frames after it. */
    private static final class Events extends ChannelInboundHandlerAdapter
    {
        private final FrameStreamCheck check;
        PeerHandshakeCompleted completed;
        PeerHandshakeFailed failed;

        Events(final FrameStreamCheck check)
        {
            this.check = check;
        }

        @Override
        public void channelRead(final ChannelHandlerContext ctx, final Object msg)
        {
            assertNotNull(completed, "a frame passed the handshake handler before the handshake completed");
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt)
        {
            check.onEvent(evt);
            if (evt instanceof PeerHandshakeCompleted)
            {
                assertNull(completed, "completed twice");
                completed = (PeerHandshakeCompleted)evt;
            }
            else if (evt instanceof PeerHandshakeFailed && ctx.channel().isOpen())
            {
                assertNull(failed, "failed twice");
                failed = (PeerHandshakeFailed)evt;
            }
        }
    }
}
