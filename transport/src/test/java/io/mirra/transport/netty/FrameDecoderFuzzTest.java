package io.mirra.transport.netty;

import io.mirra.transport.protocol.ResyncRequestFlyweight;
import io.mirra.transport.protocol.WriteFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static io.mirra.transport.netty.FrameTestSupport.*;
import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Valid streams, mutated, truncated, extended or replaced by garbage, fed in random splits: the decoder must either
 * produce well-formed frames or close cleanly with a reason, never throw, and leak nothing (LeakGuard).
 */
@Timeout(120)
class FrameDecoderFuzzTest
{
    private static final long SEED = 0x5EED_F00DL;
    private static final int ITERATIONS = 3000;

    private final OutboundFrames frames = new OutboundFrames();

    @Test
    void shouldOnlyEverDecodeValidFramesOrCloseCleanly()
    {
        System.out.println("fuzz seed " + SEED);
        final Random random = new Random(SEED);
        int closed = 0;
        int intact = 0;
        for (int i = 0; i < ITERATIONS; i++)
        {
            final boolean control = random.nextBoolean();
            final List<Frame> originals = randomFrames(random, control);
            final int count = originals.size();
            final byte[] valid = encode(originals);
            final int mutation = random.nextInt(6);
            final byte[] bytes = mutate(random, valid, mutation);

            final FrameDecoder decoder = new FrameDecoder(4096);
            decoder.handshakeCompleted(PROTOCOL_VERSION, control ? STREAM_CONTROL : STREAM_DATA);
            final EmbeddedChannel channel = new EmbeddedChannel(decoder);
            final String context = "iteration " + i + " seed " + SEED + " mutation " + mutation;
            final List<Frame> decoded;
            try
            {
                decoded = feed(channel, bytes, () -> 1 + random.nextInt(64));
            }
            catch (final RuntimeException ex)
            {
                throw new AssertionError(context + ": decoder threw", ex);
            }
            for (final Frame frame : decoded)
            {
                try
                {
                    assertTrue(isKnownType(frame.type()), context);
                    assertTrue(frame.type() == REFUSE ||
                        (streamsOf(frame.type()) & (control ? STREAM_CONTROL : STREAM_DATA)) != 0, context);
                    assertTrue(frame.bodyLength() >= minBodyLength(frame.type()), context);
                    assertTrue(frame.bodyLength() <= maxBodyLength(frame.type(), 4096), context);
                    assertEquals(0, frame.flags(), context);
                    assertTrue(frame.volume() < MAX_VOLUMES, context);
                    assertResyncBodyValid(frame, context);
                }
                finally
                {
                    frame.release();
                }
            }
            assertEquals(channel.isOpen(), decoder.failure() == null, context);
            if (mutation == 0)
            {
                assertTrue(channel.isOpen(), context);
                assertEquals(count, decoded.size(), context);
                intact++;
            }
            if (!channel.isOpen())
            {
                closed++;
                channel.pipeline().fireChannelRead(Unpooled.wrappedBuffer(valid)); // dropped after the close
            }
            channel.finishAndReleaseAll();
        }
        System.out.println("fuzz: " + closed + " closed, " + intact + " intact of " + ITERATIONS);
        assertTrue(closed > ITERATIONS / 3, "the mutations must exercise the error paths: " + closed);
    }

    /** What the decoder guarantees about a resync body that it let through. */
    private static void assertResyncBodyValid(final Frame frame, final String context)
    {
        final ByteBuf body = frame.content();
        final int at = body.readerIndex();
        if (frame.type() == RESYNC_REQUEST)
        {
            assertEquals(0, body.getIntLE(at + ResyncRequestFlyweight.FLAGS_OFFSET) & ~KNOWN_RESYNC_FLAGS, context);
            assertEquals(0, body.getIntLE(at + ResyncRequestFlyweight.RESERVED_OFFSET), context);
        }
        else if (frame.type() == RESYNC_DATA)
        {
            assertEquals(0, body.getShortLE(at + WriteFlyweight.FLAGS_OFFSET), context);
            assertEquals(frame.bodyLength() - WriteFlyweight.HEADER_LENGTH,
                body.getUnsignedIntLE(at + WriteFlyweight.DATA_LENGTH_OFFSET), context);
            final long byteOffset = body.getLongLE(at + WriteFlyweight.BYTE_OFFSET_OFFSET);
            assertTrue(byteOffset >= 0 && byteOffset <= Long.MAX_VALUE - frame.writeData().readableBytes(), context);
        }
    }

    private List<Frame> randomFrames(final Random random, final boolean control)
    {
        final ByteBufAllocator alloc = ByteBufAllocator.DEFAULT;
        final List<Frame> result = new ArrayList<>();
        final int count = 1 + random.nextInt(4);
        for (int i = 0; i < count; i++)
        {
            final int kind = random.nextInt(12);
            if (kind == 0)
            {
                result.add(frames.refuse(alloc, 1 + random.nextInt(7), "r".repeat(random.nextInt(40))));
            }
            else if (control)
            {
                result.add(controlFrame(random, alloc, kind));
            }
            else
            {
                result.add(dataFrame(random, alloc, kind));
            }
        }
        return result;
    }

    private Frame controlFrame(final Random random, final ByteBufAllocator alloc, final int kind)
    {
        switch (kind)
        {
            case 1:
            case 2:
                return frames.writeAck(alloc, random.nextInt(4), random.nextLong(), random.nextInt(3), 2);
            case 3:
            case 4:
                return frames.ping(alloc, kind == 3 ? PING : PING_ACK, random.nextLong(), random.nextLong());
            case 5:
            case 6:
            case 7:
                return frames.twoPc(alloc, TWOPC_PREPARE + kind - 5, random.nextLong(), TWOPC_KIND_PROMOTE);
            default:
                return frames.twoPcReply(alloc, random.nextLong(), random.nextInt(2), "n".repeat(random.nextInt(40)));
        }
    }

    private Frame dataFrame(final Random random, final ByteBufAllocator alloc, final int kind)
    {
        final int volume = random.nextInt(4);
        switch (kind)
        {
            case 1:
            case 2:
            {
                final byte[] data = new byte[random.nextInt(300)];
                random.nextBytes(data);
                return frames.write(alloc, volume, random.nextLong(), random.nextLong(), random.nextInt(),
                    random.nextInt(8), Unpooled.wrappedBuffer(data));
            }
            case 3:
                return frames.rangeOp(alloc, FLUSH, volume, random.nextLong(), 0, 0, random.nextInt(), RANGE_FLAG_FUA);
            case 4:
                return frames.rangeOp(alloc, random.nextBoolean() ? TRIM : WRITE_ZEROES, volume, random.nextLong(),
                    random.nextInt(1 << 30) * 512L, 1 + random.nextInt(1 << 20), random.nextInt(), random.nextInt(4));
            case 5:
                return frames.readRequest(alloc, volume, random.nextLong(), random.nextInt(1 << 30) * 512L,
                    1 + random.nextInt(MAX_WRITE_DATA_LENGTH));
            case 6:
            {
                final byte[] data = new byte[random.nextInt(300)];
                random.nextBytes(data);
                return random.nextBoolean() ? frames.readReply(alloc, volume, random.nextLong(), 0,
                    Unpooled.wrappedBuffer(data)) : frames.readReply(alloc, volume, random.nextLong(), 5, null);
            }
            case 7:
                return frames.resyncRequest(alloc, volume, random.nextLong(),
                    random.nextBoolean() ? RESYNC_FLAG_FULL : 0);
            case 8:
            {
                final byte[] data = new byte[random.nextInt(300)];
                random.nextBytes(data);
                return frames.resyncData(alloc, volume, random.nextLong(), random.nextInt(1 << 30) * 512L,
                    random.nextInt(), Unpooled.wrappedBuffer(data));
            }
            case 9:
                return frames.resyncEnd(alloc, volume, random.nextLong(), random.nextLong());
            default:
            {
                final int volumeCount = 1 + random.nextInt(3);
                final byte[] diskStates = new byte[volumeCount];
                final long[] generations = new long[volumeCount];
                final long[][] histories = new long[volumeCount][];
                for (int i = 0; i < volumeCount; i++)
                {
                    diskStates[i] = (byte)random.nextInt(MAX_DISK_STATE + 1);
                    generations[i] = random.nextLong();
                    histories[i] = random.longs(random.nextInt(MAX_HISTORY + 1)).toArray();
                }
                return frames.state(alloc, 1 + random.nextInt(2), random.nextInt(MAX_NODE_ID + 1), volumeCount,
                    diskStates, generations, histories);
            }
        }
    }

    private static byte[] mutate(final Random random, final byte[] valid, final int mutation)
    {
        switch (mutation)
        {
            case 0:
                return valid;
            case 1:
            {
                final byte[] bytes = valid.clone();
                for (int flips = 1 + random.nextInt(3); flips > 0; flips--)
                {
                    bytes[random.nextInt(bytes.length)] ^= (byte)(1 + random.nextInt(255));
                }
                return bytes;
            }
            case 2:
            {
                final byte[] bytes = valid.clone();
                final int headerField = random.nextInt(Math.min(bytes.length, HEADER_LENGTH));
                bytes[headerField] = (byte)random.nextInt(256);
                bytes[Math.min(bytes.length - 1, BODY_LENGTH_OFFSET + random.nextInt(4))] = (byte)random.nextInt(256);
                return bytes;
            }
            case 3:
                return Arrays.copyOf(valid, random.nextInt(valid.length));
            case 4:
            {
                final byte[] garbage = new byte[1 + random.nextInt(200)];
                random.nextBytes(garbage);
                final byte[] bytes = Arrays.copyOf(valid, valid.length + garbage.length);
                System.arraycopy(garbage, 0, bytes, valid.length, garbage.length);
                return bytes;
            }
            default:
            {
                final byte[] garbage = new byte[1 + random.nextInt(400)];
                random.nextBytes(garbage);
                if (random.nextBoolean())
                {
                    System.arraycopy(valid, 0, garbage, 0, Math.min(4, garbage.length)); // keep the magic
                }
                return garbage;
            }
        }
    }
}
