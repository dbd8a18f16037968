package io.mirra.nbd.server;

import io.mirra.nbd.spi.NbdRequest;
import io.mirra.test.LeakGuard;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Random;

import static io.mirra.nbd.protocol.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link NbdRequestDecoder} alone, on an {@link EmbeddedChannel}: framing must not depend on how the stream is
 * split into reads, payloads must be exact, and every buffer must be released.
 */
@Timeout(120)
@ExtendWith(LeakGuard.class)
class NbdRequestDecoderTest
{
    /**
     * A decoded request, with the payload as Base64 so that equality is by content.
     */
    record Decoded(int type, int flags, long cookie, long offset, long length, int errno, String payload)
    {
        static Decoded of(final int type, final int flags, final long cookie, final long offset, final long length,
            final int errno, final byte[] payload)
        {
            return new Decoded(type, flags, cookie, offset, length, errno,
                payload == null ? null : Base64.getEncoder().encodeToString(payload));
        }
    }

    /** Records what the decoder emits, then releases the payload as the transmission handler would. */
    private static final class Capture extends ChannelInboundHandlerAdapter
    {
        final List<Decoded> decoded = new ArrayList<>();
        final List<ByteBuf> payloads = new ArrayList<>();
        NbdRequestPool pool;
        int pauseAfter = Integer.MAX_VALUE;

        @Override
        public void channelRead(final ChannelHandlerContext ctx, final Object msg)
        {
            final NbdRequest request = (NbdRequest)msg;
            final ByteBuf payload = request.payload();
            byte[] bytes = null;
            if (payload != null)
            {
                bytes = ByteBufUtil.getBytes(payload);
                payloads.add(payload);
                payload.release();
                request.payload(null);
            }
            decoded.add(Decoded.of(request.type(), request.flags(), request.cookie(), request.offsetBytes(),
                request.lengthBytes(), request.errno(), bytes));
            pool.release(request);
            if (decoded.size() >= pauseAfter)
            {
                ctx.channel().config().setAutoRead(false);
            }
        }
    }

    /** A stream of requests and what decoding it must produce. */
    private record Stream(byte[] bytes, List<Decoded> expected)
    {
    }

    @Test
    void shouldDecodeTheSameRequestsHoweverTheStreamIsSplit()
    {
        final long seed = 0xDEC0DE01L;
        System.out.println("stream seed " + seed);
        final Stream stream = randomStream(new Random(seed), 120, 6000);
        final List<Decoded> whole = decode(List.of(stream.bytes()));
        assertEquals(stream.expected(), whole, "fed whole");
        assertEquals(stream.expected(), decode(fixedSplit(stream.bytes(), 1)), "fed in 1-byte fragments");
        assertEquals(stream.expected(), decode(fixedSplit(stream.bytes(), 5)), "fed in 5-byte fragments");
        assertEquals(stream.expected(), decode(fixedSplit(stream.bytes(), REQUEST_HEADER_LENGTH - 1)), "27-byte");
        assertEquals(stream.expected(), decode(fixedSplit(stream.bytes(), REQUEST_HEADER_LENGTH + 1)), "29-byte");
        for (int i = 0; i < 20; i++)
        {
            final long splitSeed = seed * 31 + i;
            assertEquals(stream.expected(), decode(randomSplit(stream.bytes(), new Random(splitSeed))),
                "fed in random fragments, split seed " + splitSeed);
        }
    }

    @Test
    void shouldDecodeLargePayloadsInRandomFragments()
    {
        final long seed = 0xDEC0DE02L;
        System.out.println("stream seed " + seed);
        final Stream stream = randomStream(new Random(seed), 40, 400_000);
        assertEquals(stream.expected(), decode(List.of(stream.bytes())), "fed whole");
        assertEquals(stream.expected(), decode(fixedSplit(stream.bytes(), 65536)), "fed in 64 KiB reads");
        assertEquals(stream.expected(), decode(fixedSplit(stream.bytes(), 1460)), "fed in MSS-sized reads");
        for (int i = 0; i < 5; i++)
        {
            final long splitSeed = seed * 31 + i;
            assertEquals(stream.expected(), decode(randomSplit(stream.bytes(), new Random(splitSeed))),
                "fed in random fragments, split seed " + splitSeed);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 254, 255, 256, 257, 600, 5000})
    void shouldDecodePayloadArrivingInManyPieces(final int pieces)
    {
        final long seed = 0xDEC0DE03L + pieces;
        System.out.println("payload seed " + seed);
        final Random random = new Random(seed);
        final byte[] payload = new byte[Math.max(pieces * 3 + 1, 10_000)];
        random.nextBytes(payload);
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.writeBytes(header(0, CMD_WRITE, 1, 4096, payload.length));
        final List<byte[]> fragments = new ArrayList<>();
        fragments.add(bytes.toByteArray());
        // The payload in exactly `pieces` reads, the last one also carrying the next request's header.
        final int step = payload.length / pieces;
        for (int i = 0; i < pieces; i++)
        {
            final int from = i * step;
            final int to = i == pieces - 1 ? payload.length : from + step;
            byte[] fragment = Arrays.copyOfRange(payload, from, to);
            if (i == pieces - 1)
            {
                fragment = concat(fragment, header(CMD_FLAG_FUA, CMD_READ, 2, 0, 512));
            }
            fragments.add(fragment);
        }
        final List<Decoded> expected = List.of(
            Decoded.of(CMD_WRITE, 0, 1, 4096, payload.length, 0, payload),
            Decoded.of(CMD_READ, CMD_FLAG_FUA, 2, 0, 512, 0, null));
        assertEquals(expected, decode(fragments));
        assertTrue(NbdRequestDecoder.MAX_PAYLOAD_COMPONENTS < 257, "the test crosses the component limit");
    }

    @Test
    void shouldSkipOversizedWritePayloadAndFailItWithEoverflow()
    {
        final long length = MAX_PAYLOAD_LENGTH + 1L;
        final List<byte[]> fragments = new ArrayList<>();
        fragments.add(header(0, CMD_WRITE, 7, 0, length));
        final byte[] chunk = new byte[1 << 20];
        long left = length;
        while (left > 0)
        {
            final int n = (int)Math.min(left, chunk.length);
            fragments.add(n == chunk.length ? chunk : Arrays.copyOf(chunk, n));
            left -= n;
        }
        fragments.add(header(0, CMD_READ, 8, 100, 200));
        final List<Decoded> decoded = decode(fragments);
        assertEquals(2, decoded.size());
        assertEquals(EOVERFLOW, decoded.get(0).errno());
        assertNull(decoded.get(0).payload(), "the oversized payload is not kept");
        assertEquals(length, decoded.get(0).length());
        assertEquals(Decoded.of(CMD_READ, 0, 8, 100, 200, 0, null), decoded.get(1), "framing kept after the skip");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 28, 1000})
    void shouldCloseOnBadMagicAndReleaseEverything(final int fragmentSize)
    {
        final byte[] good = concat(header(0, CMD_WRITE, 1, 0, 10), new byte[10]);
        final byte[] bad = header(0, CMD_READ, 2, 0, 10);
        bad[0] ^= 0x40;
        final byte[] stream = concat(concat(good, bad), concat(header(0, CMD_READ, 3, 0, 10), new byte[500]));
        final Harness harness = new Harness();
        for (final byte[] fragment : fixedSplit(stream, fragmentSize))
        {
            harness.feed(fragment);
        }
        assertEquals(List.of(Decoded.of(CMD_WRITE, 0, 1, 0, 10, 0, new byte[10])), harness.capture.decoded,
            "only the request before the bad magic");
        assertFalse(harness.channel.isOpen(), "bad magic closes the connection");
        harness.assertAllReleased();
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 10, 28, 40, 5000, 70_000})
    void shouldReleasePartialInputWhenTheConnectionCloses(final int bytesBeforeClose)
    {
        // A write of 100000 bytes cut after bytesBeforeClose bytes (mid-header, mid-payload), in 3 KiB reads.
        final byte[] stream = concat(header(0, CMD_WRITE, 1, 0, 100_000), new byte[100_000]);
        final Harness harness = new Harness();
        for (final byte[] fragment : fixedSplit(Arrays.copyOf(stream, bytesBeforeClose), 3000))
        {
            harness.feed(fragment);
        }
        harness.channel.close();
        assertTrue(harness.capture.decoded.isEmpty(), "an incomplete request is never emitted");
        harness.assertAllReleased();
    }

    @Test
    void shouldDecodeNothingWhileAutoReadIsOffAndResumeOnRead()
    {
        final Harness harness = new Harness();
        harness.capture.pauseAfter = 3; // like the transmission handler when the in-flight limit is reached
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final List<Decoded> expected = new ArrayList<>();
        for (int i = 0; i < 10; i++)
        {
            final byte[] payload = new byte[100 + i];
            Arrays.fill(payload, (byte)i);
            bytes.writeBytes(header(0, CMD_WRITE, i, i * 1000L, payload.length));
            bytes.writeBytes(payload);
            expected.add(Decoded.of(CMD_WRITE, 0, i, i * 1000L, payload.length, 0, payload));
        }
        final byte[] stream = bytes.toByteArray();
        harness.feed(Arrays.copyOf(stream, stream.length - 50)); // all but the end of the last payload
        assertEquals(expected.subList(0, 3), harness.capture.decoded, "nothing decoded after the pause");
        harness.feed(Arrays.copyOfRange(stream, stream.length - 50, stream.length)); // arrives while paused
        assertEquals(3, harness.capture.decoded.size(), "still paused");

        harness.capture.pauseAfter = 7;
        harness.channel.config().setAutoRead(true); // calls read(): the decoder resumes from its stalled bytes
        harness.channel.runPendingTasks();
        assertEquals(expected.subList(0, 7), harness.capture.decoded, "resumed up to the next pause");
        assertFalse(harness.channel.config().isAutoRead());

        harness.capture.pauseAfter = Integer.MAX_VALUE;
        harness.channel.config().setAutoRead(true);
        harness.channel.runPendingTasks();
        assertEquals(expected, harness.capture.decoded, "everything decoded once resumed, in order");
        harness.assertAllReleased();
    }

    @Test
    void shouldReleaseStalledBytesWhenClosedWhilePaused()
    {
        final Harness harness = new Harness();
        harness.capture.pauseAfter = 1;
        final byte[] stream = concat(concat(header(0, CMD_READ, 1, 0, 10), header(0, CMD_WRITE, 2, 0, 5000)),
            new byte[5000]);
        harness.feed(stream);
        assertEquals(1, harness.capture.decoded.size());
        harness.channel.close();
        harness.assertAllReleased();
    }

    @Test
    void shouldEmitZeroLengthWriteWithEmptyPayload()
    {
        final Harness harness = new Harness();
        harness.feed(concat(header(0, CMD_WRITE, 5, 10, 0), header(0, CMD_DISC, 6, 0, 0)));
        assertEquals(List.of(Decoded.of(CMD_WRITE, 0, 5, 10, 0, 0, new byte[0]),
            Decoded.of(CMD_DISC, 0, 6, 0, 0, 0, null)), harness.capture.decoded);
        harness.assertAllReleased();
    }

    // ---- harness ----------------------------------------------------------------------------------------------------

    /** One decoder on one embedded channel, remembering every buffer fed so their release can be checked. */
    private static final class Harness
    {
        final Capture capture = new Capture();
        final NbdRequestPool pool = new NbdRequestPool(request ->
        {
        }, 8);
        final EmbeddedChannel channel;
        final List<ByteBuf> inputs = new ArrayList<>();

        Harness()
        {
            capture.pool = pool;
            channel = new EmbeddedChannel(new NbdRequestDecoder(pool), capture);
            channel.config().setAllocator(PooledByteBufAllocator.DEFAULT);
        }

        void feed(final byte[] fragment)
        {
            final ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(fragment.length);
            buf.writeBytes(fragment);
            inputs.add(buf);
            if (channel.isOpen())
            {
                channel.writeInbound(buf);
            }
            else
            {
                buf.release(); // what Netty does with reads after close: there are none
            }
            channel.checkException();
        }

        void assertAllReleased()
        {
            assertFalse(channel.finish(), "nothing reached the end of the pipeline");
            for (int i = 0; i < inputs.size(); i++)
            {
                assertEquals(0, inputs.get(i).refCnt(), "input buffer " + i + " released");
            }
            for (int i = 0; i < capture.payloads.size(); i++)
            {
                final ByteBuf payload = capture.payloads.get(i);
                assertTrue(payload == Unpooled.EMPTY_BUFFER || payload.refCnt() == 0, "payload " + i + " released");
            }
        }
    }

    private static List<Decoded> decode(final List<byte[]> fragments)
    {
        final Harness harness = new Harness();
        for (final byte[] fragment : fragments)
        {
            harness.feed(fragment);
        }
        assertTrue(harness.channel.isOpen(), "a valid stream keeps the channel open");
        harness.assertAllReleased();
        return harness.capture.decoded;
    }

    // ---- streams ----------------------------------------------------------------------------------------------------

    private static Stream randomStream(final Random random, final int requests, final int maxPayload)
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final List<Decoded> expected = new ArrayList<>();
        final int[] types = {CMD_READ, CMD_WRITE, CMD_WRITE, CMD_WRITE, CMD_FLUSH, CMD_TRIM, CMD_WRITE_ZEROES,
            CMD_BLOCK_STATUS, CMD_DISC, 42, 0xffff};
        for (int i = 0; i < requests; i++)
        {
            final int type = types[random.nextInt(types.length)];
            final int flags = random.nextInt(4) == 0 ? random.nextInt(1 << 16) : 0;
            final long cookie = random.nextLong();
            final long offset = random.nextInt(3) == 0 ? random.nextLong() : random.nextInt(1 << 30);
            if (type == CMD_WRITE)
            {
                final int length = random.nextInt(8) == 0 ? random.nextInt(30) : random.nextInt(maxPayload + 1);
                final byte[] payload = new byte[length];
                random.nextBytes(payload);
                bytes.writeBytes(header(flags, type, cookie, offset, length));
                bytes.writeBytes(payload);
                expected.add(Decoded.of(type, flags, cookie, offset, length, 0, payload));
            }
            else
            {
                final long length = random.nextInt(3) == 0 ? random.nextLong() & 0xffffffffL : random.nextInt(1 << 20);
                bytes.writeBytes(header(flags, type, cookie, offset, length));
                expected.add(Decoded.of(type, flags, cookie, offset, length, 0, null));
            }
        }
        return new Stream(bytes.toByteArray(), expected);
    }

    private static byte[] header(final int flags, final int type, final long cookie, final long offset,
        final long length)
    {
        return ByteBuffer.allocate(REQUEST_HEADER_LENGTH).putInt(REQUEST_MAGIC).putShort((short)flags)
            .putShort((short)type).putLong(cookie).putLong(offset).putInt((int)length).array();
    }

    private static List<byte[]> fixedSplit(final byte[] bytes, final int size)
    {
        final List<byte[]> fragments = new ArrayList<>();
        for (int i = 0; i < bytes.length; i += size)
        {
            fragments.add(Arrays.copyOfRange(bytes, i, Math.min(bytes.length, i + size)));
        }
        return fragments;
    }

    private static List<byte[]> randomSplit(final byte[] bytes, final Random random)
    {
        final List<byte[]> fragments = new ArrayList<>();
        int i = 0;
        while (i < bytes.length)
        {
            final int size;
            switch (random.nextInt(4))
            {
                case 0:
                    size = 1 + random.nextInt(4);
                    break;
                case 1:
                    size = 1 + random.nextInt(REQUEST_HEADER_LENGTH * 2);
                    break;
                case 2:
                    size = 1 + random.nextInt(2000);
                    break;
                default:
                    size = 1 + random.nextInt(70_000);
                    break;
            }
            fragments.add(Arrays.copyOfRange(bytes, i, Math.min(bytes.length, i + size)));
            i += size;
        }
        return fragments;
    }

    private static byte[] concat(final byte[] a, final byte[] b)
    {
        final byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
