package io.mirra.test;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The leak check itself: a buffer dropped without release must be reported, or every other test's
 * "no leak" would mean nothing.
 */
@Timeout(60)
@ExtendWith(LeakGuard.class)
class LeakGuardTest
{
    @Test
    void shouldReportABufferDroppedWithoutRelease()
    {
        assertTrue(LeakGuard.collectLeaks().isEmpty(), "no leak before the test");
        leakOne();
        final List<String> leaks = LeakGuard.collectLeaks(); // also forgets them, so the guard passes this test
        assertEquals(1, leaks.size(), "the dropped buffer is reported: " + leaks);
        assertTrue(leaks.get(0).contains("leakOne"), "the report says where the buffer was touched");
    }

    @Test
    void shouldNotReportReleasedBuffers()
    {
        for (int i = 0; i < 100; i++)
        {
            final ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(100);
            buf.writeLong(i);
            buf.release();
        }
        assertTrue(LeakGuard.collectLeaks().isEmpty(), "released buffers are not leaks");
    }

    private static void leakOne()
    {
        final ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(64);
        buf.writeInt(42); // recorded access, with this method on the stack
    }
}
