package io.mirra.nbd.server;

import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;

import java.util.concurrent.TimeUnit;

/**
 * Allocating and releasing one direct buffer of a read target's size (4 KiB, 1 MiB), on one thread: the pooled
 * allocator {@link NbdServer} installs on its channels against the alternatives.
 * <ul>
 * <li>{@code pooled}: {@code PooledByteBufAllocator.DEFAULT}, what the server uses.</li>
 * <li>{@code unpooled}: {@code UnpooledByteBufAllocator.DEFAULT} (memory from the OS each time).</li>
 * <li>{@code adaptive}: {@code AdaptiveByteBufAllocator}, Netty 4.2's default allocator.</li>
 * </ul>
 * The benchmark thread is a Netty thread, as the event loops that allocate and release the server's buffers
 * ({@link EventLoopThreadExecutor}): the pooled allocator uses its thread cache there (up to 32 KiB buffers by
 * default), the adaptive one its thread-local magazines.
 * The buffer is not written: the score is the allocator's own cost (plus, for unpooled buffers, what the JDK does to
 * create a direct buffer with the project's JVM flags).
 * <p>
 * Expect pooled 1 MiB to be slow: with the default 4 MiB chunks ({@code io.netty.allocator.maxOrder=9}) a lone
 * 1 MiB buffer fills a new chunk to exactly 25%, which moves it out of the chunk list that keeps empty chunks, so
 * the release frees the chunk and the next allocation creates (and, without Netty's reflective direct-buffer access,
 * zeroes) a new 4 MiB one. {@code -Dio.netty.allocator.maxOrder=10} (8 MiB chunks) avoids it; so does any other
 * buffer keeping the chunk in use, as on a busy server.
 */
@State(Scope.Thread)
@Threads(1)
@Fork(jvmArgsAppend = {EventLoopThreadExecutor.JVM_ARG_EXECUTOR, EventLoopThreadExecutor.JVM_ARG_CLASS})
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ByteBufAllocatorBenchmark
{
    /** Which allocator. */
    @Param({"pooled", "unpooled", "adaptive"})
    public String allocator;

    /** Buffer size in bytes. */
    @Param({"4096", "1048576"})
    public int size;

    private ByteBufAllocator alloc;

    /**
     * Picks the allocator.
     */
    @Setup(Level.Trial)
    public void setUp()
    {
        EventLoopThreadExecutor.check(ByteBufAllocatorBenchmark.class.getSimpleName());
        switch (allocator)
        {
            case "pooled":
                alloc = PooledByteBufAllocator.DEFAULT;
                break;
            case "unpooled":
                alloc = UnpooledByteBufAllocator.DEFAULT;
                break;
            case "adaptive":
                alloc = new AdaptiveByteBufAllocator();
                break;
            default:
                throw new IllegalArgumentException("unknown allocator: " + allocator);
        }
    }

    /**
     * Allocates a direct buffer and releases it.
     *
     * @return the buffer's capacity.
     */
    @Benchmark
    public int allocateAndRelease()
    {
        final ByteBuf buffer = alloc.directBuffer(size, size);
        final int capacity = buffer.capacity();
        buffer.release();
        return capacity;
    }
}
