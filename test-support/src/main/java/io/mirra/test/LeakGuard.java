package io.mirra.test;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fails a test when Netty's leak detector reports a leaked buffer.
 * <p>
 * How: a {@link ResourceLeakDetectorFactory} installed before any {@code ByteBuf} class is initialised makes every
 * detector record its reports here (the JVM runs with {@code -Dio.netty.leakDetection.level=paranoid}, so every
 * buffer is tracked). After each test the guard collects garbage, waits (with a deadline) until the reference handler
 * has processed a canary cleared by that collection, then allocates one buffer, which makes the detector drain its
 * queue of collected-but-unreleased buffers, and fails the test if anything was reported.
 * <p>
 * Use with {@code @ExtendWith(LeakGuard.class)} on every test class that touches Netty buffers.
 */
public final class LeakGuard implements BeforeAllCallback, AfterEachCallback, AfterAllCallback
{
    private static final List<String> LEAKS = new CopyOnWriteArrayList<>();
    private static final AtomicBoolean BYTE_BUF_DETECTOR_INSTALLED = new AtomicBoolean();

    static
    {
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new RecordingFactory());
    }

    @Override
    public void beforeAll(final ExtensionContext context)
    {
        // Touch a buffer so AbstractByteBuf's detector exists, then check it is ours (else leaks would go unseen).
        PooledByteBufAllocator.DEFAULT.buffer(1).release();
        assertTrue(BYTE_BUF_DETECTOR_INSTALLED.get(),
            "Netty's ByteBuf leak detector was created before LeakGuard installed its factory");
        assertTrue(ResourceLeakDetector.getLevel() == ResourceLeakDetector.Level.PARANOID,
            "tests must run with -Dio.netty.leakDetection.level=paranoid, level is " + ResourceLeakDetector.getLevel());
    }

    @Override
    public void afterEach(final ExtensionContext context)
    {
        final List<String> leaks = collectLeaks();
        if (!leaks.isEmpty())
        {
            fail(leaks.size() + " Netty buffer leak(s) reported during " + context.getDisplayName() + ":\n" +
                String.join("\n", leaks));
        }
    }

    @Override
    public void afterAll(final ExtensionContext context)
    {
        afterEach(context);
    }

    /**
     * Collect garbage, let the leak detector report, and return (and forget) every leak reported so far.
     *
     * @return the leak reports, empty if none.
     */
    public static List<String> collectLeaks()
    {
        for (int round = 0; round < 2; round++)
        {
            final ReferenceQueue<Object> queue = new ReferenceQueue<>();
            final WeakReference<Object> canary = new WeakReference<>(new Object(), queue);
            System.gc();
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            try
            {
                while (queue.remove(50) == null && System.nanoTime() < deadline)
                {
                    System.gc();
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                break;
            }
            Reference.reachabilityFence(canary); // the canary must stay reachable to be enqueued
            // In paranoid mode every allocation drains the detector's queue and reports what was collected unreleased.
            final ByteBuf probe = PooledByteBufAllocator.DEFAULT.directBuffer(1);
            probe.release();
        }
        final List<String> leaks = new ArrayList<>(LEAKS);
        LEAKS.removeAll(leaks);
        return leaks;
    }

    private static final class RecordingFactory extends ResourceLeakDetectorFactory
    {
        @Override
        @SuppressWarnings("deprecation") // abstract in Netty: must be implemented
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(final Class<T> resource, final int samplingInterval,
            final long maxActive)
        {
            return newResourceLeakDetector(resource, samplingInterval);
        }

        @Override
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(final Class<T> resource, final int samplingInterval)
        {
            if (resource == ByteBuf.class)
            {
                BYTE_BUF_DETECTOR_INSTALLED.set(true);
            }
            return new RecordingDetector<>(resource, samplingInterval);
        }
    }

    private static final class RecordingDetector<T> extends ResourceLeakDetector<T>
    {
        RecordingDetector(final Class<?> resource, final int samplingInterval)
        {
            super(resource, samplingInterval);
        }

        @Override
        protected boolean needReport()
        {
            return true; // report even if Netty's logger is quiet
        }

        @Override
        protected void reportTracedLeak(final String resourceType, final String records)
        {
            LEAKS.add("LEAK of " + resourceType + ":" + records);
            super.reportTracedLeak(resourceType, records);
        }

        @Override
        protected void reportUntracedLeak(final String resourceType)
        {
            LEAKS.add("LEAK of " + resourceType + " (untraced)");
            super.reportUntracedLeak(resourceType);
        }
    }
}
