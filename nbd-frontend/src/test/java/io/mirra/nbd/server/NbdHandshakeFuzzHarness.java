package io.mirra.nbd.server;

import io.mirra.test.FuzzInput;
import io.mirra.test.TrackingAllocator;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import io.mirra.nbd.spi.ExportRegistry;
import io.mirra.nbd.spi.NbdBackend;
import io.mirra.nbd.spi.NbdExport;
import io.mirra.nbd.spi.NbdRequest;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;

import java.text.MessageFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static io.mirra.nbd.protocol.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The body of the guided fuzz test of the NBD handshake: the fuzzer's bytes, in reads it chooses, are what a client
 * sends to a new connection: client flags, options (haggling), and after NBD_OPT_GO or NBD_OPT_EXPORT_NAME the
 * transmission phase ({@link NbdRequestDecoder} and {@link NbdTransmissionHandler}, installed by the handshake
 * handler), served by a backend that completes every request at once. Whatever the bytes:
 * <ul>
 *   <li>no exception escapes, and none is swallowed either: the handlers' {@code exceptionCaught} (which log
 *       "handshake failed" / "connection failed" and close) must never be reached, bad input takes the
 *       documented paths (an error reply, or a refusal that closes the connection);</li>
 *   <li>every request that reaches the backend is valid for the export (range inside it, no write to a read-only
 *       one, a write's payload of its length, a read's buffer of its length), and the connection never stays
 *       paused (auto-read off) once the backend completed everything;</li>
 *   <li>memory stays proportional to what was received, never to a length a client announced (an option of
 *       64 KiB, a write of 32 MiB): at most {@link #MEMORY_FACTOR} times the bytes received plus
 *       {@link #MEMORY_SLACK} (room for the replies of the few reads in flight; replies are released as soon as
 *       they are written);</li>
 *   <li>nothing leaks: every read is released, every backend opened for the connection is closed once it ends, and
 *       then the allocator holds nothing.</li>
 * </ul>
 * Seeds whose name starts with {@code valid-} must reach the transmission phase and submit requests.
 */
final class NbdHandshakeFuzzHarness
{
    /** Bound on memory held at once, per byte received. */
    static final int MEMORY_FACTOR = 6;
    /** Bound on memory held at once, on top of {@link #MEMORY_FACTOR}: the read buffers of the requests in flight. */
    static final long MEMORY_SLACK = 32 * 1024;
    /** Size of both exports, so a read allocates at most this much. */
    static final int EXPORT_SIZE = 4096;
    /** In-flight requests per connection before it stops reading (the default is 256). */
    static final int MAX_IN_FLIGHT_REQUESTS = 2;
    /** Seeds named so must reach the transmission phase. */
    static final String VALID_SEED_PREFIX = "valid-";

    private NbdHandshakeFuzzHarness()
    {
    }

    /**
     * One fuzz input: the split into reads, then the client's bytes.
     *
     * @param data      the fuzzer's input.
     * @param inputName the seed's file name in regression mode (else anything).
     * @param logs      the capture of the handlers' logs.
     */
    static void handshake(final FuzzedDataProvider data, final String inputName, final SwallowedExceptions logs)
    {
        final int[] cuts = FuzzInput.readCuts(data);
        final byte[] stream = data.consumeRemainingAsBytes();

        logs.clear();
        final FuzzBackend disk = new FuzzBackend(false);
        final FuzzBackend readOnly = new FuzzBackend(true);
        final ExportRegistry exports = new ExportRegistry()
            .add(new NbdExport("disk", "a disk for fuzzing", disk))
            .add(new NbdExport("ro", "", readOnly));
        final NbdServerContext context = new NbdServerContext().maxInFlightRequests(MAX_IN_FLIGHT_REQUESTS);
        final TrackingAllocator alloc = new TrackingAllocator();
        final EmbeddedChannel channel = new EmbeddedChannel(false, false, new ReleasingSink(),
            new NbdHandshakeHandler(exports, context));
        channel.config().setAllocator(alloc);
        try
        {
            channel.register(); // the greeting goes out
        }
        catch (final Exception ex)
        {
            throw new IllegalStateException(ex);
        }
        channel.checkException();

        final List<ByteBuf> reads = new ArrayList<>();
        int at = 0;
        for (final int length : FuzzInput.reads(stream.length, cuts))
        {
            if (!channel.isOpen())
            {
                break; // a socket delivers nothing after the close
            }
            final ByteBuf read = alloc.heapBuffer(length, length).writeBytes(stream, at, length);
            reads.add(read);
            at += length;
            channel.writeInbound(read); // rethrows any exception that reached the end of the pipeline
            assertTrue(alloc.peak() <= MEMORY_FACTOR * at + MEMORY_SLACK, "held " + alloc.peak() +
                " bytes at once after receiving " + at);
        }
        assertEquals(List.of(), logs.messages(), "exceptions caught by the handlers");
        assertTrue(!channel.isOpen() || channel.config().isAutoRead(),
            "reading stays paused although the backend completed every request");
        assertEquals(List.of(), disk.violations, "invalid requests reached the backend");
        assertEquals(List.of(), readOnly.violations, "invalid requests reached the read-only backend");
        if (inputName.startsWith(VALID_SEED_PREFIX))
        {
            assertEquals(1, disk.opens + readOnly.opens, "a valid seed selects an export");
            assertTrue(disk.submitted + readOnly.submitted > 0, "a valid seed's requests reach the backend");
        }

        channel.close();
        channel.runPendingTasks();
        channel.checkException();
        assertEquals(List.of(), logs.messages(), "exceptions caught by the handlers while closing");
        assertNull(channel.readInbound(), "nothing reaches the end of the pipeline");
        channel.finishAndReleaseAll();
        assertEquals(disk.opens, disk.closes, "the disk backend is closed as often as it was opened");
        assertEquals(readOnly.opens, readOnly.closes, "the read-only backend is closed as often as it was opened");
        for (int i = 0; i < reads.size(); i++)
        {
            assertEquals(0, reads.get(i).refCnt(), "read " + i + " released");
        }
        assertEquals(0, alloc.live(), "bytes still held after the close");
    }

    /** At the head of the pipeline: what the server writes is released at once, as if sent. */
    static final class ReleasingSink extends ChannelOutboundHandlerAdapter
    {
        @Override
        public void write(final ChannelHandlerContext ctx, final Object msg, final ChannelPromise promise)
        {
            ReferenceCountUtil.release(msg);
            promise.trySuccess();
        }
    }

    /**
     * A backend of {@link #EXPORT_SIZE} bytes that completes every request at once, after checking what the
     * frontend guarantees about it (violations are recorded, not thrown, as the frontend would swallow them).
     */
    static final class FuzzBackend implements NbdBackend
    {
        final List<String> violations = new ArrayList<>();
        private final boolean readOnly;
        int opens;
        int closes;
        long submitted;

        FuzzBackend(final boolean readOnly)
        {
            this.readOnly = readOnly;
        }

        @Override
        public NbdBackend open(final String client)
        {
            opens++;
            return this;
        }

        @Override
        public void close()
        {
            closes++;
        }

        @Override
        public long sizeBytes()
        {
            return EXPORT_SIZE;
        }

        @Override
        public boolean isReadOnly()
        {
            return readOnly;
        }

        @Override
        public boolean canTrim()
        {
            return true;
        }

        @Override
        public boolean canReportExtents()
        {
            return true;
        }

        @Override
        public int preferredBlockSize()
        {
            return 512;
        }

        @Override
        public void submit(final NbdRequest request)
        {
            submitted++;
            final int type = request.type();
            final long offset = request.offsetBytes();
            final long length = request.lengthBytes();
            if (opens == closes)
            {
                violations.add(request + " submitted to a closed backend");
            }
            if (type == CMD_FLUSH ? offset != 0 || length != 0 :
                length <= 0 || offset < 0 || offset > EXPORT_SIZE || length > EXPORT_SIZE - offset)
            {
                violations.add(request + " outside the export");
            }
            if (readOnly && (type == CMD_WRITE || type == CMD_TRIM || type == CMD_WRITE_ZEROES))
            {
                violations.add(request + " on a read-only export");
            }
            if (type == CMD_WRITE && (request.payload() == null || request.payload().readableBytes() != length))
            {
                violations.add(request + " with a payload of " + (request.payload() == null ? "none" :
                    request.payload().readableBytes() + " bytes"));
            }
            if (type == CMD_READ && (request.readTarget() == null || request.readTarget().capacity() < length))
            {
                violations.add(request + " without a buffer of its length");
            }
            if (type == CMD_BLOCK_STATUS && length > 0)
            {
                request.addExtent(length, 0);
            }
            request.complete(0, null);
        }
    }

    /**
     * Captures what the NBD server's handlers log when an exception reached their {@code exceptionCaught}; also
     * keeps the expected warnings of bad input off the console while fuzzing. Closing restores the loggers.
     */
    static final class SwallowedExceptions extends Handler implements AutoCloseable
    {
        private final Logger logger = Logger.getLogger("io.mirra.nbd"); // strong reference: keeps the settings
        private final Level previousLevel = logger.getLevel();
        private final boolean previousUseParent = logger.getUseParentHandlers();
        private final List<String> messages = new ArrayList<>();

        SwallowedExceptions()
        {
            logger.setLevel(Level.WARNING);
            logger.setUseParentHandlers(false);
            logger.addHandler(this);
        }

        List<String> messages()
        {
            return messages;
        }

        void clear()
        {
            messages.clear();
        }

        @Override
        public void publish(final LogRecord record)
        {
            final String pattern = record.getMessage();
            if (record.getThrown() != null || pattern.contains("handshake failed") ||
                pattern.contains("connection failed") || pattern.contains("failed; closing"))
            {
                messages.add(MessageFormat.format(pattern, record.getParameters()) +
                    (record.getThrown() == null ? "" : " " + record.getThrown()));
            }
        }

        @Override
        public void flush()
        {
        }

        @Override
        public void close()
        {
            logger.removeHandler(this);
            logger.setUseParentHandlers(previousUseParent);
            logger.setLevel(previousLevel);
        }
    }
}
