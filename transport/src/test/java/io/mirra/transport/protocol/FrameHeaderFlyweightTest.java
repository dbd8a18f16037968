package io.mirra.transport.protocol;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

@Timeout(10)
class FrameHeaderFlyweightTest
{
    @Test
    void shouldLayOutTheHeaderExactlyAsDocumented()
    {
        final byte[] bytes = new byte[HEADER_LENGTH + 4];
        Arrays.fill(bytes, (byte)0xEE);
        new FrameHeaderFlyweight().wrap(new UnsafeBuffer(bytes), 2)
            .set(0x0102, WRITE, 0x0304, 0x0506, 0x0708090A, 0x1112131415161718L);

        final byte[] golden = {
            (byte)0xEE, (byte)0xEE,
            'M', 'I', 'R', 'A',                                  // magic
            0x02, 0x01,                                          // version, little-endian
            16, 0,                                               // type WRITE
            0x04, 0x03,                                          // frame flags
            0x06, 0x05,                                          // volume
            0x0A, 0x09, 0x08, 0x07,                              // body length
            0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,      // sequence
            (byte)0xEE, (byte)0xEE,
        };
        assertArrayEquals(golden, bytes);
    }

    @Test
    void shouldSpellMagicAsMiraOnTheWire()
    {
        final byte[] bytes = new byte[4];
        new UnsafeBuffer(bytes).putInt(0, MAGIC, BYTE_ORDER);
        assertEquals("MIRA", new String(bytes, StandardCharsets.US_ASCII));
        assertEquals(24, HEADER_LENGTH);
        assertEquals(HEADER_LENGTH, SEQUENCE_OFFSET + Long.BYTES);
    }

    @Test
    void shouldReadBackUnsignedFieldsWidened()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[HEADER_LENGTH]);
        final FrameHeaderFlyweight header = new FrameHeaderFlyweight().wrap(buffer, 0)
            .set(0xFFFF, 0xFFFE, 0xFFFD, 0xFFFC, -1, -1L);
        assertEquals(MAGIC, header.magic());
        assertEquals(0xFFFF, header.version());
        assertEquals(0xFFFE, header.type());
        assertEquals(0xFFFD, header.flags());
        assertEquals(0xFFFC, header.volume());
        assertEquals(0xFFFF_FFFFL, header.bodyLength());
        assertEquals(-1L, header.sequence());
    }

    @Test
    void shouldDeclareStreamsAndBoundsForEveryKnownType()
    {
        final int[] types = {HELLO, AUTH_RESPONSE, AUTH_OK, REFUSE, WRITE, WRITE_ACK, FLUSH, TRIM, WRITE_ZEROES,
            READ_REQUEST, READ_REPLY, PING, PING_ACK, STATE, TWOPC_PREPARE, TWOPC_COMMIT, TWOPC_ABORT, TWOPC_REPLY,
            RESYNC_REQUEST, RESYNC_DATA, RESYNC_END, OUT_OF_SYNC, SPLIT_BRAIN, VERIFY_REQUEST, VERIFY_REPLY,
            RESYNC_PROGRESS};
        for (final int type : types)
        {
            assertTrue(isKnownType(type), typeName(type));
            assertTrue(minBodyLength(type) <= maxBodyLength(type, MAX_WRITE_DATA_LENGTH), typeName(type));
            assertTrue(maxBodyLength(type, MAX_WRITE_DATA_LENGTH) <= MAX_FRAME_BODY_LENGTH, typeName(type));
            assertFalse(typeName(type).startsWith("UNKNOWN"));
        }
        assertEquals(STREAM_DATA, streamsOf(WRITE));
        assertEquals(STREAM_CONTROL, streamsOf(WRITE_ACK));
        assertEquals(STREAM_CONTROL, streamsOf(PING));
        assertEquals(STREAM_BOTH, streamsOf(HELLO));
        for (final int type : new int[]{FLUSH, TRIM, WRITE_ZEROES, READ_REQUEST, READ_REPLY, STATE, RESYNC_REQUEST,
            RESYNC_DATA, RESYNC_END, OUT_OF_SYNC, SPLIT_BRAIN, VERIFY_REQUEST, VERIFY_REPLY, RESYNC_PROGRESS})
        {
            assertEquals(STREAM_DATA, streamsOf(type), typeName(type));
        }
        for (final int type : new int[]{TWOPC_PREPARE, TWOPC_COMMIT, TWOPC_ABORT, TWOPC_REPLY})
        {
            assertEquals(STREAM_CONTROL, streamsOf(type), typeName(type));
        }
        for (final int reserved : new int[]{0, 5, 15, 18, 19, 20, 21, 27, 49, 50, 55, 64, 67, 68, 71, 76, 0xFFFF})
        {
            assertFalse(isKnownType(reserved), "reserved " + reserved);
        }
        assertEquals(0, minBodyLength(AUTH_OK));
        assertEquals(WriteFlyweight.HEADER_LENGTH + 4096, maxBodyLength(WRITE, 4096));
        assertEquals(ReadReplyFlyweight.HEADER_LENGTH + 4096, maxBodyLength(READ_REPLY, 4096));
        assertEquals(RangeOpFlyweight.LENGTH, maxBodyLength(TRIM, 4096));
        assertEquals(StateFlyweight.MAX_LENGTH, maxBodyLength(STATE, 0));
        assertEquals(TwoPcReplyFlyweight.MAX_LENGTH, maxBodyLength(TWOPC_REPLY, 0));
        assertEquals(WriteFlyweight.HEADER_LENGTH, minBodyLength(RESYNC_DATA));
        assertEquals(WriteFlyweight.HEADER_LENGTH + 4096, maxBodyLength(RESYNC_DATA, 4096));
        assertEquals(ResyncRequestFlyweight.LENGTH, minBodyLength(RESYNC_REQUEST));
        assertEquals(ResyncRequestFlyweight.LENGTH, maxBodyLength(RESYNC_REQUEST, 4096));
        assertEquals(ResyncEndFlyweight.LENGTH, minBodyLength(RESYNC_END));
        assertEquals(ResyncEndFlyweight.LENGTH, maxBodyLength(RESYNC_END, 4096));
        assertEquals("RESYNC_REQUEST", typeName(65));
        assertEquals("RESYNC_DATA", typeName(66));
        assertEquals("RESYNC_END", typeName(72));
    }
}
