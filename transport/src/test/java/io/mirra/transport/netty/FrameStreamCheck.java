package io.mirra.transport.netty;

import io.mirra.transport.protocol.FrameHeaderFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.List;

import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * What the fuzz tests check of every frame a {@link FrameDecoder} emits, against the stream it was fed: each frame
 * is exactly the next bytes of the stream (re-encoding its header gives the received header, its body is the
 * received body), has the next sequence, and is a frame the decoder may accept in its phase and on its stream, with
 * valid flags, volume and length. Also collects the decoder's failures (user events).
 */
final class FrameStreamCheck
{
    private final byte[] stream;
    private final FrameDecoder decoder;
    private final FrameHeaderFlyweight header = new FrameHeaderFlyweight();
    private final byte[] headerBytes = new byte[HEADER_LENGTH];
    private final List<FrameDecodingException> failures = new ArrayList<>();
    private int consumed;
    private long frames;

    /**
     * @param stream  every byte fed to the decoder, in order.
     * @param decoder the decoder under test.
     */
    FrameStreamCheck(final byte[] stream, final FrameDecoder decoder)
    {
        this.stream = stream;
        this.decoder = decoder;
        header.wrap(new UnsafeBuffer(headerBytes), 0);
    }

    /** @return stream bytes covered by the frames emitted so far. */
    int consumed()
    {
        return consumed;
    }

    /** @return frames emitted so far. */
    long frames()
    {
        return frames;
    }

    /** @return the {@link FrameDecodingException}s fired so far. */
    List<FrameDecodingException> failures()
    {
        return failures;
    }

    /**
     * Check one emitted frame (without releasing it).
     *
     * @param frame      as emitted.
     * @param streamKind the stream after the handshake, or 0 during it.
     */
    void check(final Frame frame, final int streamKind)
    {
        assertNull(decoder.failure(), "a frame emitted after the decoder failed");
        assertEquals(++frames, frame.sequence(), "sequence");
        final int type = frame.type();
        assertTrue(isKnownType(type), "unknown type " + type);
        if (streamKind == 0)
        {
            assertTrue(isHandshakeType(type), typeName(type) + " before the handshake completed");
        }
        else
        {
            assertTrue(type == REFUSE || (!isHandshakeType(type) && (streamsOf(type) & streamKind) != 0),
                typeName(type) + " on the " + streamName(streamKind) + " stream");
        }
        assertEquals(0, frame.flags() & ~KNOWN_FRAME_FLAGS, "frame flags");
        assertTrue(frame.volume() >= 0 && frame.volume() < MAX_VOLUMES, "volume " + frame.volume());
        final int length = frame.bodyLength();
        assertTrue(length >= minBodyLength(type) && length <= maxBodyLength(type, MAX_WRITE_DATA_LENGTH),
            typeName(type) + " body of " + length + " bytes");
        switch (type)
        {
            case WRITE:
            case RESYNC_DATA:
                assertEquals(length - io.mirra.transport.protocol.WriteFlyweight.HEADER_LENGTH,
                    frame.writeData().readableBytes(), "write data");
                break;
            case READ_REPLY:
                assertEquals(length - io.mirra.transport.protocol.ReadReplyFlyweight.HEADER_LENGTH,
                    frame.readReplyData().readableBytes(), "read reply data");
                break;
            default:
                break;
        }

        // Exactly the bytes it came from: header fields re-encoded, then the body.
        assertTrue(consumed + HEADER_LENGTH + length <= stream.length, "frame extends past the bytes received");
        header.set(frame.version(), type, frame.flags(), frame.volume(), length, frame.sequence());
        assertTrue(ByteBufUtil.equals(Unpooled.wrappedBuffer(headerBytes),
            Unpooled.wrappedBuffer(stream, consumed, HEADER_LENGTH)), "header differs from the one received");
        final ByteBuf body = frame.content();
        assertTrue(ByteBufUtil.equals(body, body.readerIndex(), Unpooled.wrappedBuffer(stream), consumed +
            HEADER_LENGTH, length), "body differs from the one received");
        consumed += HEADER_LENGTH + length;
    }

    /**
     * When the decoder is still open at the end: what it did not emit must be one incomplete frame (a partial
     * header, or a whole header whose body has not all arrived), never a complete frame kept back.
     */
    void assertOnlyAnIncompleteFrameLeft()
    {
        final int left = stream.length - consumed;
        if (left >= HEADER_LENGTH)
        {
            final long bodyLength = Integer.toUnsignedLong(new UnsafeBuffer(stream).getInt(consumed +
                BODY_LENGTH_OFFSET, BYTE_ORDER));
            assertTrue(bodyLength > left - HEADER_LENGTH, "a complete frame of " + (HEADER_LENGTH + bodyLength) +
                " bytes was received but not emitted (" + left + " bytes left)");
        }
    }

    /**
     * Record the decoder's failure events.
     *
     * @param event a user event.
     */
    void onEvent(final Object event)
    {
        if (event instanceof FrameDecodingException)
        {
            failures.add((FrameDecodingException)event);
        }
    }

    /**
     * The decoder's outcome must be consistent: it failed (once, with a reason and a message, as a user event, and
     * the channel is closed), or the channel is open and only an incomplete frame is left.
     *
     * @param open whether the channel is open.
     */
    void assertConsistentOutcome(final boolean open)
    {
        final FrameDecodingException failure = decoder.failure();
        if (failure == null)
        {
            assertTrue(open, "closed without a FrameDecodingException");
            assertTrue(failures.isEmpty(), "failure events without a failure: " + failures);
            assertOnlyAnIncompleteFrameLeft();
        }
        else
        {
            assertFalse(open, "still open after " + failure.getMessage());
            assertEquals(List.of(failure), failures, "the failure is fired once as a user event");
            assertNotNull(failure.reason());
            assertTrue(failure.getMessage().startsWith(failure.reason() + ": ") &&
                failure.getMessage().length() > failure.reason().name().length() + 2, failure.getMessage());
        }
    }

    /** Emitted frames go through here: checked against the stream, then released (the end of the pipeline). */
    static final class Sink extends ChannelInboundHandlerAdapter
    {
        private final FrameStreamCheck check;
        private final int streamKind;

        Sink(final FrameStreamCheck check, final int streamKind)
        {
            this.check = check;
            this.streamKind = streamKind;
        }

        @Override
        public void channelRead(final ChannelHandlerContext ctx, final Object msg)
        {
            final Frame frame = (Frame)msg;
            try
            {
                check.check(frame, streamKind);
            }
            finally
            {
                frame.release();
            }
        }

        @Override
        public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt)
        {
            check.onEvent(evt);
        }
    }
}
