package io.mirra.transport.netty;

import io.mirra.transport.netty.FrameDecodingException.Reason;
import io.mirra.transport.protocol.RangeOpFlyweight;
import io.mirra.transport.protocol.ReadReplyFlyweight;
import io.mirra.transport.protocol.ReadRequestFlyweight;
import io.mirra.transport.protocol.ResyncEndFlyweight;
import io.mirra.transport.protocol.ResyncRequestFlyweight;
import io.mirra.transport.protocol.ResyncProgressFlyweight;
import io.mirra.transport.protocol.SplitBrainFlyweight;
import io.mirra.transport.protocol.StateFlyweight;
import io.mirra.transport.protocol.VerifyReplyFlyweight;
import io.mirra.transport.protocol.VerifyRequestFlyweight;
import io.mirra.transport.protocol.TwoPcFlyweight;
import io.mirra.transport.protocol.TwoPcReplyFlyweight;
import io.mirra.transport.protocol.WriteAckFlyweight;
import io.mirra.transport.protocol.WriteFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static io.mirra.transport.netty.FrameTestSupport.*;
import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * FLUSH, TRIM, WRITE_ZEROES, READ_REQUEST, READ_REPLY, STATE, the two-phase commit and the resync messages: built by
 * {@link OutboundFrames}, encoded by {@link FrameEncoder} and decoded by {@link FrameDecoder}, and every body check of
 * the decoder, each closing the stream with a {@link FrameDecodingException} naming the problem.
 */
@Timeout(30)
class ReplicationMessagesCodecTest
{
    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

    private final OutboundFrames frames = new OutboundFrames();
    private final ByteBufView view = new ByteBufView();
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
        decoder.handshakeCompleted(PROTOCOL_VERSION, streamKind);
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

    private List<Frame> roundTrip(final int streamKind, final List<Frame> outbound, final int chunk)
    {
        final EmbeddedChannel channel = decoderChannel(streamKind, MAX_WRITE_DATA_LENGTH);
        final List<Frame> decoded = feed(channel, encode(outbound), () -> chunk);
        assertTrue(channel.isOpen(), () -> String.valueOf(decoder.failure()));
        assertNull(decoder.failure());
        return decoded;
    }

    /** A copy of a decoded frame's body, for the flyweights to read. */
    private static UnsafeBuffer bodyOf(final Frame frame)
    {
        return new UnsafeBuffer(ByteBufUtil.getBytes(frame.content()));
    }

    // ---- round trips ------------------------------------------------------------------------------------------

    private List<Frame> dataMessages()
    {
        return List.of(
            frames.rangeOp(ALLOC, FLUSH, 1, 10, 0, 0, 7, RANGE_FLAG_FUA),
            frames.rangeOp(ALLOC, TRIM, 2, 11, 1L << 40, 1L << 20, 7, 0),
            frames.rangeOp(ALLOC, WRITE_ZEROES, 255, 12, 4096, 8192, 0xFFFF_FFFFL, RANGE_FLAG_NO_HOLE | RANGE_FLAG_FUA),
            frames.readRequest(ALLOC, 3, -5L, Long.MAX_VALUE - MAX_WRITE_DATA_LENGTH, MAX_WRITE_DATA_LENGTH),
            frames.readReply(ALLOC, 3, -5L, 0, data(3000, 4)),
            frames.readReply(ALLOC, 4, 99, 5, null),
            frames.state(ALLOC, STATE_ROLE_PRIMARY, MAX_NODE_ID, 2, new byte[]{(byte)MAX_DISK_STATE, 0},
                new long[]{-1L, 42}, new long[][]{{1, 2, 3, 4}, {}}),
            frames.write(ALLOC, 0, 13, 512, 7, WRITE_FLAG_ACK_RECEIVED | WRITE_FLAG_FUA, data(100, 5)));
    }

    @Test
    void shouldRoundTripTheDataStreamMessagesWhateverTheSplits()
    {
        final List<String> whole = new ArrayList<>();
        for (final Frame frame : roundTrip(STREAM_DATA, dataMessages(), Integer.MAX_VALUE))
        {
            whole.add(describeAndRelease(frame));
        }
        assertEquals(8, whole.size());
        for (final int chunk : new int[]{1, 7, 100})
        {
            final List<String> split = new ArrayList<>();
            for (final Frame frame : roundTrip(STREAM_DATA, dataMessages(), chunk))
            {
                split.add(describeAndRelease(frame));
            }
            assertEquals(whole, split, "chunks of " + chunk);
        }
    }

    @Test
    void shouldRoundTripRangeOps()
    {
        final List<Frame> decoded = roundTrip(STREAM_DATA, dataMessages(), 5);
        try
        {
            assertEquals(List.of(FLUSH, TRIM, WRITE_ZEROES), decoded.subList(0, 3).stream().map(Frame::type).toList());

            final RangeOpFlyweight flush = new RangeOpFlyweight().wrap(bodyOf(decoded.get(0)), 0);
            assertEquals(1, decoded.get(0).volume());
            assertEquals(RangeOpFlyweight.LENGTH, decoded.get(0).bodyLength());
            assertEquals(10, flush.opSequence());
            assertEquals(0, flush.byteOffset());
            assertEquals(0, flush.length());
            assertEquals(7, flush.epoch());
            assertEquals(RANGE_FLAG_FUA, flush.flags());

            final RangeOpFlyweight trim = new RangeOpFlyweight().wrap(bodyOf(decoded.get(1)), 0);
            assertEquals(2, decoded.get(1).volume());
            assertEquals(11, trim.opSequence());
            assertEquals(1L << 40, trim.byteOffset());
            assertEquals(1L << 20, trim.length());
            assertEquals(0, trim.flags());

            final RangeOpFlyweight zeroes = new RangeOpFlyweight().wrap(bodyOf(decoded.get(2)), 0);
            assertEquals(255, decoded.get(2).volume());
            assertEquals(12, zeroes.opSequence());
            assertEquals(4096, zeroes.byteOffset());
            assertEquals(8192, zeroes.length());
            assertEquals(0xFFFF_FFFFL, zeroes.epoch());
            assertEquals(RANGE_FLAG_NO_HOLE | RANGE_FLAG_FUA, zeroes.flags());
        }
        finally
        {
            decoded.forEach(Frame::release);
        }
    }

    @Test
    void shouldRoundTripReadRequestsAndReplies()
    {
        final List<Frame> decoded = roundTrip(STREAM_DATA, dataMessages(), 64);
        try
        {
            final Frame request = decoded.get(3);
            assertEquals(READ_REQUEST, request.type());
            assertEquals(3, request.volume());
            final ReadRequestFlyweight read = new ReadRequestFlyweight().wrap(bodyOf(request), 0);
            assertEquals(-5L, read.requestId());
            assertEquals(Long.MAX_VALUE - MAX_WRITE_DATA_LENGTH, read.byteOffset());
            assertEquals(MAX_WRITE_DATA_LENGTH, read.length());

            final Frame reply = decoded.get(4);
            assertEquals(READ_REPLY, reply.type());
            assertEquals(3, reply.volume());
            final ReadReplyFlyweight ok = new ReadReplyFlyweight().wrap(bodyOf(reply), 0);
            assertEquals(-5L, ok.requestId());
            assertEquals(0, ok.status());
            assertEquals(3000, ok.dataLength());
            final ByteBuf expected = data(3000, 4);
            assertEquals(expected, reply.readReplyData());
            expected.release();

            final Frame failed = decoded.get(5);
            final ReadReplyFlyweight error = new ReadReplyFlyweight().wrap(bodyOf(failed), 0);
            assertEquals(4, failed.volume());
            assertEquals(99, error.requestId());
            assertEquals(5, error.status());
            assertEquals(0, error.dataLength());
            assertEquals(0, failed.readReplyData().readableBytes());
            assertEquals(ReadReplyFlyweight.HEADER_LENGTH, failed.bodyLength());

            assertThrows(IllegalStateException.class, request::readReplyData);
            assertThrows(IllegalStateException.class, reply::writeData);
        }
        finally
        {
            decoded.forEach(Frame::release);
        }
    }

    @Test
    void shouldRoundTripStateAndAckReceivedWrites()
    {
        final List<Frame> decoded = roundTrip(STREAM_DATA, dataMessages(), 3);
        try
        {
            final Frame frame = decoded.get(6);
            assertEquals(STATE, frame.type());
            assertEquals(0, frame.volume());
            assertEquals(StateFlyweight.HEADER_LENGTH + 2 * StateFlyweight.VOLUME_ENTRY_LENGTH, frame.bodyLength());
            final StateFlyweight state = new StateFlyweight().wrap(bodyOf(frame), 0);
            assertEquals(STATE_ROLE_PRIMARY, state.role());
            assertEquals(0, state.flags());
            assertEquals(2, state.volumeCount());
            assertEquals(MAX_NODE_ID, state.nodeId());
            assertEquals(MAX_DISK_STATE, state.diskState(0));
            assertEquals(4, state.historyCount(0));
            assertEquals(-1L, state.currentGen(0));
            for (int slot = 0; slot < StateFlyweight.MAX_HISTORY; slot++)
            {
                assertEquals(slot + 1, state.history(0, slot));
                assertEquals(0, state.history(1, slot), "unused slots are 0");
            }
            assertEquals(0, state.diskState(1));
            assertEquals(0, state.historyCount(1));
            assertEquals(42, state.currentGen(1));

            final Frame write = decoded.get(7);
            assertEquals(WRITE, write.type());
            assertEquals(WRITE_FLAG_ACK_RECEIVED | WRITE_FLAG_FUA, new WriteFlyweight().wrap(bodyOf(write), 0).flags());
            assertEquals(100, write.writeData().readableBytes());
        }
        finally
        {
            decoded.forEach(Frame::release);
        }
    }

    @Test
    void shouldRoundTripTwoPhaseCommitMessages()
    {
        final String reason = "volume 0 is Inconsistent — cannot promote";
        final List<Frame> decoded = roundTrip(STREAM_CONTROL, List.of(
            frames.twoPc(ALLOC, TWOPC_PREPARE, 1L << 62, TWOPC_KIND_PROMOTE),
            frames.twoPcReply(ALLOC, 1L << 62, TWOPC_YES, null),
            frames.twoPcReply(ALLOC, 1L << 62, TWOPC_NO, reason),
            frames.twoPc(ALLOC, TWOPC_COMMIT, 1L << 62, TWOPC_KIND_PROMOTE),
            frames.twoPc(ALLOC, TWOPC_ABORT, -1L, TWOPC_KIND_PROMOTE),
            frames.writeAck(ALLOC, 1, 13, 0, ACK_FLAG_RECEIVED)), 6);
        try
        {
            assertEquals(List.of(TWOPC_PREPARE, TWOPC_REPLY, TWOPC_REPLY, TWOPC_COMMIT, TWOPC_ABORT, WRITE_ACK),
                decoded.stream().map(Frame::type).toList());
            final TwoPcFlyweight prepare = new TwoPcFlyweight().wrap(bodyOf(decoded.get(0)), 0);
            assertEquals(1L << 62, prepare.txId());
            assertEquals(TWOPC_KIND_PROMOTE, prepare.kind());
            assertEquals(0, decoded.get(0).volume());

            final TwoPcReplyFlyweight yes = new TwoPcReplyFlyweight().wrap(bodyOf(decoded.get(1)), 0);
            assertEquals(1L << 62, yes.txId());
            assertEquals(TWOPC_YES, yes.verdict());
            assertEquals(0, yes.messageLength());
            assertEquals("", yes.message());
            assertEquals(TwoPcReplyFlyweight.MIN_LENGTH, decoded.get(1).bodyLength());

            final TwoPcReplyFlyweight no = new TwoPcReplyFlyweight().wrap(bodyOf(decoded.get(2)), 0);
            assertEquals(TWOPC_NO, no.verdict());
            assertEquals(reason, no.message());
            assertEquals(reason.getBytes(StandardCharsets.UTF_8).length, no.messageLength());

            assertEquals(1L << 62, new TwoPcFlyweight().wrap(bodyOf(decoded.get(3)), 0).txId());
            assertEquals(-1L, new TwoPcFlyweight().wrap(bodyOf(decoded.get(4)), 0).txId());
            final Frame ack = decoded.get(5);
            final WriteAckFlyweight ackBody = new WriteAckFlyweight().wrap(
                view.wrapForRead(ack.content(), ack.content().readerIndex(), ack.bodyLength()), 0);
            assertEquals(ACK_FLAG_RECEIVED, ackBody.flags());
        }
        finally
        {
            decoded.forEach(Frame::release);
        }
    }

    @Test
    void shouldTruncateLongTwoPcReplyMessagesBetweenCharacters()
    {
        final String message = "x" + "\uD83D\uDE00".repeat(1000); // 1 + 4000 UTF-8 bytes, surrogate pairs
        final List<Frame> decoded = roundTrip(STREAM_CONTROL, List.of(
            frames.twoPcReply(ALLOC, 3, TWOPC_NO, message)), Integer.MAX_VALUE);
        try
        {
            final Frame frame = decoded.get(0);
            assertTrue(frame.bodyLength() <= TwoPcReplyFlyweight.MAX_LENGTH, "body " + frame.bodyLength());
            final String truncated = new TwoPcReplyFlyweight().wrap(bodyOf(frame), 0).message();
            assertTrue(truncated.endsWith("..."), truncated);
            final String kept = truncated.substring(0, truncated.length() - 3);
            assertTrue(message.startsWith(kept), "a prefix of the original, no replacement character");
            assertFalse(Character.isHighSurrogate(kept.charAt(kept.length() - 1)), "no split surrogate pair");
            assertEquals(1 + 255 * 4 + 3, frame.bodyLength() - TwoPcReplyFlyweight.MESSAGE_OFFSET);
        }
        finally
        {
            decoded.forEach(Frame::release);
        }
    }

    @Test
    void shouldKeepReadReplyDataInTheBufferItArrivedIn()
    {
        final byte[] bytes = encode(List.of(frames.readReply(ALLOC, 1, 42, 0, data(1000, 9))));
        final EmbeddedChannel channel = decoderChannel(STREAM_DATA, MAX_WRITE_DATA_LENGTH);
        final ByteBuf in = Unpooled.wrappedBuffer(bytes);
        channel.writeInbound(in);
        final Frame frame = channel.readInbound();
        assertEquals(1, in.refCnt(), "the frame holds the socket buffer");
        final ByteBuf dataView = frame.readReplyData();
        assertTrue(dataView.hasArray());
        assertSame(bytes, dataView.array(), "read reply data is a slice of the received buffer, not a copy");
        assertEquals(HEADER_LENGTH + ReadReplyFlyweight.HEADER_LENGTH,
            dataView.arrayOffset() + dataView.readerIndex());
        assertEquals(1000, dataView.readableBytes());
        assertTrue(frame.release());
        assertEquals(0, in.refCnt(), "released with the frame");
    }

    private List<Frame> resyncMessages()
    {
        return List.of(
            frames.resyncRequest(ALLOC, 3, -7L, RESYNC_FLAG_FULL),
            frames.resyncRequest(ALLOC, 0, 42, 0),
            frames.resyncData(ALLOC, 3, 100, 1L << 40, 9, data(4096, 6)),
            frames.resyncData(ALLOC, 255, 101, Long.MAX_VALUE - 512, 0xFFFF_FFFFL, data(512, 7)),
            frames.resyncData(ALLOC, 1, 102, 0, 9, Unpooled.buffer(0)),
            frames.resyncEnd(ALLOC, 3, -2L, 4096 + 512));
    }

    @Test
    void shouldRoundTripResyncMessagesWhateverTheSplits()
    {
        final List<String> whole = new ArrayList<>();
        for (final Frame frame : roundTrip(STREAM_DATA, resyncMessages(), Integer.MAX_VALUE))
        {
            whole.add(describeAndRelease(frame));
        }
        assertEquals(6, whole.size());
        for (final int chunk : new int[]{1, 5, 333})
        {
            final List<String> split = new ArrayList<>();
            for (final Frame frame : roundTrip(STREAM_DATA, resyncMessages(), chunk))
            {
                split.add(describeAndRelease(frame));
            }
            assertEquals(whole, split, "chunks of " + chunk);
        }
    }

    @Test
    void shouldRoundTripResyncMessages()
    {
        final List<Frame> decoded = roundTrip(STREAM_DATA, resyncMessages(), 100);
        final List<Frame> acks = roundTrip(STREAM_CONTROL, List.of(frames.writeAck(ALLOC, 3, 100, 0, ACK_FLAG_DURABLE)),
            100);
        try
        {
            assertEquals(List.of(RESYNC_REQUEST, RESYNC_REQUEST, RESYNC_DATA, RESYNC_DATA, RESYNC_DATA, RESYNC_END),
                decoded.stream().map(Frame::type).toList());

            final Frame full = decoded.get(0);
            assertEquals(3, full.volume());
            assertEquals(ResyncRequestFlyweight.LENGTH, full.bodyLength());
            final ResyncRequestFlyweight fullRequest = new ResyncRequestFlyweight().wrap(bodyOf(full), 0);
            assertEquals(-7L, fullRequest.targetGen());
            assertEquals(RESYNC_FLAG_FULL, fullRequest.flags());
            final ResyncRequestFlyweight request = new ResyncRequestFlyweight().wrap(bodyOf(decoded.get(1)), 0);
            assertEquals(0, decoded.get(1).volume());
            assertEquals(42, request.targetGen());
            assertEquals(0, request.flags());

            final Frame block = decoded.get(2);
            assertEquals(3, block.volume());
            assertEquals(WriteFlyweight.HEADER_LENGTH + 4096, block.bodyLength());
            final WriteFlyweight blockHeader = new WriteFlyweight().wrap(bodyOf(block), 0);
            assertEquals(100, blockHeader.writeSequence());
            assertEquals(1L << 40, blockHeader.byteOffset());
            assertEquals(9, blockHeader.epoch());
            assertEquals(4096, blockHeader.dataLength());
            assertEquals(0, blockHeader.flags());
            final ByteBuf expected = data(4096, 6);
            assertEquals(expected, block.writeData());
            expected.release();

            final Frame last = decoded.get(3);
            assertEquals(255, last.volume());
            final WriteFlyweight lastHeader = new WriteFlyweight().wrap(bodyOf(last), 0);
            assertEquals(Long.MAX_VALUE - 512, lastHeader.byteOffset(), "a range ending at Long.MAX_VALUE is fine");
            assertEquals(0xFFFF_FFFFL, lastHeader.epoch());
            assertEquals(512, last.writeData().readableBytes());

            final Frame empty = decoded.get(4);
            assertEquals(WriteFlyweight.HEADER_LENGTH, empty.bodyLength());
            assertEquals(0, new WriteFlyweight().wrap(bodyOf(empty), 0).dataLength());
            assertEquals(0, empty.writeData().readableBytes());

            final Frame end = decoded.get(5);
            assertEquals(3, end.volume());
            assertEquals(ResyncEndFlyweight.LENGTH, end.bodyLength());
            final ResyncEndFlyweight endBody = new ResyncEndFlyweight().wrap(bodyOf(end), 0);
            assertEquals(-2L, endBody.sourceGen());
            assertEquals(4096 + 512, endBody.sentBytes());

            final WriteAckFlyweight ackBody = new WriteAckFlyweight().wrap(bodyOf(acks.get(0)), 0);
            assertEquals(3, acks.get(0).volume());
            assertEquals(100, ackBody.writeSequence(), "a WRITE_ACK names the RESYNC_DATA by its sequence");
            assertEquals(ACK_FLAG_DURABLE, ackBody.flags());

            assertThrows(IllegalStateException.class, full::writeData);
            assertThrows(IllegalStateException.class, end::writeData);
            assertThrows(IllegalStateException.class, block::readReplyData);
        }
        finally
        {
            decoded.forEach(Frame::release);
            acks.forEach(Frame::release);
        }
    }

    @Test
    void shouldEncodeResyncDataExactlyLikeAWriteWithoutFlags()
    {
        final byte[] resync = encode(List.of(frames.resyncData(ALLOC, 7, 55, 8192, 3, data(700, 8))));
        final byte[] write = encode(List.of(frames.write(ALLOC, 7, 55, 8192, 3, 0, data(700, 8))));
        assertEquals(write.length, resync.length);
        assertEquals(RESYNC_DATA, new UnsafeBuffer(resync).getShort(TYPE_OFFSET, BYTE_ORDER));
        assertEquals(WRITE, new UnsafeBuffer(write).getShort(TYPE_OFFSET, BYTE_ORDER));
        resync[TYPE_OFFSET] = (byte)WRITE;
        assertArrayEquals(write, resync, "the same header and body; only the type differs");
    }

    @Test
    void shouldKeepResyncDataInTheBufferItArrivedIn()
    {
        final byte[] bytes = encode(List.of(frames.resyncData(ALLOC, 1, 42, 4096, 1, data(1000, 9))));
        final EmbeddedChannel channel = decoderChannel(STREAM_DATA, MAX_WRITE_DATA_LENGTH);
        final ByteBuf in = Unpooled.wrappedBuffer(bytes);
        channel.writeInbound(in);
        final Frame frame = channel.readInbound();
        assertEquals(RESYNC_DATA, frame.type());
        assertEquals(1, in.refCnt(), "the frame holds the socket buffer");
        final ByteBuf dataView = frame.writeData();
        assertTrue(dataView.hasArray());
        assertSame(bytes, dataView.array(), "resync data is a slice of the received buffer, not a copy");
        assertEquals(HEADER_LENGTH + WriteFlyweight.HEADER_LENGTH, dataView.arrayOffset() + dataView.readerIndex());
        assertEquals(1000, dataView.readableBytes());
        assertTrue(frame.release());
        assertEquals(0, in.refCnt(), "released with the frame");
    }

    @Test
    void shouldRefuseToBuildMalformedMessages()
    {
        assertThrows(IllegalArgumentException.class, () -> frames.rangeOp(ALLOC, WRITE, 0, 1, 0, 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> frames.twoPc(ALLOC, TWOPC_REPLY, 1, TWOPC_KIND_PROMOTE));
        final ByteBuf data = data(10, 1);
        assertThrows(IllegalArgumentException.class, () -> frames.readReply(ALLOC, 0, 1, 5, data));
        assertEquals(0, data.refCnt(), "the data is released: its ownership was transferred");
        final long[] gens = {1};
        assertThrows(IllegalArgumentException.class, () -> frames.state(ALLOC, STATE_ROLE_SECONDARY, 0, 0,
            new byte[0], new long[0], new long[0][]));
        assertThrows(IllegalArgumentException.class, () -> frames.state(ALLOC, STATE_ROLE_SECONDARY, 0, 2,
            new byte[2], gens, new long[2][]));
        assertThrows(IllegalArgumentException.class, () -> frames.state(ALLOC, STATE_ROLE_SECONDARY, 0, 1,
            new byte[1], gens, new long[][]{new long[StateFlyweight.MAX_HISTORY + 1]}));
        final Frame fromLongerArrays = frames.state(ALLOC, STATE_ROLE_SECONDARY, 0, 1, new byte[3], new long[3],
            new long[3][]);
        assertEquals(StateFlyweight.encodedLength(1), fromLongerArrays.bodyLength());
        fromLongerArrays.release();
    }

    // ---- decoder checks ---------------------------------------------------------------------------------------

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
    }

    private void assertRejected(final int streamKind, final byte[] bytes, final Reason reason, final String detail)
    {
        assertRejected(streamKind, MAX_WRITE_DATA_LENGTH, bytes, reason, detail);
    }

    private static byte[] frame(final int type, final byte[] body)
    {
        return rawFrame(PROTOCOL_VERSION, type, 0, 0, body.length, 1, body);
    }

    private static byte[] rangeBody(final long byteOffset, final long length, final int flags)
    {
        final byte[] body = new byte[RangeOpFlyweight.LENGTH];
        new RangeOpFlyweight().wrap(new UnsafeBuffer(body), 0).opSequence(1).byteOffset(byteOffset).length(length)
            .epoch(1).flags(flags);
        return body;
    }

    @Test
    void shouldRejectRangeOpsWithReservedBitsOrUnknownFlags()
    {
        final byte[] reserved = rangeBody(0, 4096, 0);
        new UnsafeBuffer(reserved).putShort(RangeOpFlyweight.RESERVED_OFFSET, (short)1, BYTE_ORDER);
        assertRejected(STREAM_DATA, frame(TRIM, reserved), Reason.BAD_FIELD, "TRIM reserved field 0x1, expected 0");
        assertRejected(STREAM_DATA, frame(WRITE_ZEROES, rangeBody(0, 4096, 1 << 2)), Reason.BAD_FLAGS,
            "WRITE_ZEROES range flags 0x4");
        assertRejected(STREAM_DATA, frame(FLUSH, rangeBody(0, 0, 0x8000)), Reason.BAD_FLAGS,
            "FLUSH range flags 0x8000");
        assertRejected(STREAM_DATA, frame(TRIM, new byte[RangeOpFlyweight.LENGTH - 1]), Reason.BAD_LENGTH,
            "TRIM body of 31 bytes, expected 32");
    }

    @Test
    void shouldRoundTripOutOfSyncRanges()
    {
        final List<Frame> decoded = roundTrip(STREAM_DATA, List.of(frames.outOfSync(ALLOC, 3, 1L << 40, 4 << 20),
            frames.outOfSync(ALLOC, 0, 0, 1)), 7);
        try
        {
            assertEquals(List.of(OUT_OF_SYNC, OUT_OF_SYNC), decoded.stream().map(Frame::type).toList());
            final RangeOpFlyweight first = new RangeOpFlyweight().wrap(bodyOf(decoded.get(0)), 0);
            assertEquals(3, decoded.get(0).volume());
            assertEquals(1L << 40, first.byteOffset());
            assertEquals(4 << 20, first.length());
            assertEquals(0, first.opSequence());
            assertEquals(0, first.epoch());
            assertEquals(0, first.flags());
            assertEquals(1, new RangeOpFlyweight().wrap(bodyOf(decoded.get(1)), 0).length());
        }
        finally
        {
            decoded.forEach(Frame::release);
        }
    }

    @Test
    void shouldRoundTripVerifyRequestsAndReplies()
    {
        final long[] digests = {1, -2, 0x1234_5678_9ABC_DEF0L};
        final List<Frame> decoded = roundTrip(STREAM_DATA, List.of(
            frames.verifyRequest(ALLOC, 1, 77, 1L << 30, MAX_VERIFY_LENGTH, 4096),
            frames.verifyReply(ALLOC, 1, 77, 0, digests, 3),
            frames.verifyReply(ALLOC, 1, 78, 5, digests, 0)), 3);
        try
        {
            assertEquals(List.of(VERIFY_REQUEST, VERIFY_REPLY, VERIFY_REPLY),
                decoded.stream().map(Frame::type).toList());
            final VerifyRequestFlyweight request = new VerifyRequestFlyweight().wrap(bodyOf(decoded.get(0)), 0);
            assertEquals(77, request.requestId());
            assertEquals(1L << 30, request.byteOffset());
            assertEquals(MAX_VERIFY_LENGTH, request.length());
            assertEquals(4096, request.blockSize());
            final VerifyReplyFlyweight reply = new VerifyReplyFlyweight().wrap(bodyOf(decoded.get(1)), 0);
            assertEquals(77, reply.requestId());
            assertEquals(0, reply.status());
            assertEquals(3, reply.count());
            assertEquals(-2, reply.digest(1));
            assertEquals(0x1234_5678_9ABC_DEF0L, reply.digest(2));
            final VerifyReplyFlyweight failed = new VerifyReplyFlyweight().wrap(bodyOf(decoded.get(2)), 0);
            assertEquals(5, failed.status());
            assertEquals(0, failed.count());
        }
        finally
        {
            decoded.forEach(Frame::release);
        }
    }

    @Test
    void shouldRejectVerifyRequestsAndRepliesOutOfBounds()
    {
        final byte[] request = new byte[VerifyRequestFlyweight.LENGTH];
        final VerifyRequestFlyweight r = new VerifyRequestFlyweight().wrap(new UnsafeBuffer(request), 0);
        r.requestId(1).byteOffset(0).length(0).blockSize(4096);
        assertRejected(STREAM_DATA, frame(VERIFY_REQUEST, request), Reason.BAD_FIELD,
            "VERIFY_REQUEST length 0, expected 1..1048576");
        r.length(MAX_VERIFY_LENGTH + 1);
        assertRejected(STREAM_DATA, frame(VERIFY_REQUEST, request), Reason.BAD_FIELD,
            "VERIFY_REQUEST length 1048577");
        r.length(8192).blockSize(6144);
        assertRejected(STREAM_DATA, frame(VERIFY_REQUEST, request), Reason.BAD_FIELD,
            "VERIFY_REQUEST block size 6144");
        r.blockSize(4096).byteOffset(Long.MAX_VALUE - 100);
        assertRejected(STREAM_DATA, frame(VERIFY_REQUEST, request), Reason.BAD_FIELD, "VERIFY_REQUEST");
        final byte[] reply = new byte[VerifyReplyFlyweight.HEADER_LENGTH + 8];
        final UnsafeBuffer b = new UnsafeBuffer(reply);
        b.putInt(VerifyReplyFlyweight.COUNT_OFFSET, 2, BYTE_ORDER);
        assertRejected(STREAM_DATA, frame(VERIFY_REPLY, reply), Reason.BAD_LENGTH,
            "VERIFY_REPLY digest count 2 in a body of 24 bytes");
        b.putInt(VerifyReplyFlyweight.COUNT_OFFSET, 1, BYTE_ORDER);
        b.putInt(VerifyReplyFlyweight.STATUS_OFFSET, 5, BYTE_ORDER);
        assertRejected(STREAM_DATA, frame(VERIFY_REPLY, reply), Reason.BAD_FIELD,
            "VERIFY_REPLY with status 5 and 1 digests");
        final byte[] huge = new byte[VerifyReplyFlyweight.HEADER_LENGTH];
        new UnsafeBuffer(huge).putInt(VerifyReplyFlyweight.COUNT_OFFSET, -1, BYTE_ORDER);
        assertRejected(STREAM_DATA, frame(VERIFY_REPLY, huge), Reason.BAD_LENGTH, "VERIFY_REPLY digest count");
    }

    @Test
    void shouldRoundTripResyncProgressAndRejectNegativeCounts()
    {
        final List<Frame> decoded = roundTrip(STREAM_DATA, List.of(frames.resyncProgress(ALLOC, 4, 123L << 20, 7)), 3);
        try
        {
            final ResyncProgressFlyweight p = new ResyncProgressFlyweight().wrap(bodyOf(decoded.get(0)), 0);
            assertEquals(RESYNC_PROGRESS, decoded.get(0).type());
            assertEquals(4, decoded.get(0).volume());
            assertEquals(123L << 20, p.outOfSync());
            assertEquals(7, p.sent());
        }
        finally
        {
            decoded.forEach(Frame::release);
        }
        final byte[] body = new byte[ResyncProgressFlyweight.LENGTH];
        new ResyncProgressFlyweight().wrap(new UnsafeBuffer(body), 0).set(-1, 0);
        assertRejected(STREAM_DATA, frame(RESYNC_PROGRESS, body), Reason.BAD_FIELD,
            "RESYNC_PROGRESS with a byte count above 2^63 - 1");
        assertRejected(STREAM_DATA, frame(RESYNC_PROGRESS, new byte[15]), Reason.BAD_LENGTH,
            "RESYNC_PROGRESS body of 15 bytes, expected 16");
    }

    @Test
    void shouldRoundTripSplitBrainReports()
    {
        final List<Frame> decoded = roundTrip(STREAM_DATA, List.of(
            frames.splitBrain(ALLOC, 2, 12_288, 1_790_000_000_000L, SPLIT_BRAIN_FLAG_PRIMARY),
            frames.splitBrain(ALLOC, 0, SPLIT_BRAIN_CHANGES_UNKNOWN, 0, SPLIT_BRAIN_FLAG_DISCARD_MY_DATA)), 5);
        try
        {
            assertEquals(List.of(SPLIT_BRAIN, SPLIT_BRAIN), decoded.stream().map(Frame::type).toList());
            final SplitBrainFlyweight first = new SplitBrainFlyweight().wrap(bodyOf(decoded.get(0)), 0);
            assertEquals(2, decoded.get(0).volume());
            assertEquals(12_288, first.changedBytes());
            assertEquals(1_790_000_000_000L, first.primarySince());
            assertEquals(SPLIT_BRAIN_FLAG_PRIMARY, first.flags());
            final SplitBrainFlyweight second = new SplitBrainFlyweight().wrap(bodyOf(decoded.get(1)), 0);
            assertEquals(SPLIT_BRAIN_CHANGES_UNKNOWN, second.changedBytes());
            assertEquals(SPLIT_BRAIN_FLAG_DISCARD_MY_DATA, second.flags());
        }
        finally
        {
            decoded.forEach(Frame::release);
        }
    }

    @Test
    void shouldRejectSplitBrainReportsWithUnknownFlagsReservedBitsOrNegativeChanges()
    {
        final byte[] body = new byte[SplitBrainFlyweight.LENGTH];
        final UnsafeBuffer b = new UnsafeBuffer(body);
        b.putInt(SplitBrainFlyweight.FLAGS_OFFSET, 4, BYTE_ORDER);
        assertRejected(STREAM_DATA, frame(SPLIT_BRAIN, body), Reason.BAD_FLAGS, "SPLIT_BRAIN flags 0x4");
        b.putInt(SplitBrainFlyweight.FLAGS_OFFSET, 0, BYTE_ORDER);
        b.putInt(SplitBrainFlyweight.RESERVED_OFFSET, 9, BYTE_ORDER);
        assertRejected(STREAM_DATA, frame(SPLIT_BRAIN, body), Reason.BAD_FIELD,
            "SPLIT_BRAIN reserved field 0x9, expected 0");
        b.putInt(SplitBrainFlyweight.RESERVED_OFFSET, 0, BYTE_ORDER);
        b.putLong(SplitBrainFlyweight.CHANGED_BYTES_OFFSET, -2, BYTE_ORDER);
        assertRejected(STREAM_DATA, frame(SPLIT_BRAIN, body), Reason.BAD_FIELD, "SPLIT_BRAIN changed bytes");
        assertRejected(STREAM_DATA, frame(SPLIT_BRAIN, new byte[SplitBrainFlyweight.LENGTH - 1]), Reason.BAD_LENGTH,
            "SPLIT_BRAIN body of 23 bytes, expected 24");
        assertRejected(STREAM_CONTROL, frame(SPLIT_BRAIN, new byte[SplitBrainFlyweight.LENGTH]),
            Reason.UNEXPECTED_TYPE, "SPLIT_BRAIN on the CONTROL stream");
    }

    @Test
    void shouldRejectOutOfSyncRangesWithASequenceEpochFlagsOrNoLength()
    {
        assertRejected(STREAM_DATA, frame(OUT_OF_SYNC, rangeBody(0, 4096, 0)), Reason.BAD_FIELD,
            "OUT_OF_SYNC with a sequence, epoch or flags, expected none");
        final byte[] zeroLength = rangeBody(4096, 0, 0);
        new RangeOpFlyweight().wrap(new UnsafeBuffer(zeroLength), 0).opSequence(0).epoch(0);
        assertRejected(STREAM_DATA, frame(OUT_OF_SYNC, zeroLength), Reason.BAD_FIELD,
            "OUT_OF_SYNC length 0, expected 1..9223372036854775807");
        final byte[] beyond = rangeBody(Long.MAX_VALUE - 10, 4096, 0);
        new RangeOpFlyweight().wrap(new UnsafeBuffer(beyond), 0).opSequence(0).epoch(0);
        assertRejected(STREAM_DATA, frame(OUT_OF_SYNC, beyond), Reason.BAD_FIELD, "OUT_OF_SYNC");
        assertRejected(STREAM_CONTROL, frame(OUT_OF_SYNC, new byte[RangeOpFlyweight.LENGTH]),
            Reason.UNEXPECTED_TYPE, "OUT_OF_SYNC on the CONTROL stream");
    }

    @Test
    void shouldRejectAFlushWithARange()
    {
        assertRejected(STREAM_DATA, frame(FLUSH, rangeBody(4096, 0, 0)), Reason.BAD_FIELD,
            "FLUSH byte offset 4096 and length 0, expected 0 and 0");
        assertRejected(STREAM_DATA, frame(FLUSH, rangeBody(0, 512, 0)), Reason.BAD_FIELD,
            "FLUSH byte offset 0 and length 512, expected 0 and 0");
    }

    @Test
    void shouldRejectTrimsAndWriteZeroesWithoutALength()
    {
        assertRejected(STREAM_DATA, frame(TRIM, rangeBody(4096, 0, 0)), Reason.BAD_FIELD,
            "TRIM length 0, expected 1..9223372036854775807");
        assertRejected(STREAM_DATA, frame(WRITE_ZEROES, rangeBody(0, -1L, RANGE_FLAG_NO_HOLE)), Reason.BAD_FIELD,
            "WRITE_ZEROES length 18446744073709551615, expected 1..9223372036854775807");
    }

    @Test
    void shouldRejectRangesBeyondASigned64BitOffset()
    {
        assertRejected(STREAM_DATA, frame(TRIM, rangeBody(Long.MAX_VALUE - 10, 11, 0)), Reason.BAD_FIELD,
            "TRIM range of 11 bytes at byte offset 9223372036854775797 overflows a signed 64-bit offset");
        assertRejected(STREAM_DATA, frame(WRITE_ZEROES, rangeBody(-4096, 4096, 0)), Reason.BAD_FIELD,
            "WRITE_ZEROES byte offset 18446744073709547520, maximum 9223372036854775807");

        final EmbeddedChannel channel = decoderChannel(STREAM_DATA, MAX_WRITE_DATA_LENGTH);
        final List<Frame> edge = feed(channel, frame(TRIM, rangeBody(Long.MAX_VALUE - 10, 10, 0)), () -> 64);
        assertEquals(1, edge.size(), "a range ending exactly at Long.MAX_VALUE is fine");
        edge.forEach(Frame::release);
    }

    private static byte[] readRequestBody(final long byteOffset, final int length)
    {
        final byte[] body = new byte[ReadRequestFlyweight.LENGTH];
        new ReadRequestFlyweight().wrap(new UnsafeBuffer(body), 0).requestId(1).byteOffset(byteOffset).length(length);
        return body;
    }

    @Test
    void shouldRejectReadRequestsOutOfBounds()
    {
        final byte[] reserved = readRequestBody(0, 4096);
        new UnsafeBuffer(reserved).putInt(ReadRequestFlyweight.RESERVED_OFFSET, 0x100, BYTE_ORDER);
        assertRejected(STREAM_DATA, frame(READ_REQUEST, reserved), Reason.BAD_FIELD,
            "READ_REQUEST reserved field 0x100, expected 0");
        assertRejected(STREAM_DATA, frame(READ_REQUEST, readRequestBody(0, 0)), Reason.BAD_FIELD,
            "READ_REQUEST length 0, expected 1..1048576");
        assertRejected(STREAM_DATA, frame(READ_REQUEST, readRequestBody(0, MAX_WRITE_DATA_LENGTH + 1)),
            Reason.BAD_FIELD, "READ_REQUEST length 1048577, expected 1..1048576");
        assertRejected(STREAM_DATA, frame(READ_REQUEST, readRequestBody(-1, 1)), Reason.BAD_FIELD,
            "READ_REQUEST byte offset 18446744073709551615, maximum");
        assertRejected(STREAM_DATA, frame(READ_REQUEST, readRequestBody(Long.MAX_VALUE, 1)), Reason.BAD_FIELD,
            "READ_REQUEST range of 1 bytes at byte offset 9223372036854775807 overflows");
    }

    private static byte[] readReplyBody(final int status, final int dataLength, final int declaredDataLength)
    {
        final byte[] body = new byte[ReadReplyFlyweight.HEADER_LENGTH + dataLength];
        new ReadReplyFlyweight().wrap(new UnsafeBuffer(body), 0).requestId(1).status(status)
            .dataLength(declaredDataLength);
        return body;
    }

    @Test
    void shouldRejectReadRepliesWhoseDataLengthDisagrees()
    {
        assertRejected(STREAM_DATA, frame(READ_REPLY, readReplyBody(0, 8, 9)), Reason.BAD_LENGTH,
            "READ_REPLY data length 9 in a body of 24 bytes");
        assertRejected(STREAM_DATA, frame(READ_REPLY, readReplyBody(0, 8, 7)), Reason.BAD_LENGTH,
            "READ_REPLY data length 7 in a body of 24 bytes");
        assertRejected(STREAM_DATA, frame(READ_REPLY, readReplyBody(5, 8, 8)), Reason.BAD_LENGTH,
            "READ_REPLY with status 5 carries 8 bytes of data, expected none");
        assertRejected(STREAM_DATA, frame(READ_REPLY, new byte[ReadReplyFlyweight.HEADER_LENGTH - 1]),
            Reason.BAD_LENGTH, "READ_REPLY body of 15 bytes, expected 16..1048592");
    }

    @Test
    void shouldRefuseAReadReplyAboveTheReceiversMaximumOnItsHeader()
    {
        assertRejected(STREAM_DATA, 4096, rawFrame(PROTOCOL_VERSION, READ_REPLY, 0, 0,
            ReadReplyFlyweight.HEADER_LENGTH + 4097, 1, new byte[0]), Reason.FRAME_TOO_LONG,
            "READ_REPLY body of 4113 bytes, maximum 4112");
        assertRejected(STREAM_DATA, rawFrame(PROTOCOL_VERSION, READ_REPLY, 0, 0, 0xFFFF_FFFFL, 1, new byte[0]),
            Reason.FRAME_TOO_LONG, "READ_REPLY body of 4294967295 bytes, maximum 1048592");
    }

    private static byte[] stateBody(final int volumeCount)
    {
        final byte[] body = new byte[StateFlyweight.encodedLength(volumeCount)];
        final StateFlyweight state = new StateFlyweight().wrap(new UnsafeBuffer(body), 0)
            .role(STATE_ROLE_SECONDARY).flags(0).volumeCount(volumeCount).nodeId(3);
        for (int volume = 0; volume < volumeCount; volume++)
        {
            state.diskState(volume, 6).historyCount(volume, 1).currentGen(volume, 100).history(volume, 0, 99);
        }
        return body;
    }

    @Test
    void shouldRejectStateWithAnUnknownRoleOrFlags()
    {
        final byte[] valid = stateBody(2);
        final EmbeddedChannel channel = decoderChannel(STREAM_DATA, MAX_WRITE_DATA_LENGTH);
        final List<Frame> decoded = feed(channel, frame(STATE, valid), () -> 9);
        assertEquals(1, decoded.size(), "the unmodified body is valid");
        decoded.forEach(Frame::release);

        for (final int role : new int[]{0, 3, 255})
        {
            final byte[] body = stateBody(2);
            new StateFlyweight().wrap(new UnsafeBuffer(body), 0).role(role);
            assertRejected(STREAM_DATA, frame(STATE, body), Reason.BAD_FIELD,
                "STATE role " + role + ", expected 1 (SECONDARY) or 2 (PRIMARY)");
        }
        final byte[] flags = stateBody(1);
        new StateFlyweight().wrap(new UnsafeBuffer(flags), 0).flags(0x10);
        assertRejected(STREAM_DATA, frame(STATE, flags), Reason.BAD_FLAGS, "STATE flags 0x10");
    }

    @Test
    void shouldRejectStateWhoseVolumeCountIsOutOfRangeOrDisagreesWithTheBody()
    {
        final byte[] none = stateBody(1);
        new StateFlyweight().wrap(new UnsafeBuffer(none), 0).volumeCount(0);
        assertRejected(STREAM_DATA, frame(STATE, none), Reason.BAD_FIELD, "STATE volume count 0, expected 1..256");
        final byte[] tooMany = stateBody(1);
        new StateFlyweight().wrap(new UnsafeBuffer(tooMany), 0).volumeCount(MAX_VOLUMES + 1);
        assertRejected(STREAM_DATA, frame(STATE, tooMany), Reason.BAD_FIELD,
            "STATE volume count 257, expected 1..256");
        final byte[] twoInOne = stateBody(1);
        new StateFlyweight().wrap(new UnsafeBuffer(twoInOne), 0).volumeCount(2);
        assertRejected(STREAM_DATA, frame(STATE, twoInOne), Reason.BAD_LENGTH,
            "STATE of 2 volumes in a body of 56 bytes, expected 104");
        final byte[] oneInTwo = stateBody(2);
        new StateFlyweight().wrap(new UnsafeBuffer(oneInTwo), 0).volumeCount(1);
        assertRejected(STREAM_DATA, frame(STATE, oneInTwo), Reason.BAD_LENGTH,
            "STATE of 1 volumes in a body of 104 bytes, expected 56");
        assertRejected(STREAM_DATA, frame(STATE, new byte[StateFlyweight.MIN_LENGTH - 1]), Reason.BAD_LENGTH,
            "STATE body of 55 bytes, expected 56..12296");
        assertRejected(STREAM_DATA, rawFrame(PROTOCOL_VERSION, STATE, 0, 0, StateFlyweight.MAX_LENGTH + 1, 1,
            new byte[0]), Reason.FRAME_TOO_LONG, "STATE body of 12297 bytes, maximum 12296");
    }

    @Test
    void shouldRejectStateWithANodeIdOutOfRange()
    {
        final byte[] body = stateBody(1);
        new StateFlyweight().wrap(new UnsafeBuffer(body), 0).nodeId(MAX_NODE_ID + 1);
        assertRejected(STREAM_DATA, frame(STATE, body), Reason.BAD_FIELD, "STATE node id 33, expected 0..32");
        new StateFlyweight().wrap(new UnsafeBuffer(body), 0).nodeId(-1);
        assertRejected(STREAM_DATA, frame(STATE, body), Reason.BAD_FIELD,
            "STATE node id 4294967295, expected 0..32");
    }

    @Test
    void shouldRejectStateEntriesOutOfRange()
    {
        final byte[] diskState = stateBody(3);
        new StateFlyweight().wrap(new UnsafeBuffer(diskState), 0).diskState(1, MAX_DISK_STATE + 1);
        assertRejected(STREAM_DATA, frame(STATE, diskState), Reason.BAD_FIELD,
            "STATE volume 1 disk state 8, expected 0..7");

        final byte[] historyCount = stateBody(3);
        new StateFlyweight().wrap(new UnsafeBuffer(historyCount), 0).historyCount(2, StateFlyweight.MAX_HISTORY + 1);
        assertRejected(STREAM_DATA, frame(STATE, historyCount), Reason.BAD_FIELD,
            "STATE volume 2 history count 5, expected 0..4");

        final byte[] reserved16 = stateBody(2);
        reserved16[StateFlyweight.entryOffset(1) + StateFlyweight.RESERVED1_OFFSET + 1] = 1;
        assertRejected(STREAM_DATA, frame(STATE, reserved16), Reason.BAD_FIELD, "STATE volume 1 reserved field not 0");

        final byte[] reserved32 = stateBody(2);
        reserved32[StateFlyweight.entryOffset(0) + StateFlyweight.RESERVED2_OFFSET + 3] = (byte)0x80;
        assertRejected(STREAM_DATA, frame(STATE, reserved32), Reason.BAD_FIELD, "STATE volume 0 reserved field not 0");

        final byte[] unusedSlot = stateBody(2);
        new StateFlyweight().wrap(new UnsafeBuffer(unusedSlot), 0).history(1, 3, 7);
        assertRejected(STREAM_DATA, frame(STATE, unusedSlot), Reason.BAD_FIELD,
            "STATE volume 1 history slot 3 not 0 although the history count is 1");
    }

    private static byte[] twoPcBody(final int kind)
    {
        final byte[] body = new byte[TwoPcFlyweight.LENGTH];
        new TwoPcFlyweight().wrap(new UnsafeBuffer(body), 0).txId(9).kind(kind);
        return body;
    }

    @Test
    void shouldRejectTwoPhaseCommitsOfAnUnknownKind()
    {
        assertRejected(STREAM_CONTROL, frame(TWOPC_PREPARE, twoPcBody(2)), Reason.BAD_FIELD,
            "TWOPC_PREPARE kind 2 unknown, expected 1 (PROMOTE)");
        assertRejected(STREAM_CONTROL, frame(TWOPC_COMMIT, twoPcBody(0)), Reason.BAD_FIELD,
            "TWOPC_COMMIT kind 0 unknown");
        assertRejected(STREAM_CONTROL, frame(TWOPC_ABORT, twoPcBody(-1)), Reason.BAD_FIELD,
            "TWOPC_ABORT kind 4294967295 unknown");
        final byte[] reserved = twoPcBody(TWOPC_KIND_PROMOTE);
        new UnsafeBuffer(reserved).putInt(TwoPcFlyweight.RESERVED_OFFSET, 2, BYTE_ORDER);
        assertRejected(STREAM_CONTROL, frame(TWOPC_PREPARE, reserved), Reason.BAD_FIELD,
            "TWOPC_PREPARE reserved field 0x2, expected 0");
        assertRejected(STREAM_CONTROL, frame(TWOPC_PREPARE, new byte[TwoPcFlyweight.LENGTH + 1]), Reason.BAD_LENGTH,
            "TWOPC_PREPARE body of 17 bytes, expected 16");
    }

    private static byte[] twoPcReplyBody(final int verdict, final String message, final int declaredLength)
    {
        final byte[] text = message.getBytes(StandardCharsets.UTF_8);
        final byte[] body = new byte[TwoPcReplyFlyweight.MESSAGE_OFFSET + text.length];
        new TwoPcReplyFlyweight().wrap(new UnsafeBuffer(body), 0).txId(9).verdict(verdict).message(message);
        new UnsafeBuffer(body).putInt(TwoPcReplyFlyweight.MESSAGE_LENGTH_OFFSET, declaredLength, BYTE_ORDER);
        return body;
    }

    @Test
    void shouldRejectTwoPcRepliesWithAnUnknownVerdictOrMessageLength()
    {
        assertRejected(STREAM_CONTROL, frame(TWOPC_REPLY, twoPcReplyBody(3, "", 0)), Reason.BAD_FIELD,
            "TWOPC_REPLY verdict 3, expected 0 (YES), 1 (NO) or 2 (RETRY)");
        assertRejected(STREAM_CONTROL, frame(TWOPC_REPLY, twoPcReplyBody(TWOPC_NO, "disk", 5)), Reason.BAD_LENGTH,
            "TWOPC_REPLY message length 5 in a body of 20 bytes");
        assertRejected(STREAM_CONTROL, frame(TWOPC_REPLY, twoPcReplyBody(TWOPC_NO, "disk", -1)), Reason.BAD_LENGTH,
            "TWOPC_REPLY message length 4294967295 in a body of 20 bytes");
        assertRejected(STREAM_CONTROL, rawFrame(PROTOCOL_VERSION, TWOPC_REPLY, 0, 0,
            TwoPcReplyFlyweight.MAX_LENGTH + 1, 1, new byte[0]), Reason.FRAME_TOO_LONG,
            "TWOPC_REPLY body of 1041 bytes, maximum 1040");
    }

    @Test
    void shouldRejectTheNewTypesOnTheWrongStream()
    {
        assertRejected(STREAM_DATA, frame(TWOPC_PREPARE, twoPcBody(TWOPC_KIND_PROMOTE)), Reason.UNEXPECTED_TYPE,
            "TWOPC_PREPARE on the DATA stream");
        assertRejected(STREAM_DATA, frame(TWOPC_REPLY, twoPcReplyBody(TWOPC_YES, "", 0)), Reason.UNEXPECTED_TYPE,
            "TWOPC_REPLY on the DATA stream");
        assertRejected(STREAM_CONTROL, frame(STATE, stateBody(1)), Reason.UNEXPECTED_TYPE,
            "STATE on the CONTROL stream");
        assertRejected(STREAM_CONTROL, frame(FLUSH, rangeBody(0, 0, 0)), Reason.UNEXPECTED_TYPE,
            "FLUSH on the CONTROL stream");
        assertRejected(STREAM_CONTROL, frame(READ_REPLY, readReplyBody(0, 0, 0)), Reason.UNEXPECTED_TYPE,
            "READ_REPLY on the CONTROL stream");
    }

    @Test
    void shouldRejectUndefinedWriteFlagsNextToAckReceived()
    {
        final byte[] body = new byte[WriteFlyweight.HEADER_LENGTH];
        new WriteFlyweight().wrap(new UnsafeBuffer(body), 0).dataLength(0).flags(WRITE_FLAG_ACK_RECEIVED << 1);
        assertRejected(STREAM_DATA, frame(WRITE, body), Reason.BAD_FLAGS, "write flags 0x8");
    }

    private static byte[] resyncRequestBody(final int flags)
    {
        final byte[] body = new byte[ResyncRequestFlyweight.LENGTH];
        new ResyncRequestFlyweight().wrap(new UnsafeBuffer(body), 0).targetGen(5).flags(flags);
        return body;
    }

    @Test
    void shouldRejectResyncRequestsWithUnknownFlags()
    {
        assertRejected(STREAM_DATA, frame(RESYNC_REQUEST, resyncRequestBody(RESYNC_FLAG_FULL << 1)), Reason.BAD_FLAGS,
            "RESYNC_REQUEST resync flags 0x2");
        assertRejected(STREAM_DATA, frame(RESYNC_REQUEST, resyncRequestBody(RESYNC_FLAG_FULL | 0x8000_0000)),
            Reason.BAD_FLAGS, "RESYNC_REQUEST resync flags 0x80000001");
    }

    @Test
    void shouldRejectResyncRequestsWithReservedBits()
    {
        final byte[] body = resyncRequestBody(RESYNC_FLAG_FULL);
        new UnsafeBuffer(body).putInt(ResyncRequestFlyweight.RESERVED_OFFSET, 0x100, BYTE_ORDER);
        assertRejected(STREAM_DATA, frame(RESYNC_REQUEST, body), Reason.BAD_FIELD,
            "RESYNC_REQUEST reserved field 0x100, expected 0");
        body[ResyncRequestFlyweight.RESERVED_OFFSET + 3] = (byte)0x80;
        assertRejected(STREAM_DATA, frame(RESYNC_REQUEST, body), Reason.BAD_FIELD,
            "RESYNC_REQUEST reserved field 0x80000100, expected 0");
    }

    @Test
    void shouldRejectResyncRequestsAndEndsOfTheWrongLength()
    {
        assertRejected(STREAM_DATA, frame(RESYNC_REQUEST, new byte[ResyncRequestFlyweight.LENGTH - 1]),
            Reason.BAD_LENGTH, "RESYNC_REQUEST body of 15 bytes, expected 16");
        assertRejected(STREAM_DATA, frame(RESYNC_REQUEST, new byte[ResyncRequestFlyweight.LENGTH + 8]),
            Reason.BAD_LENGTH, "RESYNC_REQUEST body of 24 bytes, expected 16");
        assertRejected(STREAM_DATA, frame(RESYNC_END, new byte[0]), Reason.BAD_LENGTH,
            "RESYNC_END body of 0 bytes, expected 16");
        assertRejected(STREAM_DATA, frame(RESYNC_END, new byte[ResyncEndFlyweight.LENGTH + 1]), Reason.BAD_LENGTH,
            "RESYNC_END body of 17 bytes, expected 16");
    }

    private static byte[] resyncDataBody(
        final long byteOffset, final int dataLength, final int declaredDataLength, final int flags)
    {
        final byte[] body = new byte[WriteFlyweight.HEADER_LENGTH + dataLength];
        new WriteFlyweight().wrap(new UnsafeBuffer(body), 0).writeSequence(1).byteOffset(byteOffset).epoch(1)
            .dataLength(declaredDataLength).flags(flags);
        return body;
    }

    @Test
    void shouldRejectResyncDataWithAnyFlag()
    {
        final EmbeddedChannel channel = decoderChannel(STREAM_DATA, MAX_WRITE_DATA_LENGTH);
        final List<Frame> valid = feed(channel, frame(RESYNC_DATA, resyncDataBody(4096, 8, 8, 0)), () -> 7);
        assertEquals(1, valid.size(), "without flags the body is valid");
        valid.forEach(Frame::release);

        for (final int flag : new int[]{WRITE_FLAG_FUA, WRITE_FLAG_FLUSH, WRITE_FLAG_ACK_RECEIVED, 0x8000})
        {
            assertRejected(STREAM_DATA, frame(RESYNC_DATA, resyncDataBody(4096, 8, 8, flag)), Reason.BAD_FLAGS,
                "RESYNC_DATA write flags 0x" + Integer.toHexString(flag) + ", expected none");
        }
    }

    @Test
    void shouldRejectResyncDataWithReservedBits()
    {
        final byte[] reserved16 = resyncDataBody(0, 8, 8, 0);
        reserved16[WriteFlyweight.RESERVED1_OFFSET + 1] = 1;
        assertRejected(STREAM_DATA, frame(RESYNC_DATA, reserved16), Reason.BAD_FIELD,
            "RESYNC_DATA reserved field not 0");
        final byte[] reserved32 = resyncDataBody(0, 8, 8, 0);
        reserved32[WriteFlyweight.RESERVED2_OFFSET + 3] = (byte)0x80;
        assertRejected(STREAM_DATA, frame(RESYNC_DATA, reserved32), Reason.BAD_FIELD,
            "RESYNC_DATA reserved field not 0");
    }

    @Test
    void shouldRejectResyncDataBeyondASigned64BitOffset()
    {
        assertRejected(STREAM_DATA, frame(RESYNC_DATA, resyncDataBody(Long.MAX_VALUE - 10, 11, 11, 0)),
            Reason.BAD_FIELD,
            "RESYNC_DATA range of 11 bytes at byte offset 9223372036854775797 overflows a signed 64-bit offset");
        assertRejected(STREAM_DATA, frame(RESYNC_DATA, resyncDataBody(-4096, 8, 8, 0)), Reason.BAD_FIELD,
            "RESYNC_DATA byte offset 18446744073709547520, maximum 9223372036854775807");
        assertRejected(STREAM_DATA, frame(RESYNC_DATA, resyncDataBody(Long.MIN_VALUE, 0, 0, 0)), Reason.BAD_FIELD,
            "RESYNC_DATA byte offset 9223372036854775808, maximum 9223372036854775807");

        final EmbeddedChannel channel = decoderChannel(STREAM_DATA, MAX_WRITE_DATA_LENGTH);
        final List<Frame> edge = feed(channel, frame(RESYNC_DATA, resyncDataBody(Long.MAX_VALUE - 10, 10, 10, 0)),
            () -> 64);
        assertEquals(1, edge.size(), "a range ending exactly at Long.MAX_VALUE is fine");
        edge.forEach(Frame::release);
    }

    @Test
    void shouldRejectResyncDataWhoseLengthDisagrees()
    {
        assertRejected(STREAM_DATA, frame(RESYNC_DATA, resyncDataBody(0, 8, 9, 0)), Reason.BAD_LENGTH,
            "RESYNC_DATA data length 9 in a body of 40 bytes");
        assertRejected(STREAM_DATA, frame(RESYNC_DATA, resyncDataBody(0, 8, -1, 0)), Reason.BAD_LENGTH,
            "RESYNC_DATA data length 4294967295 in a body of 40 bytes");
        assertRejected(STREAM_DATA, frame(RESYNC_DATA, new byte[WriteFlyweight.HEADER_LENGTH - 1]), Reason.BAD_LENGTH,
            "RESYNC_DATA body of 31 bytes, expected 32..1048608");
    }

    @Test
    void shouldRefuseResyncDataAboveTheReceiversMaximumOnItsHeader()
    {
        assertRejected(STREAM_DATA, 4096, rawFrame(PROTOCOL_VERSION, RESYNC_DATA, 0, 0,
            WriteFlyweight.HEADER_LENGTH + 4097, 1, new byte[0]), Reason.FRAME_TOO_LONG,
            "RESYNC_DATA body of 4129 bytes, maximum 4128");
        assertRejected(STREAM_DATA, rawFrame(PROTOCOL_VERSION, RESYNC_DATA, 0, 0, 0xFFFF_FFFFL, 1, new byte[0]),
            Reason.FRAME_TOO_LONG, "RESYNC_DATA body of 4294967295 bytes, maximum 1048608");
    }

    @Test
    void shouldRejectResyncMessagesOnTheControlStream()
    {
        assertRejected(STREAM_CONTROL, frame(RESYNC_REQUEST, resyncRequestBody(0)), Reason.UNEXPECTED_TYPE,
            "RESYNC_REQUEST on the CONTROL stream");
        assertRejected(STREAM_CONTROL, frame(RESYNC_DATA, resyncDataBody(0, 8, 8, 0)), Reason.UNEXPECTED_TYPE,
            "RESYNC_DATA on the CONTROL stream");
        assertRejected(STREAM_CONTROL, frame(RESYNC_END, new byte[ResyncEndFlyweight.LENGTH]),
            Reason.UNEXPECTED_TYPE, "RESYNC_END on the CONTROL stream");
    }
}
