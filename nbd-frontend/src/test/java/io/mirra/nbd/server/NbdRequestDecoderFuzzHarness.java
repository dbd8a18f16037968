package io.mirra.nbd.server;

import io.mirra.test.FuzzInput;
import io.mirra.test.TrackingAllocator;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import io.mirra.nbd.spi.NbdRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static io.mirra.nbd.protocol.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The body of the guided fuzz test of {@link NbdRequestDecoder}: the fuzzer's bytes, in reads it chooses, go through
 * the decoder on an {@link EmbeddedChannel}, with a consumer that (as the fuzzer chooses) turns auto-read off after
 * every n-th request, like the transmission handler at its in-flight limit, and back on after some more reads.
 * At the end the consumer catches up, or the connection closes as it is (maybe paused with bytes stalled), or
 * reading resumes and the connection closes before the decoder got to it. Whatever the bytes:
 * <ul>
 *   <li>no exception escapes; the only way to give up is the documented one, a closed channel, and only at a
 *       request header with a bad magic;</li>
 *   <li>every request is exactly the next header of the stream, a write's payload exactly the bytes after it, an
 *       oversized write (above 32 MiB) is skipped without being stored and failed with EOVERFLOW; no request is
 *       decoded while auto-read is off, and none is kept back once the consumer caught up;</li>
 *   <li>memory stays proportional to what was received, never to a write length announced in a header: the most
 *       the allocator ever held is at most {@link #MEMORY_FACTOR} times the bytes received plus
 *       {@link #MEMORY_SLACK};</li>
 *   <li>nothing leaks: every read and payload is released, and once closed the allocator holds nothing;</li>
 *   <li>no hang: the work is synchronous, and the fuzz test's {@code @Timeout} is Jazzer's per-input timeout.</li>
 * </ul>
 * Seeds whose name starts with {@code valid-} must decode completely.
 */
final class NbdRequestDecoderFuzzHarness
{
    /** Bound on memory held at once, per byte received (copies of payloads grow by doubling). */
    static final int MEMORY_FACTOR = 6;
    /** Bound on memory held at once, on top of {@link #MEMORY_FACTOR}. */
    static final long MEMORY_SLACK = 4096;
    /** Seeds named so must decode completely. */
    static final String VALID_SEED_PREFIX = "valid-";
    /** Largest "pause after every n requests" the fuzzer can choose (0: never pause). */
    static final int MAX_PAUSE_EVERY = 15;
    /** Most reads delivered while paused before reading resumes. */
    static final int MAX_RESUME_AFTER = 3;
    /** The fuzzer's last choice: the consumer catches up (resumes until everything is decoded), then closes. */
    static final int CATCH_UP_THEN_CLOSE = 0;
    /** The fuzzer's last choice: the connection closes as it is (maybe paused, with bytes stalled). */
    static final int CLOSE_AS_IS = 1;
    /** The fuzzer's last choice: reading resumes, and the connection closes before the decoder got to it. */
    static final int RESUME_AND_CLOSE_AT_ONCE = 2;

    private NbdRequestDecoderFuzzHarness()
    {
    }

    /**
     * One fuzz input: when to pause and resume, how the connection ends, the split into reads, then the stream.
     *
     * @param data      the fuzzer's input.
     * @param inputName the seed's file name in regression mode (else anything).
     */
    static void decode(final FuzzedDataProvider data, final String inputName)
    {
        final int pauseEvery = data.consumeInt(0, MAX_PAUSE_EVERY);
        final int resumeAfter = data.consumeInt(0, MAX_RESUME_AFTER);
        final int ending = data.consumeInt(CATCH_UP_THEN_CLOSE, RESUME_AND_CLOSE_AT_ONCE);
        final int[] cuts = FuzzInput.readCuts(data);
        final byte[] stream = data.consumeRemainingAsBytes();

        final TrackingAllocator alloc = new TrackingAllocator();
        final NbdRequestPool pool = new NbdRequestPool(request ->
        {
        }, 8);
        final RequestCheck check = new RequestCheck(stream, pool, pauseEvery);
        final EmbeddedChannel channel = new EmbeddedChannel(new NbdRequestDecoder(pool), check);
        channel.config().setAllocator(alloc);

        final List<ByteBuf> reads = new ArrayList<>();
        int at = 0;
        int readsWhilePaused = 0;
        for (final int length : FuzzInput.reads(stream.length, cuts))
        {
            if (!channel.isOpen())
            {
                break; // a socket delivers nothing after the close
            }
            final ByteBuf read = alloc.heapBuffer(length, length).writeBytes(stream, at, length);
            reads.add(read);
            at += length;
            channel.writeInbound(read); // rethrows any exception the pipeline saw
            if (!channel.config().isAutoRead() && ++readsWhilePaused > resumeAfter)
            {
                readsWhilePaused = 0;
                resume(channel);
            }
            assertMemoryBound(alloc, at);
        }
        if (ending == CATCH_UP_THEN_CLOSE)
        {
            // Resume until everything received is decoded (the consumer may pause again on the way).
            for (int round = 0; channel.isOpen() && !channel.config().isAutoRead(); round++)
            {
                assertTrue(round <= stream.length / REQUEST_HEADER_LENGTH + 1, "resuming makes no progress");
                resume(channel);
            }
            assertMemoryBound(alloc, at);
            check.assertOutcome(channel.isOpen());
            if (inputName.startsWith(VALID_SEED_PREFIX))
            {
                assertTrue(channel.isOpen(), "a valid seed keeps the connection open");
                assertEquals(stream.length, check.consumed, "a valid seed decodes completely");
                assertTrue(check.requests > 0);
            }
        }
        else if (ending == RESUME_AND_CLOSE_AT_ONCE && channel.isOpen())
        {
            channel.config().setAutoRead(true); // schedules the resumption, which runs only after the close
        }

        channel.close();
        channel.runPendingTasks();
        channel.checkException();
        assertNull(channel.readInbound(), "nothing reaches the end of the pipeline");
        channel.finishAndReleaseAll();
        for (int i = 0; i < reads.size(); i++)
        {
            assertEquals(0, reads.get(i).refCnt(), "read " + i + " released");
        }
        assertEquals(0, alloc.live(), "bytes still held after the close");
    }

    private static void resume(final EmbeddedChannel channel)
    {
        channel.config().setAutoRead(true); // calls read(): the decoder resumes from its stalled bytes, later
        channel.runPendingTasks();
        channel.checkException();
    }

    /**
     * @param alloc    the channel's allocator.
     * @param received bytes received so far.
     */
    static void assertMemoryBound(final TrackingAllocator alloc, final long received)
    {
        assertTrue(alloc.peak() <= MEMORY_FACTOR * received + MEMORY_SLACK, "held " + alloc.peak() +
            " bytes at once after receiving " + received);
    }

    /** The consumer: checks each request against the stream, releases it, and pauses as told. */
    static final class RequestCheck extends ChannelInboundHandlerAdapter
    {
        private final byte[] stream;
        private final ByteBuffer view;
        private final NbdRequestPool pool;
        private final int pauseEvery;
        int consumed;
        long requests;

        RequestCheck(final byte[] stream, final NbdRequestPool pool, final int pauseEvery)
        {
            this.stream = stream;
            this.view = ByteBuffer.wrap(stream); // big-endian, as NBD
            this.pool = pool;
            this.pauseEvery = pauseEvery;
        }

        @Override
        public void channelRead(final ChannelHandlerContext ctx, final Object msg)
        {
            final NbdRequest request = (NbdRequest)msg;
            try
            {
                check(ctx, request);
            }
            finally
            {
                if (request.payload() != null)
                {
                    request.payload().release();
                    request.payload(null);
                }
                pool.release(request);
            }
            if (pauseEvery > 0 && requests % pauseEvery == 0)
            {
                ctx.channel().config().setAutoRead(false);
            }
        }

        private void check(final ChannelHandlerContext ctx, final NbdRequest request)
        {
            requests++;
            assertTrue(ctx.channel().config().isAutoRead(), "a request decoded while auto-read is off");
            assertTrue(consumed + REQUEST_HEADER_LENGTH <= stream.length, "a request past the bytes received");
            assertEquals(REQUEST_MAGIC, view.getInt(consumed), "request magic");
            assertEquals(view.getShort(consumed + 4) & 0xFFFF, request.flags(), "flags");
            assertEquals(view.getShort(consumed + 6) & 0xFFFF, request.type(), "type");
            assertEquals(view.getLong(consumed + 8), request.cookie(), "cookie");
            assertEquals(view.getLong(consumed + 16), request.offsetBytes(), "offset");
            final long length = Integer.toUnsignedLong(view.getInt(consumed + 24));
            assertEquals(length, request.lengthBytes(), "length");
            consumed += REQUEST_HEADER_LENGTH;
            if (request.type() != CMD_WRITE)
            {
                assertNull(request.payload(), "payload of a " + commandName(request.type()));
                assertEquals(0, request.errno());
                return;
            }
            assertTrue(consumed + length <= stream.length, "a write whose payload was not all received");
            if (length > MAX_PAYLOAD_LENGTH)
            {
                assertEquals(EOVERFLOW, request.errno(), "oversized write");
                assertNull(request.payload(), "an oversized payload is not kept");
            }
            else
            {
                assertEquals(0, request.errno());
                final ByteBuf payload = request.payload();
                assertNotNull(payload, "write payload");
                assertTrue(ByteBufUtil.equals(payload, payload.readerIndex(), Unpooled.wrappedBuffer(stream),
                    consumed, (int)length) && payload.readableBytes() == length, "payload differs from the one sent");
            }
            consumed += (int)length;
        }

        /**
         * The end: closed only at a bad magic; open with at most one incomplete request left.
         *
         * @param open whether the channel is open.
         */
        void assertOutcome(final boolean open)
        {
            final int left = stream.length - consumed;
            if (!open)
            {
                assertTrue(left >= REQUEST_HEADER_LENGTH && view.getInt(consumed) != REQUEST_MAGIC,
                    "closed although the next request header is fine or incomplete");
                return;
            }
            if (left >= REQUEST_HEADER_LENGTH)
            {
                assertEquals(REQUEST_MAGIC, view.getInt(consumed), "open after a bad magic");
                final int type = view.getShort(consumed + 6) & 0xFFFF;
                final long length = Integer.toUnsignedLong(view.getInt(consumed + 24));
                assertTrue(type == CMD_WRITE && length > left - REQUEST_HEADER_LENGTH, "a complete " +
                    commandName(type) + " request was received but not decoded (" + left + " bytes left)");
            }
        }
    }
}
