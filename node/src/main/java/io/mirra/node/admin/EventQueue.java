package io.mirra.node.admin;

import io.mirra.engine.replication.StateEvent;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * The bounded queue between the engine thread that reports state changes and the thread that writes them to one
 * {@code events} subscriber. {@link #offer} never blocks (the engine must not wait for a slow client); a subscriber
 * that falls behind by more than the capacity is cut off: the queue drops its backlog and {@link #take} answers
 * {@link Item#OVERFLOW}, so the stream ends with a line saying so instead of silently skipping changes.
 */
final class EventQueue
{
    /** What {@link #take} found besides an event. */
    enum Item
    {
        /** An event is returned in {@link Taken#event()}. */
        EVENT,
        /** Nothing arrived within the wait: time for a keep-alive. */
        IDLE,
        /** More than the capacity was pending: the stream must end. */
        OVERFLOW,
        /** {@link #stop()} was called: the stream must end. */
        STOPPED
    }

    /**
     * @param item  what was taken.
     * @param event the event when {@code item} is {@link Item#EVENT}, else null.
     */
    record Taken(Item item, StateEvent event)
    {
    }

    private final int capacity;
    private final ArrayDeque<StateEvent> events = new ArrayDeque<>();
    private boolean overflowed;
    private boolean stopped;

    /**
     * @param capacity the most events that may wait; one more ends the stream.
     */
    EventQueue(final int capacity)
    {
        this.capacity = capacity;
    }

    /**
     * Queue an event; called on an engine thread, never blocks for longer than a {@link #take} needs the lock.
     *
     * @param event the event.
     */
    synchronized void offer(final StateEvent event)
    {
        if (overflowed || stopped)
        {
            return;
        }
        if (events.size() >= capacity)
        {
            overflowed = true;
            events.clear(); // the stream ends anyway: free the backlog now
        }
        else
        {
            events.addLast(event);
        }
        notifyAll();
    }

    /**
     * Wait for the next event.
     *
     * @param timeoutMs the longest wait.
     * @return the next event, or why there is none.
     * @throws InterruptedException if interrupted while waiting.
     */
    synchronized Taken take(final long timeoutMs) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (true)
        {
            if (stopped)
            {
                return new Taken(Item.STOPPED, null);
            }
            if (overflowed)
            {
                return new Taken(Item.OVERFLOW, null);
            }
            if (!events.isEmpty())
            {
                return new Taken(Item.EVENT, events.removeFirst());
            }
            final long leftNs = deadlineNs - System.nanoTime();
            if (leftNs <= 0)
            {
                return new Taken(Item.IDLE, null);
            }
            TimeUnit.NANOSECONDS.timedWait(this, leftNs);
        }
    }

    /** End the stream at the next {@link #take}, e.g. because the server closes. */
    synchronized void stop()
    {
        stopped = true;
        notifyAll();
    }
}
