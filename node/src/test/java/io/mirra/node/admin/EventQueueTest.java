package io.mirra.node.admin;

import io.mirra.engine.replication.StateEvent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

@Timeout(10)
class EventQueueTest
{
    private static StateEvent event(final int n)
    {
        return new StateEvent("change", "resource", Map.of("name", "r" + n));
    }

    @Test
    void shouldHandOutEventsInOrderAndReportIdleWhenEmpty() throws Exception
    {
        final EventQueue queue = new EventQueue(3);
        queue.offer(event(1));
        queue.offer(event(2));
        assertEquals("r1", queue.take(0).event().fields().get("name"));
        assertEquals("r2", queue.take(0).event().fields().get("name"));
        assertSame(EventQueue.Item.IDLE, queue.take(0).item());
    }

    @Test
    void shouldEndTheStreamWhenMoreThanTheCapacityIsPending() throws Exception
    {
        final EventQueue queue = new EventQueue(3);
        for (int i = 0; i < 3; i++)
        {
            queue.offer(event(i));
        }
        assertSame(EventQueue.Item.EVENT, queue.take(0).item(), "the capacity itself is allowed");
        queue.offer(event(3));
        queue.offer(event(4)); // 4 pending now: one more than the capacity
        assertSame(EventQueue.Item.OVERFLOW, queue.take(0).item());
        queue.offer(event(5));
        assertSame(EventQueue.Item.OVERFLOW, queue.take(0).item(), "an overflowed stream stays ended");
    }

    @Test
    void shouldWakeAWaitingTakerOnStop() throws Exception
    {
        final EventQueue queue = new EventQueue(3);
        final Thread stopper = new Thread(queue::stop);
        stopper.start();
        assertSame(EventQueue.Item.STOPPED, queue.take(60_000).item());
        stopper.join();
    }
}
