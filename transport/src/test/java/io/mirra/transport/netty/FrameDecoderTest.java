package io.mirra.transport.netty;

import io.mirra.transport.netty.FrameDecodingException.Reason;
import io.mirra.transport.protocol.WriteAckFlyweight;
import io.mirra.transport.protocol.WriteFlyweight;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntSupplier;

import static io.mirra.transport.netty.FrameTestSupport.*;
import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

@Timeout(30)
class FrameDecoderTest
{
    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

    private final OutboundFrames frames = new OutboundFrames();
    private final List<EmbeddedChannel> channels = new ArrayList<>();
    private FrameDecoder decoder;
    private EventRecorder recorder;

    @AfterEach
    void releaseAll()
    {
        for (final EmbeddedChannel channel : channels)
        {
            channel.finishAndReleaseAll();
        }
    }

    private EmbeddedChannel decoderChannel(final int streamKind, final int maxWriteData)
    {
        decoder = new FrameDecoder(maxWriteData);
        if (streamKind != 0)
        {
            decoder.handshakeCompleted(PROTOCOL_VERSION, streamKind);
        }
        recorder = new EventRecorder();
        final EmbeddedChannel channel = new EmbeddedChannel(decoder, recorder);
        channels.add(channel);
        return channel;
    }

    private static ByteBuf data(final int length, final int seed)
    {
        final byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return Unpooled.wrappedBuffer(bytes);
    }

    private byte[] dataStream()
    {
        return encode(List.of(
            frames.write(ALLOC, 0, 1, 0, 1, WRITE_FLAG_FUA, data(4096, 1)),
            frames.write(ALLOC, 3, 2, 8192, 1, 0, data(0, 2)),
            frames.write(ALLOC, 255, 3, 1L << 40, 2, WRITE_FLAG_FLUSH, data(517, 3)),
            frames.refuse(ALLOC, REFUSE_PROTOCOL_ERROR, "bye")));
    }

    private List<String> decodeDataStream(final byte[] bytes, final IntSupplier chunks)
    {
        final EmbeddedChannel channel = decoderChannel(STREAM_DATA, MAX_WRITE_DATA_LENGTH);
        final List<String> result = new ArrayList<>();
        for (final Frame frame : feed(channel, bytes, chunks))
        {
            result.add(describeAndRelease(frame));
        }
        assertTrue(channel.isOpen());
        assertNull(decoder.failure());
        return result;
    }

    @Test
    void shouldDecodeTheSameFramesWhateverTheSplits()
    {
        final byte[] bytes = dataStream();
        final List<String> whole = decodeDataStream(bytes, () -> bytes.length);
        assertEquals(4, whole.size());
        assertTrue(whole.get(0).startsWith("Frame{WRITE, version=1, flags=0, volume=0, sequence=1, bodyLength=4128}"),
            whole.get(0));
        assertTrue(whole.get(2).contains("volume=255, sequence=3"), whole.get(2));
        assertTrue(whole.get(3).startsWith("Frame{REFUSE"), whole.get(3));

        assertEquals(whole, decodeDataStream(bytes, () -> 1));
        assertEquals(whole, decodeDataStream(bytes, () -> 5));
        final long seed = Long.getLong("mirra.test.seed", 20261125L);
        System.out.println("random split seed " + seed + " (rerun with -Dmirra.test.seed=" + seed + ")");
        final Random random = new Random(seed);
        for (int i = 0; i < 20; i++)
        {
            assertEquals(whole, decodeDataStream(bytes, () -> 1 + random.nextInt(700)), "seed " + seed);
        }
    }

    @Test
    void shouldDecodeHandshakeAndControlMessages()
    {
        final EmbeddedChannel handshake = decoderChannel(0, MAX_WRITE_DATA_LENGTH);
        final byte[] nonce = new byte[NONCE_LENGTH];
        final List<Frame> decoded = feed(handshake, encode(List.of(
            frames.hello(ALLOC, 1, 1, STREAM_DATA, 0, nonce, new long[]{4096}, "a", "r"),
            frames.authResponse(ALLOC, new byte[MAC_LENGTH]),
            frames.authOk())), () -> 7);
        assertEquals(List.of(HELLO, AUTH_RESPONSE, AUTH_OK), decoded.stream().map(Frame::type).toList());
        decoded.forEach(Frame::release);

        final EmbeddedChannel control = decoderChannel(STREAM_CONTROL, MAX_WRITE_DATA_LENGTH);
        final List<Frame> acks = feed(control, encode(List.of(
            frames.writeAck(ALLOC, 2, 99, 0, ACK_FLAG_DURABLE),
            frames.ping(ALLOC, PING, 5, 6),
            frames.ping(ALLOC, PING_ACK, 5, 6))), () -> 3);
        assertEquals(List.of(WRITE_ACK, PING, PING_ACK), acks.stream().map(Frame::type).toList());
        final Frame ack = acks.get(0);
        final WriteAckFlyweight flyweight = new WriteAckFlyweight().wrap(
            new ByteBufView().wrapForRead(ack.content(), ack.content().readerIndex(), ack.bodyLength()), 0);
        assertEquals(99, flyweight.writeSequence());
        assertEquals(ACK_FLAG_DURABLE, flyweight.flags());
        assertEquals(2, ack.volume());
        acks.forEach(Frame::release);
    }

    @Test
    void shouldKeepWriteDataInTheBufferItArrivedIn()
    {
        final byte[] bytes = encode(List.of(frames.write(ALLOC, 1, 42, 512, 7, 0, data(1000, 9))));
        final EmbeddedChannel channel = decoderChannel(STREAM_DATA, MAX_WRITE_DATA_LENGTH);
        final ByteBuf in = Unpooled.wrappedBuffer(bytes);
        channel.writeInbound(in);
        final Frame frame = channel.readInbound();
        assertEquals(1, in.refCnt(), "the frame holds the socket buffer");
        final ByteBuf dataView = frame.writeData();
        assertTrue(dataView.hasArray());
        assertSame(bytes, dataView.array(), "write data is a slice of the received buffer, not a copy");
        assertEquals(HEADER_LENGTH + WriteFlyweight.HEADER_LENGTH, dataView.arrayOffset() + dataView.readerIndex());
        assertEquals(1000, dataView.readableBytes());
        final WriteFlyweight write = new WriteFlyweight().wrap(new UnsafeBuffer(bytes), HEADER_LENGTH);
        assertEquals(42, write.writeSequence());
        assertEquals(512, write.byteOffset());
        assertEquals(7, write.epoch());
        assertTrue(frame.release());
        assertEquals(0, in.refCnt(), "released with the frame");
    }

    @Test
    void shouldReleaseFragmentedBodiesWhenTheConsumerReleases()
    {
        final byte[] bytes = encode(List.of(
            frames.write(ALLOC, 0, 1, 0, 1, 0, data(300, 1)),
            frames.write(ALLOC, 0, 2, 0, 1, 0, data(3000, 2))));
        final EmbeddedChannel channel = decoderChannel(STREAM_DATA, MAX_WRITE_DATA_LENGTH);
        final List<ByteBuf> inputs = new ArrayList<>();
        for (int at = 0; at < bytes.length; at += 5)
        {
            final ByteBuf chunk = ALLOC.directBuffer(5);
            chunk.writeBytes(bytes, at, Math.min(5, bytes.length - at));
            inputs.add(chunk);
            channel.writeInbound(chunk);
        }
        final Frame first = channel.readInbound();
        final Frame second = channel.readInbound();
        assertNull(channel.readInbound());
        assertEquals(300, first.writeData().readableBytes());
        assertEquals(3000, second.writeData().readableBytes());
        assertTrue(first.release());
        assertTrue(second.release());
        assertEquals(0, first.refCnt());
        assertEquals(0, second.refCnt());
        for (final ByteBuf input : inputs)
        {
            assertEquals(0, input.refCnt());
        }
    }

    private void assertRejected(
        final int streamKind, final int maxWriteData, final byte[] bytes, final Reason reason, final String detail)
    {
        final EmbeddedChannel channel = decoderChannel(streamKind, maxWriteData);
        final List<Frame> decoded = feed(channel, bytes, () -> bytes.length);
        decoded.forEach(Frame::release);
        assertTrue(decoded.isEmpty(), "nothing decoded: " + decoded);
        assertFalse(channel.isOpen(), "closed on " + reason);
        assertNotNull(decoder.failure());
        assertEquals(reason, decoder.failure().reason(), decoder.failure().getMessage());
        assertTrue(decoder.failure().getMessage().contains(detail), decoder.failure().getMessage());
        assertEquals(List.of(decoder.failure()), recorder.eventsOf(FrameDecodingException.class));
        channel.pipeline().fireChannelRead(Unpooled.wrappedBuffer(bytes)); // after the close: dropped, released
    }

    private static byte[] writeBody(final int dataLength, final int declaredDataLength, final int flags)
    {
        final byte[] body = new byte[WriteFlyweight.HEADER_LENGTH + dataLength];
        new WriteFlyweight().wrap(new UnsafeBuffer(body), 0).dataLength(declaredDataLength).flags(flags);
        return body;
    }

    @Test
    void shouldRejectBadMagic()
    {
        final byte[] bytes = rawFrame(1, AUTH_OK, 0, 0, 0, 1, new byte[0]);
        bytes[0] = 'N';
        assertRejected(0, MAX_WRITE_DATA_LENGTH, bytes, Reason.BAD_MAGIC, "magic 0x4152494e");
        assertRejected(0, MAX_WRITE_DATA_LENGTH, "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(),
            Reason.BAD_MAGIC, "\"MIRA\"");
    }

    @Test
    void shouldRejectUnsupportedVersion()
    {
        assertRejected(0, MAX_WRITE_DATA_LENGTH, rawFrame(2, AUTH_OK, 0, 0, 0, 1, new byte[0]),
            Reason.UNSUPPORTED_VERSION, "version 2 in a AUTH_OK frame, expected 1");
        assertRejected(STREAM_DATA, MAX_WRITE_DATA_LENGTH, rawFrame(0, WRITE, 0, 0, 32, 1, writeBody(0, 0, 0)),
            Reason.UNSUPPORTED_VERSION, "version 0");
    }

    @Test
    void shouldRejectUnknownAndReservedTypes()
    {
        assertRejected(STREAM_DATA, MAX_WRITE_DATA_LENGTH, rawFrame(1, 18, 0, 0, 0, 1, new byte[0]),
            Reason.UNKNOWN_TYPE, "type 18");
        assertRejected(STREAM_CONTROL, MAX_WRITE_DATA_LENGTH, rawFrame(1, 0xFFFF, 0, 0, 0, 1, new byte[0]),
            Reason.UNKNOWN_TYPE, "type 65535");
    }

    @Test
    void shouldRejectTypesOutOfPhaseOrStream()
    {
        assertRejected(0, MAX_WRITE_DATA_LENGTH, rawFrame(1, WRITE, 0, 0, 32, 1, writeBody(0, 0, 0)),
            Reason.UNEXPECTED_TYPE, "WRITE before the handshake");
        assertRejected(STREAM_DATA, MAX_WRITE_DATA_LENGTH, rawFrame(1, WRITE_ACK, 0, 0, 16, 1, new byte[16]),
            Reason.UNEXPECTED_TYPE, "WRITE_ACK on the DATA stream");
        assertRejected(STREAM_CONTROL, MAX_WRITE_DATA_LENGTH, rawFrame(1, WRITE, 0, 0, 32, 1, writeBody(0, 0, 0)),
            Reason.UNEXPECTED_TYPE, "WRITE on the CONTROL stream");
        assertRejected(STREAM_DATA, MAX_WRITE_DATA_LENGTH, rawFrame(1, AUTH_OK, 0, 0, 0, 1, new byte[0]),
            Reason.UNEXPECTED_TYPE, "AUTH_OK on the DATA stream after the handshake");
    }

    @Test
    void shouldRejectUndefinedFlagsAndVolumes()
    {
        assertRejected(0, MAX_WRITE_DATA_LENGTH, rawFrame(1, AUTH_OK, 0x8000, 0, 0, 1, new byte[0]),
            Reason.BAD_FLAGS, "frame flags 0x8000");
        assertRejected(STREAM_DATA, MAX_WRITE_DATA_LENGTH, rawFrame(1, WRITE, 0, 0, 32, 1, writeBody(0, 0, 0x80)),
            Reason.BAD_FLAGS, "write flags 0x80");
        assertRejected(STREAM_DATA, MAX_WRITE_DATA_LENGTH,
            rawFrame(1, WRITE, 0, MAX_VOLUMES, 32, 1, writeBody(0, 0, 0)), Reason.BAD_VOLUME, "volume 256");
    }

    @Test
    void shouldRefuseAnOversizedFrameOnItsHeaderWithoutAllocating()
    {
        final byte[] header = rawFrame(1, WRITE, 0, 0, 0x8000_0000L, 1, new byte[0]);
        final int[] allocations = new int[1];
        final EmbeddedChannel channel = decoderChannel(STREAM_DATA, MAX_WRITE_DATA_LENGTH);
        channel.config().setAllocator(new AbstractByteBufAllocator(false)
        {
            @Override
            protected ByteBuf newHeapBuffer(final int initialCapacity, final int maxCapacity)
            {
                allocations[0]++;
                return new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
            }

            @Override
            protected ByteBuf newDirectBuffer(final int initialCapacity, final int maxCapacity)
            {
                allocations[0]++;
                return new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity);
            }

            @Override
            public boolean isDirectBufferPooled()
            {
                return false;
            }
        });
        channel.writeInbound(Unpooled.wrappedBuffer(header));
        assertFalse(channel.isOpen(), "closed right after the header, before any of the 2 GiB");
        assertEquals(Reason.FRAME_TOO_LONG, decoder.failure().reason());
        assertTrue(decoder.failure().getMessage().contains("WRITE body of 2147483648 bytes, maximum 1048608"),
            decoder.failure().getMessage());
        assertEquals(0, allocations[0], "nothing allocated for the announced body");

        assertRejected(STREAM_DATA, 4096, rawFrame(1, WRITE, 0, 0, 32 + 4097, 1, new byte[0]),
            Reason.FRAME_TOO_LONG, "maximum 4128");
        assertRejected(0, MAX_WRITE_DATA_LENGTH, rawFrame(1, HELLO, 0, 0, 0xFFFF_FFFFL, 1, new byte[0]),
            Reason.FRAME_TOO_LONG, "HELLO body of 4294967295 bytes");
    }

    @Test
    void shouldRejectLengthsInconsistentWithTheType()
    {
        assertRejected(0, MAX_WRITE_DATA_LENGTH, rawFrame(1, AUTH_RESPONSE, 0, 0, 31, 1, new byte[31]),
            Reason.BAD_LENGTH, "AUTH_RESPONSE body of 31 bytes, expected 32");
        assertRejected(0, MAX_WRITE_DATA_LENGTH, rawFrame(1, AUTH_OK, 0, 0, 1, 1, new byte[1]),
            Reason.BAD_LENGTH, "expected 0");
        assertRejected(STREAM_CONTROL, MAX_WRITE_DATA_LENGTH, rawFrame(1, PING, 0, 0, 0x7FFF_FFFF, 1, new byte[0]),
            Reason.BAD_LENGTH, "PING body of 2147483647 bytes, expected 16");
        assertRejected(STREAM_DATA, MAX_WRITE_DATA_LENGTH, rawFrame(1, WRITE, 0, 0, 31, 1, new byte[31]),
            Reason.BAD_LENGTH, "expected 32..1048608");
        assertRejected(STREAM_DATA, MAX_WRITE_DATA_LENGTH, rawFrame(1, WRITE, 0, 0, 40, 1, writeBody(8, 9, 0)),
            Reason.BAD_LENGTH, "WRITE data length 9 in a body of 40 bytes");
    }

    @Test
    void shouldRejectSequenceGaps()
    {
        final byte[] first = rawFrame(1, AUTH_OK, 0, 0, 0, 1, new byte[0]);
        final byte[] third = rawFrame(1, AUTH_OK, 0, 0, 0, 3, new byte[0]);
        final byte[] both = new byte[first.length + third.length];
        System.arraycopy(first, 0, both, 0, first.length);
        System.arraycopy(third, 0, both, first.length, third.length);
        final EmbeddedChannel channel = decoderChannel(0, MAX_WRITE_DATA_LENGTH);
        final List<Frame> decoded = feed(channel, both, () -> 1);
        assertEquals(1, decoded.size());
        decoded.forEach(Frame::release);
        assertFalse(channel.isOpen());
        assertEquals(Reason.SEQUENCE_GAP, decoder.failure().reason());
        assertTrue(decoder.failure().getMessage().contains("sequence 3, expected 2"));
    }

    @Test
    void shouldReleaseAPartialBodyWhenTheChannelCloses()
    {
        final byte[] bytes = encode(List.of(frames.write(ALLOC, 0, 1, 0, 1, 0, data(1000, 1))));
        final EmbeddedChannel channel = decoderChannel(STREAM_DATA, MAX_WRITE_DATA_LENGTH);
        final ByteBuf part = ALLOC.directBuffer(600).writeBytes(bytes, 0, 600);
        channel.writeInbound(part);
        assertNull(channel.readInbound());
        assertEquals(1, part.refCnt(), "the partial body holds a slice");
        channel.close();
        assertEquals(0, part.refCnt());
    }
}
