package io.mirra.transport.protocol;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;

import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

@Timeout(10)
class MessageFlyweightsTest
{
    private static final int AT = 3; // odd offset: flyweights must not assume alignment

    @Test
    void shouldRoundTripHello()
    {
        final long[] sizes = {1L << 30, 4096, 0};
        final byte[] nonce = new byte[NONCE_LENGTH];
        for (int i = 0; i < nonce.length; i++)
        {
            nonce[i] = (byte)(i * 7);
        }
        final int length = HelloFlyweight.encodedLength(sizes.length, "älpha", "demo");
        assertEquals(48 + 24 + 1 + 6 + 1 + 4, length);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + length]);
        new HelloFlyweight().wrap(buffer, AT)
            .minVersion(1).maxVersion(3).streamKind(STREAM_CONTROL).features(FEATURE_LZ4 | (1L << 63))
            .putNonce(nonce).volumeSizes(sizes).names("älpha", "demo");

        final HelloFlyweight hello = new HelloFlyweight().wrap(buffer, AT);
        assertNull(hello.validate(length));
        assertEquals(1, hello.minVersion());
        assertEquals(3, hello.maxVersion());
        assertEquals(STREAM_CONTROL, hello.streamKind());
        assertEquals(FEATURE_LZ4 | (1L << 63), hello.features());
        assertArrayEquals(nonce, hello.getNonce(new byte[NONCE_LENGTH]));
        assertEquals(3, hello.volumeCount());
        assertEquals(1L << 30, hello.volumeSize(0));
        assertEquals(4096, hello.volumeSize(1));
        assertEquals(0, hello.volumeSize(2));
        assertEquals("älpha", hello.nodeName());
        assertEquals("demo", hello.resourceName());
    }

    @Test
    void shouldRejectMalformedHello()
    {
        final int length = HelloFlyweight.encodedLength(1, "a", "r");
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[length + 16]);
        final HelloFlyweight hello = new HelloFlyweight().wrap(buffer, 0);
        hello.minVersion(1).maxVersion(1).streamKind(STREAM_DATA).volumeSizes(new long[]{8}).names("a", "r");
        assertNull(hello.validate(length));

        assertNotNull(hello.validate(length + 1), "trailing byte");
        assertNotNull(hello.validate(length - 1), "truncated");
        assertNotNull(hello.validate(HelloFlyweight.MIN_LENGTH - 1), "too short");
        assertNotNull(hello.validate(HelloFlyweight.MAX_LENGTH + 1), "too long");

        buffer.putShort(HelloFlyweight.VOLUME_COUNT_OFFSET, (short)0, BYTE_ORDER);
        assertNotNull(hello.validate(length), "no volumes");
        buffer.putShort(HelloFlyweight.VOLUME_COUNT_OFFSET, (short)0xFFFF, BYTE_ORDER);
        assertNotNull(hello.validate(length), "65535 volumes");
        buffer.putShort(HelloFlyweight.VOLUME_COUNT_OFFSET, (short)2, BYTE_ORDER);
        assertNotNull(hello.validate(length), "volume count beyond the body");
        buffer.putShort(HelloFlyweight.VOLUME_COUNT_OFFSET, (short)1, BYTE_ORDER);

        buffer.putByte(HelloFlyweight.VOLUME_SIZES_OFFSET + 8, (byte)200);
        assertNotNull(hello.validate(length), "node name past the end");
        buffer.putByte(HelloFlyweight.VOLUME_SIZES_OFFSET + 8, (byte)0);
        assertNotNull(hello.validate(length), "empty node name");
        buffer.putByte(HelloFlyweight.VOLUME_SIZES_OFFSET + 8, (byte)1);

        hello.streamKind(3);
        assertNotNull(hello.validate(length), "stream kind");
        hello.streamKind(STREAM_DATA);
        hello.minVersion(2);
        assertNotNull(hello.validate(length), "min > max");
        hello.minVersion(1);
        hello.volumeSizes(new long[]{-1});
        assertNotNull(hello.validate(length), "negative size");
        hello.volumeSizes(new long[]{8});
        assertNull(hello.validate(length));

        assertThrows(IllegalArgumentException.class, () -> HelloFlyweight.checkName("n", ""));
        assertThrows(IllegalArgumentException.class, () -> HelloFlyweight.checkName("n", "x".repeat(256)));
        assertThrows(IllegalArgumentException.class, () -> hello.putNonce(new byte[31]));
        assertThrows(IllegalArgumentException.class, () -> hello.volumeSizes(new long[MAX_VOLUMES + 1]));
    }

    @Test
    void shouldRoundTripAuthResponse()
    {
        final byte[] mac = new byte[MAC_LENGTH];
        mac[0] = 1;
        mac[31] = (byte)0xFF;
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + AuthResponseFlyweight.LENGTH]);
        new AuthResponseFlyweight().wrap(buffer, AT).putMac(mac);
        assertArrayEquals(mac, new AuthResponseFlyweight().wrap(buffer, AT).getMac(new byte[MAC_LENGTH]));
        assertThrows(IllegalArgumentException.class, () -> new AuthResponseFlyweight().wrap(buffer, AT)
            .putMac(new byte[16]));
    }

    @Test
    void shouldRoundTripRefuse()
    {
        final String message = "peer x asks for resource 'y' — not here";
        final int length = RefuseFlyweight.encodedLength(message);
        assertEquals(4 + message.getBytes(StandardCharsets.UTF_8).length, length);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + length]);
        new RefuseFlyweight().wrap(buffer, AT).reason(REFUSE_WRONG_RESOURCE).message(message);
        final RefuseFlyweight refuse = new RefuseFlyweight().wrap(buffer, AT);
        assertNull(refuse.validate(length));
        assertEquals(REFUSE_WRONG_RESOURCE, refuse.reason());
        assertEquals(message, refuse.message());
        assertNotNull(refuse.validate(length + 1));
        assertNotNull(refuse.validate(3));
        assertEquals("WRONG_RESOURCE", refuseReasonName(refuse.reason()));
    }

    @Test
    void shouldTruncateLongRefuseMessages()
    {
        final String message = "é".repeat(2000);
        final int length = RefuseFlyweight.encodedLength(message);
        assertTrue(length <= RefuseFlyweight.MAX_LENGTH, "length " + length);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[length]);
        final RefuseFlyweight refuse = new RefuseFlyweight().wrap(buffer, 0).reason(REFUSE_PROTOCOL_ERROR)
            .message(message);
        assertNull(refuse.validate(length));
        assertTrue(refuse.message().endsWith("..."));
        assertTrue(refuse.message().startsWith("éé"));
    }

    @Test
    void shouldRoundTripWriteHeader()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + WriteFlyweight.HEADER_LENGTH]);
        buffer.setMemory(0, buffer.capacity(), (byte)0x55);
        new WriteFlyweight().wrap(buffer, AT).writeSequence(-2L).byteOffset(1L << 40).epoch(0xFFFF_FFFEL)
            .dataLength(65536).flags(WRITE_FLAG_FUA | WRITE_FLAG_FLUSH);
        final WriteFlyweight write = new WriteFlyweight().wrap(buffer, AT);
        assertEquals(-2L, write.writeSequence());
        assertEquals(1L << 40, write.byteOffset());
        assertEquals(0xFFFF_FFFEL, write.epoch());
        assertEquals(65536, write.dataLength());
        assertEquals(WRITE_FLAG_FUA | WRITE_FLAG_FLUSH, write.flags());
        assertEquals(0, buffer.getShort(AT + WriteFlyweight.RESERVED1_OFFSET));
        assertEquals(0, buffer.getInt(AT + WriteFlyweight.RESERVED2_OFFSET));
    }

    @Test
    void shouldRoundTripWriteAck()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + WriteAckFlyweight.LENGTH]);
        new WriteAckFlyweight().wrap(buffer, AT).writeSequence(77).status(5).flags(ACK_FLAG_DURABLE);
        final WriteAckFlyweight ack = new WriteAckFlyweight().wrap(buffer, AT);
        assertEquals(77, ack.writeSequence());
        assertEquals(5, ack.status());
        assertEquals(ACK_FLAG_DURABLE, ack.flags());
    }

    @Test
    void shouldRoundTripPing()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + PingFlyweight.LENGTH]);
        new PingFlyweight().wrap(buffer, AT).pingId(Long.MIN_VALUE).sendTimeNs(123_456_789L);
        final PingFlyweight ping = new PingFlyweight().wrap(buffer, AT);
        assertEquals(Long.MIN_VALUE, ping.pingId());
        assertEquals(123_456_789L, ping.sendTimeNs());
    }

    @Test
    void shouldRoundTripRangeOp()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + RangeOpFlyweight.LENGTH]);
        buffer.setMemory(0, buffer.capacity(), (byte)0x55);
        new RangeOpFlyweight().wrap(buffer, AT).opSequence(-3L).byteOffset(1L << 41).length(Long.MAX_VALUE)
            .epoch(0xFFFF_FFFFL).flags(RANGE_FLAG_NO_HOLE | RANGE_FLAG_FUA);
        final RangeOpFlyweight op = new RangeOpFlyweight().wrap(buffer, AT);
        assertEquals(-3L, op.opSequence());
        assertEquals(1L << 41, op.byteOffset());
        assertEquals(Long.MAX_VALUE, op.length());
        assertEquals(0xFFFF_FFFFL, op.epoch());
        assertEquals(RANGE_FLAG_NO_HOLE | RANGE_FLAG_FUA, op.flags());
        assertEquals(0, buffer.getShort(AT + RangeOpFlyweight.RESERVED_OFFSET));
        assertEquals(32, RangeOpFlyweight.LENGTH);
    }

    @Test
    void shouldRoundTripReadRequest()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + ReadRequestFlyweight.LENGTH]);
        buffer.setMemory(0, buffer.capacity(), (byte)0x55);
        new ReadRequestFlyweight().wrap(buffer, AT).requestId(Long.MIN_VALUE).byteOffset(4096)
            .length(MAX_WRITE_DATA_LENGTH);
        final ReadRequestFlyweight request = new ReadRequestFlyweight().wrap(buffer, AT);
        assertEquals(Long.MIN_VALUE, request.requestId());
        assertEquals(4096, request.byteOffset());
        assertEquals(MAX_WRITE_DATA_LENGTH, request.length());
        assertEquals(0, buffer.getInt(AT + ReadRequestFlyweight.RESERVED_OFFSET));
        assertEquals(24, ReadRequestFlyweight.LENGTH);
    }

    @Test
    void shouldRoundTripReadReplyHeader()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + ReadReplyFlyweight.HEADER_LENGTH]);
        new ReadReplyFlyweight().wrap(buffer, AT).requestId(12).status(61).dataLength(0);
        final ReadReplyFlyweight reply = new ReadReplyFlyweight().wrap(buffer, AT);
        assertEquals(12, reply.requestId());
        assertEquals(61, reply.status());
        assertEquals(0, reply.dataLength());
        reply.status(0).dataLength(MAX_WRITE_DATA_LENGTH);
        assertEquals(MAX_WRITE_DATA_LENGTH, reply.dataLength());
        assertEquals(16, ReadReplyFlyweight.HEADER_LENGTH);
    }

    @Test
    void shouldRoundTripState()
    {
        final int length = StateFlyweight.encodedLength(3);
        assertEquals(8 + 3 * 48, length);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + length]);
        buffer.setMemory(0, buffer.capacity(), (byte)0x55);
        final StateFlyweight writer = new StateFlyweight().wrap(buffer, AT)
            .role(STATE_ROLE_SECONDARY).flags(0).volumeCount(3).nodeId(MAX_NODE_ID);
        for (int volume = 0; volume < 3; volume++)
        {
            writer.diskState(volume, volume + 5).historyCount(volume, volume + 1).currentGen(volume, -volume - 1L);
            for (int slot = 0; slot < StateFlyweight.MAX_HISTORY; slot++)
            {
                writer.history(volume, slot, slot <= volume ? 100L * volume + slot : 0);
            }
        }

        final StateFlyweight state = new StateFlyweight().wrap(buffer, AT);
        assertEquals(STATE_ROLE_SECONDARY, state.role());
        assertEquals(0, state.flags());
        assertEquals(3, state.volumeCount());
        assertEquals(MAX_NODE_ID, state.nodeId());
        for (int volume = 0; volume < 3; volume++)
        {
            final int entry = AT + StateFlyweight.entryOffset(volume);
            assertEquals(volume + 5, state.diskState(volume));
            assertEquals(volume + 1, state.historyCount(volume));
            assertEquals(-volume - 1L, state.currentGen(volume));
            assertEquals(0, buffer.getShort(entry + StateFlyweight.RESERVED1_OFFSET), "reserved zeroed");
            assertEquals(0, buffer.getInt(entry + StateFlyweight.RESERVED2_OFFSET), "reserved zeroed");
            for (int slot = 0; slot < StateFlyweight.MAX_HISTORY; slot++)
            {
                assertEquals(slot <= volume ? 100L * volume + slot : 0, state.history(volume, slot));
            }
        }
        assertEquals(0x55, buffer.getByte(0), "nothing written before the body");
        assertEquals(48, StateFlyweight.VOLUME_ENTRY_LENGTH);
        assertEquals(4, StateFlyweight.MAX_HISTORY);
        assertEquals(StateFlyweight.encodedLength(1), StateFlyweight.MIN_LENGTH);
        assertEquals(StateFlyweight.encodedLength(MAX_VOLUMES), StateFlyweight.MAX_LENGTH);
        assertThrows(IndexOutOfBoundsException.class, () -> writer.history(0, StateFlyweight.MAX_HISTORY, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> writer.history(0, -1, 1));
    }

    @Test
    void shouldRoundTripTwoPc()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + TwoPcFlyweight.LENGTH]);
        buffer.setMemory(0, buffer.capacity(), (byte)0x55);
        new TwoPcFlyweight().wrap(buffer, AT).txId(Long.MAX_VALUE).kind(TWOPC_KIND_PROMOTE);
        final TwoPcFlyweight twoPc = new TwoPcFlyweight().wrap(buffer, AT);
        assertEquals(Long.MAX_VALUE, twoPc.txId());
        assertEquals(TWOPC_KIND_PROMOTE, twoPc.kind());
        assertEquals(0, buffer.getInt(AT + TwoPcFlyweight.RESERVED_OFFSET));
        assertEquals(16, TwoPcFlyweight.LENGTH);
    }

    @Test
    void shouldRoundTripResyncRequest()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + ResyncRequestFlyweight.LENGTH]);
        buffer.setMemory(0, buffer.capacity(), (byte)0x55);
        new ResyncRequestFlyweight().wrap(buffer, AT).targetGen(-42L).flags(RESYNC_FLAG_FULL);
        final ResyncRequestFlyweight request = new ResyncRequestFlyweight().wrap(buffer, AT);
        assertEquals(-42L, request.targetGen());
        assertEquals(RESYNC_FLAG_FULL, request.flags());
        assertEquals(0, buffer.getInt(AT + ResyncRequestFlyweight.RESERVED_OFFSET), "reserved zeroed");
        assertEquals(0x55, buffer.getByte(0), "nothing written before the body");
        assertEquals(16, ResyncRequestFlyweight.LENGTH);
        assertEquals(8, ResyncRequestFlyweight.FLAGS_OFFSET);
        request.flags(0);
        assertEquals(0, request.flags());
    }

    @Test
    void shouldRoundTripResyncEnd()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + ResyncEndFlyweight.LENGTH]);
        buffer.setMemory(0, buffer.capacity(), (byte)0x55);
        new ResyncEndFlyweight().wrap(buffer, AT).sourceGen(Long.MIN_VALUE).sentBytes(1L << 40);
        final ResyncEndFlyweight end = new ResyncEndFlyweight().wrap(buffer, AT);
        assertEquals(Long.MIN_VALUE, end.sourceGen());
        assertEquals(1L << 40, end.sentBytes());
        assertEquals(0x55, buffer.getByte(0), "nothing written before the body");
        assertEquals(16, ResyncEndFlyweight.LENGTH);
    }

    @Test
    void shouldRoundTripTwoPcReply()
    {
        final String message = "node b: volume 0 is Outdated — refusing";
        final int length = TwoPcReplyFlyweight.encodedLength(message);
        assertEquals(16 + message.getBytes(StandardCharsets.UTF_8).length, length);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[AT + length]);
        new TwoPcReplyFlyweight().wrap(buffer, AT).txId(5).verdict(TWOPC_NO).message(message);
        final TwoPcReplyFlyweight reply = new TwoPcReplyFlyweight().wrap(buffer, AT);
        assertEquals(5, reply.txId());
        assertEquals(TWOPC_NO, reply.verdict());
        assertEquals(length - 16, reply.messageLength());
        assertEquals(message, reply.message());

        assertEquals(TwoPcReplyFlyweight.MIN_LENGTH, TwoPcReplyFlyweight.encodedLength(null));
        reply.verdict(TWOPC_YES).message(null);
        assertEquals(0, reply.messageLength());
        assertEquals("", reply.message());
    }

    @Test
    void shouldTruncateLongTwoPcReplyMessagesAtACharacterBoundary()
    {
        for (final String unit : new String[]{"a", "é", "€", "\uD83D\uDE00"})
        {
            for (int pad = 0; pad < 4; pad++)
            {
                final String message = "x".repeat(pad) + unit.repeat(MAX_REFUSE_MESSAGE_LENGTH + 1);
                final int length = TwoPcReplyFlyweight.encodedLength(message);
                assertTrue(length <= TwoPcReplyFlyweight.MAX_LENGTH, "length " + length);
                assertTrue(length > TwoPcReplyFlyweight.MAX_LENGTH - 4 - 3, "as much as fits: " + length);
                final UnsafeBuffer buffer = new UnsafeBuffer(new byte[length]);
                final TwoPcReplyFlyweight reply = new TwoPcReplyFlyweight().wrap(buffer, 0).message(message);
                assertEquals(length - TwoPcReplyFlyweight.MESSAGE_OFFSET, reply.messageLength());
                final String text = reply.message();
                assertTrue(text.endsWith("..."), text);
                assertTrue(message.startsWith(text.substring(0, text.length() - 3)), "a prefix, nothing replaced");
            }
        }
        final String exact = "é".repeat(MAX_REFUSE_MESSAGE_LENGTH / 2);
        assertEquals(TwoPcReplyFlyweight.MAX_LENGTH, TwoPcReplyFlyweight.encodedLength(exact), "fits: not truncated");
    }
}
