package io.mirra.node;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.fail;

/** Helpers of the command-line tests: free ports, captured output, polling with a deadline, a test lifetime. */
final class TestSupport
{
    /** How long a condition may take to come true. */
    static final Duration DEADLINE = Duration.ofSeconds(20);

    private TestSupport()
    {
    }

    /**
     * @param count how many.
     * @return distinct loopback ports that were free a moment ago (all held open together, then released).
     */
    static int[] freePorts(final int count) throws IOException
    {
        final List<ServerSocket> sockets = new ArrayList<>();
        try
        {
            final int[] ports = new int[count];
            for (int i = 0; i < count; i++)
            {
                final ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                sockets.add(socket);
                ports[i] = socket.getLocalPort();
            }
            return ports;
        }
        finally
        {
            for (final ServerSocket socket : sockets)
            {
                socket.close();
            }
        }
    }

    /**
     * Poll until the condition holds.
     *
     * @param what      for the failure message.
     * @param condition checked every few milliseconds.
     * @param last      what to show if the deadline passes.
     */
    static void await(final String what, final Supplier<Boolean> condition, final Supplier<String> last)
    {
        final long end = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.get())
        {
            if (System.nanoTime() > end)
            {
                fail(what + " within " + DEADLINE.toSeconds() + " s; last: " + last.get());
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
    }

    /** The exit code and output of one MirraMain run. */
    record Result(int code, String out, String err)
    {
    }

    /**
     * @param args command line.
     * @return what {@link MirraMain#run} returned and printed; a server command stops as soon as it is up.
     */
    static Result run(final String... args)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final TestLifetime lifetime = new TestLifetime();
        lifetime.stop.countDown();
        final int code = MirraMain.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8), lifetime);
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** A lifetime the test ends: {@link #ready} opens once the command serves, {@link #stop} ends it. */
    static final class TestLifetime implements MirraMain.Lifetime
    {
        final CountDownLatch ready = new CountDownLatch(1);
        final CountDownLatch stop = new CountDownLatch(1);

        @Override
        public void serve(final MirraMain.Ready startUp, final Runnable close) throws InterruptedException
        {
            try
            {
                startUp.run();
                ready.countDown();
                stop.await();
            }
            finally
            {
                close.run();
            }
        }
    }
}
