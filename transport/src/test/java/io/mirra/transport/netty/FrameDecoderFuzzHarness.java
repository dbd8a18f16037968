package io.mirra.transport.netty;

import io.mirra.test.FuzzInput;
import io.mirra.test.TrackingAllocator;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

import static io.mirra.transport.protocol.ReplicationProtocol.PROTOCOL_VERSION;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The body of the guided fuzz tests of the replication decoder: the fuzzer's bytes, split into reads the fuzzer
 * also chooses, go through a {@link FrameDecoder} on an {@link EmbeddedChannel}, and whatever the bytes:
 * <ul>
 *   <li>no exception escapes: bad input takes the documented path, a {@link FrameDecodingException} fired once as a
 *       user event and a closed channel ({@link FrameStreamCheck#assertConsistentOutcome});</li>
 *   <li>every emitted frame is exactly the next bytes of the stream and valid for the stream
 *       ({@link FrameStreamCheck#check});</li>
 *   <li>memory stays proportional to what was received, never to what a header announced: after every read the
 *       most the allocator ever held is at most {@link #MEMORY_FACTOR} times the bytes received plus
 *       {@link #MEMORY_SLACK} (a 1 MiB body announced in 30 bytes would break that);</li>
 *   <li>nothing leaks: every read is released, and once the channel is closed the allocator holds nothing;</li>
 *   <li>no hang: the work is synchronous, and the fuzz tests' {@code @Timeout} is Jazzer's per-input timeout.</li>
 * </ul>
 * Seeds whose name starts with {@code valid-} must moreover decode completely, without a failure.
 */
final class FrameDecoderFuzzHarness
{
    /** Bound on memory held at once, per byte received (copies of bodies grow by doubling). */
    static final int MEMORY_FACTOR = 6;
    /** Bound on memory held at once, on top of {@link #MEMORY_FACTOR}. */
    static final long MEMORY_SLACK = 4096;
    /** Seeds named so must decode completely. */
    static final String VALID_SEED_PREFIX = "valid-";

    private FrameDecoderFuzzHarness()
    {
    }

    /**
     * Decode one fuzz input after the handshake, on one stream kind.
     *
     * @param data       the fuzzer's input.
     * @param streamKind {@code STREAM_DATA} or {@code STREAM_CONTROL}.
     * @param inputName  the seed's file name in regression mode (else anything).
     */
    static void decodeStream(final FuzzedDataProvider data, final int streamKind, final String inputName)
    {
        final int[] cuts = FuzzInput.readCuts(data);
        final byte[] stream = data.consumeRemainingAsBytes();

        final TrackingAllocator alloc = new TrackingAllocator();
        final FrameDecoder decoder = new FrameDecoder();
        decoder.handshakeCompleted(PROTOCOL_VERSION, streamKind);
        final FrameStreamCheck check = new FrameStreamCheck(stream, decoder);
        final EmbeddedChannel channel = new EmbeddedChannel(decoder, new FrameStreamCheck.Sink(check, streamKind));
        channel.config().setAllocator(alloc);

        final List<ByteBuf> reads = feed(channel, alloc, stream, cuts);
        check.assertConsistentOutcome(channel.isOpen());
        if (inputName.startsWith(VALID_SEED_PREFIX))
        {
            assertNull(decoder.failure(), "a valid seed failed");
            assertEquals(stream.length, check.consumed(), "a valid seed decodes completely");
            assertTrue(check.frames() > 0);
        }
        closeAndAssertAllReleased(channel, alloc, reads);
    }

    /**
     * Feed the stream in reads of the fuzzer's sizes, until the channel closes (a socket delivers nothing after
     * that). After each read: no exception, and memory within bounds.
     *
     * @return the reads delivered, to check their release.
     */
    static List<ByteBuf> feed(final EmbeddedChannel channel, final TrackingAllocator alloc, final byte[] stream,
        final int[] cuts)
    {
        final List<ByteBuf> reads = new ArrayList<>();
        int at = 0;
        for (final int length : FuzzInput.reads(stream.length, cuts))
        {
            if (!channel.isOpen())
            {
                break;
            }
            final ByteBuf read = alloc.heapBuffer(length, length).writeBytes(stream, at, length);
            reads.add(read);
            at += length;
            channel.writeInbound(read); // rethrows any exception the pipeline saw
            assertMemoryBound(alloc, at);
        }
        return reads;
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

    /** Close, then nothing may be left: no message, every read released, nothing held by the allocator. */
    static void closeAndAssertAllReleased(final EmbeddedChannel channel, final TrackingAllocator alloc,
        final List<ByteBuf> reads)
    {
        channel.close();
        channel.runPendingTasks();
        channel.checkException();
        final Object leftover = channel.readInbound();
        assertNull(leftover, "nothing reaches the end of the pipeline");
        channel.finishAndReleaseAll();
        for (int i = 0; i < reads.size(); i++)
        {
            assertEquals(0, reads.get(i).refCnt(), "read " + i + " released");
        }
        assertEquals(0, alloc.live(), "bytes still held after the close");
    }

    /** Mutes the mirra loggers while fuzzing (every bad input logs a warning); restores them when closed. */
    static final class QuietLogs implements AutoCloseable
    {
        private final Logger logger = Logger.getLogger("io.mirra"); // strong reference: keeps the level set
        private final Level previous = logger.getLevel();

        QuietLogs()
        {
            logger.setLevel(Level.OFF);
        }

        @Override
        public void close()
        {
            logger.setLevel(previous);
        }
    }
}
