package io.mirra.node.admin;

import io.mirra.engine.replication.ResourceStatus;
import io.mirra.engine.replication.StateEvent;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;

/**
 * An {@link AdminOps} that records every call, answers status from fixed snapshots, refuses what a test tells it to,
 * and lets the test emit events to the current subscribers.
 */
final class FakeAdminOps implements AdminOps
{
    /** Resources by name (sorted, as the node answers). */
    final Map<String, ResourceStatus> resources = new TreeMap<>();
    /** Each operation as "op resource [arg]", in call order. */
    final List<String> calls = new CopyOnWriteArrayList<>();
    /** Operation name to the message it is refused with. */
    final Map<String, String> refusals = new ConcurrentHashMap<>();
    /** Events delivered inside subscribe(), before it returns (the initial dump). */
    final List<StateEvent> dump = new CopyOnWriteArrayList<>();
    /** The listeners of open subscriptions. */
    final List<Consumer<StateEvent>> listeners = new CopyOnWriteArrayList<>();
    /** One permit per subscribe(), released after the dump. */
    final Semaphore subscribed = new Semaphore(0);
    /** One permit per closed subscription. */
    final Semaphore unsubscribed = new Semaphore(0);
    /** Operations that entered, for tests that block one. */
    final BlockingQueue<String> entered = new LinkedBlockingQueue<>();
    /** When set, primary() waits for it (to hold a request thread). */
    volatile CountDownLatch primaryGate;

    FakeAdminOps(final List<ResourceStatus> resources)
    {
        for (final ResourceStatus resource : resources)
        {
            this.resources.put(resource.name(), resource);
        }
    }

    @Override
    public String nodeName()
    {
        return "alpha";
    }

    @Override
    public List<ResourceStatus> status(final Optional<String> resource) throws AdminException
    {
        if (resource.isPresent())
        {
            return List.of(known(resource.get()));
        }
        return new ArrayList<>(resources.values());
    }

    @Override
    public void primary(final String resource, final boolean force) throws AdminException
    {
        entered.add("primary");
        final CountDownLatch gate = primaryGate;
        if (gate != null)
        {
            try
            {
                gate.await();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
        op("primary", resource, force ? "--force" : null);
    }

    @Override
    public void secondary(final String resource) throws AdminException
    {
        op("secondary", resource, null);
    }

    @Override
    public void up(final String resource) throws AdminException
    {
        op("up", resource, null);
    }

    @Override
    public void down(final String resource) throws AdminException
    {
        op("down", resource, null);
    }

    @Override
    public void connect(final String resource, final Optional<String> peer, final boolean discardMyData)
        throws AdminException
    {
        final String arg = (peer.orElse("") + (discardMyData ? " --discard-my-data" : "")).strip();
        op("connect", resource, arg.isEmpty() ? null : arg);
    }

    @Override
    public void disconnect(final String resource, final Optional<String> peer) throws AdminException
    {
        op("disconnect", resource, peer.orElse(null));
    }

    @Override
    public void verify(final String resource, final java.util.OptionalInt volume) throws AdminException
    {
        op("verify", resource, volume.isPresent() ? String.valueOf(volume.getAsInt()) : null);
    }

    @Override
    public void newCurrentUuid(final String resource, final boolean clearBitmap) throws AdminException
    {
        op("new-current-uuid", resource, clearBitmap ? "--clear-bitmap" : null);
    }

    @Override
    public void pauseSync(final String resource, final Optional<String> peer, final boolean pause)
        throws AdminException
    {
        op(pause ? "pause-sync" : "resume-sync", resource, peer.orElse(null));
    }

    @Override
    public void attachDisk(final String resource, final java.util.OptionalInt volume, final boolean attach)
        throws AdminException
    {
        op(attach ? "attach" : "detach", resource, volume.isPresent() ? String.valueOf(volume.getAsInt()) : null);
    }

    @Override
    public void injectDiskFault(final String resource, final int volume, final int errno) throws AdminException
    {
        op("test-disk-fault", resource, volume + " " + errno);
    }

    @Override
    public String adjust(final Optional<String> resource) throws AdminException
    {
        calls.add("adjust" + resource.map((r) -> " " + r).orElse(""));
        return "applied nothing";
    }

    @Override
    public void invalidate(final String resource, final java.util.OptionalInt volume) throws AdminException
    {
        op("invalidate", resource, volume.isPresent() ? String.valueOf(volume.getAsInt()) : null);
    }

    @Override
    public AutoCloseable subscribe(final Consumer<StateEvent> listener)
    {
        for (final StateEvent event : dump)
        {
            listener.accept(event);
        }
        listeners.add(listener);
        subscribed.release();
        return () ->
        {
            if (listeners.remove(listener))
            {
                unsubscribed.release();
            }
        };
    }

    /**
     * @param event delivered to every open subscription, on the caller's thread (as an engine thread would).
     */
    void emit(final StateEvent event)
    {
        for (final Consumer<StateEvent> listener : listeners)
        {
            listener.accept(event);
        }
    }

    private void op(final String name, final String resource, final String arg) throws AdminException
    {
        known(resource);
        final String refusal = refusals.get(name);
        if (refusal != null)
        {
            throw new AdminException(refusal);
        }
        calls.add(name + " " + resource + (arg == null ? "" : " " + arg));
    }

    private ResourceStatus known(final String resource) throws AdminException
    {
        final ResourceStatus status = resources.get(resource);
        if (status == null)
        {
            throw new AdminException("unknown resource '" + resource + "'");
        }
        return status;
    }
}
