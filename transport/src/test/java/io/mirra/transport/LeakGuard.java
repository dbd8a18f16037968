package io.mirra.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fails a test when Netty's paranoid leak detector reports a buffer that was garbage collected without being
 * released (a decoded frame, a body slice, an encoded header). Registered for every test class by extension
 * auto-detection (src/test/resources), so that its factory is installed before the first buffer is created. The same
 * technique as system-tests' NettyLeakGuard (test classes are not shared between modules).
 */
public final class LeakGuard implements BeforeAllCallback, AfterEachCallback
{
    private static final List<String> LEAKS = new CopyOnWriteArrayList<>();

    static
    {
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new ResourceLeakDetectorFactory()
        {
            @Override
            @SuppressWarnings("deprecation")
            public <T> ResourceLeakDetector<T> newResourceLeakDetector(final Class<T> resource,
                final int samplingInterval, final long maxActive)
            {
                return newResourceLeakDetector(resource, samplingInterval);
            }

            @Override
            public <T> ResourceLeakDetector<T> newResourceLeakDetector(final Class<T> resource,
                final int samplingInterval)
            {
                return new ResourceLeakDetector<>(resource, samplingInterval)
                {
                    @Override
                    protected boolean needReport()
                    {
                        return true;
                    }

                    @Override
                    protected void reportTracedLeak(final String resourceType, final String records)
                    {
                        LEAKS.add("LEAK of " + resourceType + ":" + records);
                    }

                    @Override
                    protected void reportUntracedLeak(final String resourceType)
                    {
                        LEAKS.add("LEAK of " + resourceType + " (untraced)");
                    }
                };
            }
        });
    }

    @Override
    public void beforeAll(final ExtensionContext context)
    {
        assertEquals(ResourceLeakDetector.Level.PARANOID, ResourceLeakDetector.getLevel(),
            "transport tests run with -Dio.netty.leakDetection.level=paranoid (the parent pom's test.jvm.flags)");
    }

    @Override
    public void afterEach(final ExtensionContext context) throws InterruptedException
    {
        for (int round = 0; round < 2; round++)
        {
            // Collect garbage until the reference handler has processed a canary, then allocate: in paranoid mode
            // every allocation drains the detector's queue of buffers collected without a release.
            final ReferenceQueue<Object> queue = new ReferenceQueue<>();
            final WeakReference<Object> canary = new WeakReference<>(new Object(), queue);
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            do
            {
                System.gc();
            }
            while (queue.remove(50) == null && System.nanoTime() < deadline);
            Reference.reachabilityFence(canary);
            final ByteBuf probe = PooledByteBufAllocator.DEFAULT.directBuffer(1);
            probe.release();
        }
        final List<String> leaks = new ArrayList<>(LEAKS);
        LEAKS.removeAll(leaks);
        if (!leaks.isEmpty())
        {
            fail(leaks.size() + " Netty buffer leak(s) reported during " + context.getDisplayName() + ":\n" +
                String.join("\n", leaks));
        }
    }
}
