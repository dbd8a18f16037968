package io.mirra.nbd.server;

import io.mirra.nbd.spi.NbdRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.embedded.EmbeddedChannel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.concurrent.TimeUnit;

import static io.mirra.nbd.protocol.NbdProtocol.CMD_READ;
import static io.mirra.nbd.protocol.NbdProtocol.CMD_WRITE;
import static io.mirra.nbd.protocol.NbdProtocol.REQUEST_HEADER_LENGTH;
import static io.mirra.nbd.protocol.NbdProtocol.REQUEST_MAGIC;

/**
 * {@link NbdRequestDecoder} on a stream of pipelined requests: the cost per request of framing the stream, slicing
 * the write payloads out of the received buffers (zero-copy), and recycling the request objects.
 * <p>
 * The stream is fed through an {@link EmbeddedChannel} as the socket would deliver it: each piece is a separate
 * pooled direct buffer, passed as a retained duplicate (the bytes are not copied per operation) and followed by a
 * {@code channelReadComplete}. A sink handler after the decoder plays the transmission handler: it releases every
 * payload and returns every request to the {@link NbdRequestPool}. The channel uses the server's allocator
 * ({@code PooledByteBufAllocator.DEFAULT}), and the benchmark runs on a Netty thread as on an event loop
 * ({@link EventLoopThreadExecutor}).
 * <p>
 * Scores are nanoseconds per request. The setup decodes the stream once and checks the request count, the payload
 * bytes and that every slice was released; the teardown checks the releases again.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = {EventLoopThreadExecutor.JVM_ARG_EXECUTOR, EventLoopThreadExecutor.JVM_ARG_CLASS})
public class NbdRequestDecoderBenchmark
{
    private static final int KIB = 1024;
    private static final int SOCKET_READ = 64 * KIB;

    /**
     * 64 pipelined 4 KiB writes (258 KiB) arriving in a single read: every header and payload is whole.
     */
    @State(Scope.Thread)
    public static class Writes4KiBOneRead extends RequestStream
    {
        /** Builds the stream. */
        @Setup(Level.Trial)
        public void setUp()
        {
            build(64, CMD_WRITE, 4 * KIB, Integer.MAX_VALUE);
        }
    }

    /**
     * The same 64 writes in 64 KiB reads, as from a socket: headers and payloads straddle reads, so some payloads
     * become two-slice composites and some headers are reassembled.
     */
    @State(Scope.Thread)
    public static class Writes4KiB64KiBReads extends RequestStream
    {
        /** Builds the stream. */
        @Setup(Level.Trial)
        public void setUp()
        {
            build(64, CMD_WRITE, 4 * KIB, SOCKET_READ);
        }
    }

    /**
     * 8 pipelined 1 MiB writes in 64 KiB reads: each payload is a composite of 17 slices.
     */
    @State(Scope.Thread)
    public static class Writes1MiB64KiBReads extends RequestStream
    {
        /** Builds the stream. */
        @Setup(Level.Trial)
        public void setUp()
        {
            build(8, CMD_WRITE, KIB * KIB, SOCKET_READ);
        }
    }

    /**
     * 64 pipelined 4 KiB reads (headers only, 1.75 KiB) in a single read: the fixed cost per request.
     */
    @State(Scope.Thread)
    public static class Reads4KiBOneRead extends RequestStream
    {
        /** Builds the stream. */
        @Setup(Level.Trial)
        public void setUp()
        {
            build(64, CMD_READ, 4 * KIB, Integer.MAX_VALUE);
        }
    }

    /**
     * @param stream 64 writes of 4 KiB in one read.
     * @return payload bytes decoded.
     */
    @Benchmark
    @OperationsPerInvocation(64)
    public long write4KiBOneRead(final Writes4KiBOneRead stream)
    {
        return stream.decode();
    }

    /**
     * @param stream 64 writes of 4 KiB in 64 KiB reads.
     * @return payload bytes decoded.
     */
    @Benchmark
    @OperationsPerInvocation(64)
    public long write4KiB64KiBReads(final Writes4KiB64KiBReads stream)
    {
        return stream.decode();
    }

    /**
     * @param stream 8 writes of 1 MiB in 64 KiB reads.
     * @return payload bytes decoded.
     */
    @Benchmark
    @OperationsPerInvocation(8)
    public long write1MiB64KiBReads(final Writes1MiB64KiBReads stream)
    {
        return stream.decode();
    }

    /**
     * @param stream 64 reads in one read.
     * @return payload bytes decoded (0).
     */
    @Benchmark
    @OperationsPerInvocation(64)
    public long read4KiBOneRead(final Reads4KiBOneRead stream)
    {
        return stream.decode();
    }

    /**
     * A channel with the decoder and a sink, and an encoded request stream cut into socket reads.
     */
    public abstract static class RequestStream
    {
        private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
        private EmbeddedChannel channel;
        private ChannelPipeline pipeline;
        private Sink sink;
        private ByteBuf[] reads;
        private int requestCount;
        private long payloadBytes;

        /**
         * @param requests     requests in the stream.
         * @param type         command type of every request.
         * @param length       length field of every request (and payload size for writes).
         * @param maxReadBytes bytes per socket read; the last read may be shorter.
         */
        protected void build(final int requests, final int type, final int length, final int maxReadBytes)
        {
            EventLoopThreadExecutor.check(NbdRequestDecoderBenchmark.class.getSimpleName());
            requestCount = requests;
            payloadBytes = type == CMD_WRITE ? (long)requests * length : 0;
            final int total = requests * (REQUEST_HEADER_LENGTH + (type == CMD_WRITE ? length : 0));
            final ByteBuf stream = alloc.directBuffer(total, total);
            for (int i = 0; i < requests; i++)
            {
                stream.writeInt(REQUEST_MAGIC)
                    .writeShort(0)
                    .writeShort(type)
                    .writeLong(i + 1)
                    .writeLong((long)i * length)
                    .writeInt(length);
                if (type == CMD_WRITE)
                {
                    for (int b = 0; b < length; b += Long.BYTES)
                    {
                        stream.writeLong(0x0123_4567_89ab_cdefL * (i * (long)length + b + 1));
                    }
                }
            }

            reads = new ByteBuf[(total - 1) / Math.min(total, maxReadBytes) + 1];
            for (int i = 0; i < reads.length; i++)
            {
                final int size = Math.min(maxReadBytes, stream.readableBytes());
                reads[i] = alloc.directBuffer(size, size).writeBytes(stream, size);
            }
            stream.release();

            final NbdRequestPool pool = new NbdRequestPool(request -> { }, 2 * requests);
            sink = new Sink(pool);
            channel = new EmbeddedChannel();
            channel.config().setAllocator(alloc);
            channel.pipeline().addLast("nbd-requests", new NbdRequestDecoder(pool)).addLast("sink", sink);
            pipeline = channel.pipeline();

            check(decode());
        }

        /**
         * Feeds every read of the stream through the pipeline.
         *
         * @return payload bytes the sink received.
         */
        long decode()
        {
            final ChannelPipeline p = pipeline;
            for (final ByteBuf read : reads)
            {
                p.fireChannelRead(read.retainedDuplicate());
                p.fireChannelReadComplete();
            }
            return sink.drain();
        }

        private void check(final long bytes)
        {
            final int decoded = sink.requests;
            sink.requests = 0;
            if (decoded != requestCount || bytes != payloadBytes)
            {
                throw new IllegalStateException("decoded " + decoded + " requests with " + bytes +
                    " payload bytes; expected " + requestCount + " and " + payloadBytes);
            }
            checkReleased();
        }

        private void checkReleased()
        {
            for (final ByteBuf read : reads)
            {
                if (read.refCnt() != 1)
                {
                    throw new IllegalStateException("a payload slice was not released: refCnt " + read.refCnt());
                }
            }
        }

        /**
         * Checks that every slice was released, then frees the stream and the channel.
         */
        @TearDown(Level.Trial)
        public void tearDown()
        {
            checkReleased();
            for (final ByteBuf read : reads)
            {
                read.release();
            }
            channel.finishAndReleaseAll();
        }
    }

    /**
     * The end of the pipeline: releases payloads and recycles requests, like the transmission handler.
     */
    private static final class Sink extends ChannelInboundHandlerAdapter
    {
        private final NbdRequestPool pool;
        private long bytes;
        private int requests;

        Sink(final NbdRequestPool pool)
        {
            this.pool = pool;
        }

        @Override
        public void channelRead(final ChannelHandlerContext ctx, final Object msg)
        {
            final NbdRequest request = (NbdRequest)msg;
            final ByteBuf payload = request.payload();
            if (payload != null)
            {
                bytes += payload.readableBytes();
                payload.release();
            }
            requests++;
            pool.release(request);
        }

        long drain()
        {
            final long drained = bytes;
            bytes = 0;
            return drained;
        }
    }
}
