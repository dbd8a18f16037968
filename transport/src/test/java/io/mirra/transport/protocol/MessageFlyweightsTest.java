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
}
