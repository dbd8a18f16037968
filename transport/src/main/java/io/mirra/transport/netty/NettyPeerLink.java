package io.mirra.transport.netty;

import io.mirra.transport.FrameHandler;
import io.mirra.transport.PeerLink;
import io.mirra.transport.StreamKind;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;

import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static io.mirra.transport.protocol.ReplicationProtocol.*;

/**
 * A {@link PeerLink} over two Netty channels. All state changes happen on the transport's single event loop; the
 * fields other threads read ({@link #state()}, the current channels, the counters and reasons) are volatile.
 * <p>
 * A <i>session</i> is one pair of streams: on the dialing side the two channels of one connection attempt, on the
 * accepting side the latest authenticated channel of each kind. Any close of a session's channel tears the whole
 * session down ({@link #tearDown}); events of channels that no longer belong to the session are ignored. Frames that
 * arrive on an authenticated stream before its partner is authenticated are held (and that stream's reading paused)
 * until the link is UP, so the handler sees {@link FrameHandler#onLinkUp} before any frame.
 */
final class NettyPeerLink implements PeerLink
{
    private static final System.Logger LOG = System.getLogger(NettyPeerLink.class.getName());
    private static final ThreadLocal<OutboundFrames> FRAMES = ThreadLocal.withInitial(OutboundFrames::new);

    private final NettyPeerTransport transport;
    private final FrameHandler handler;
    private final String peerName;
    private final boolean dialer;
    private final EventLoop loop;
    private final ReconnectPolicy policy;
    private final Random jitter;

    private volatile State state = State.DOWN;
    private volatile Channel data;
    private volatile Channel control;
    private volatile int agreedVersion;
    private volatile long agreedFeatures;
    private volatile String lastRefusal;
    private volatile String lastDownReason;
    private volatile long connectAttempts;
    private volatile long refusals;

    // Event loop only.
    private final boolean[] paused = new boolean[StreamKind.values().length];
    private final ArrayDeque<Frame> held = new ArrayDeque<>();
    private InetSocketAddress remote;
    private Channel pendingData;
    private Channel pendingControl;
    private boolean attemptRefused;
    private String sessionFailure;
    private long nextDelayNs;
    private ScheduledFuture<?> retry;
    /** While UP: the periodic check for a silent peer, and when the peer was last heard (any frame). */
    private ScheduledFuture<?> keepalive;
    private long lastHeardNs;
    private long pingId;
    private boolean shutDown;
    /** The operator disconnected the link: no dialing, accepted streams are closed (DRBD's StandAlone). */
    private volatile boolean disabled;

    NettyPeerLink(
        final NettyPeerTransport transport,
        final FrameHandler handler,
        final String peerName,
        final boolean dialer,
        final EventLoop loop,
        final ReconnectPolicy policy,
        final Random jitter)
    {
        this.transport = transport;
        this.handler = handler;
        this.peerName = peerName;
        this.dialer = dialer;
        this.loop = loop;
        this.policy = policy;
        this.jitter = jitter;
        this.nextDelayNs = policy.initialDelayNs();
    }

    // ---------------------------------------------------------------- PeerLink

    @Override
    public String peerName()
    {
        return peerName;
    }

    @Override
    public State state()
    {
        return state;
    }

    @Override
    public int agreedVersion()
    {
        return agreedVersion;
    }

    @Override
    public long agreedFeatures()
    {
        return agreedFeatures;
    }

    @Override
    public String lastRefusal()
    {
        return lastRefusal;
    }

    @Override
    public String lastDownReason()
    {
        return lastDownReason;
    }

    @Override
    public long connectAttempts()
    {
        return connectAttempts;
    }

    @Override
    public long refusals()
    {
        return refusals;
    }

    /** @return true when this side dials the peer (by the dialing rule), false when it only accepts. */
    boolean isDialer()
    {
        return dialer;
    }

    @Override
    public boolean send(final StreamKind stream, final Frame frame)
    {
        final Channel ch = upChannel(stream);
        if (ch == null)
        {
            frame.release();
            return false;
        }
        ch.writeAndFlush(frame, ch.voidPromise());
        return true;
    }

    @Override
    public boolean sendWrite(
        final int volume,
        final long writeSequence,
        final long byteOffset,
        final long epoch,
        final int writeFlags,
        final ByteBuf data)
    {
        final Channel ch = upChannel(StreamKind.DATA);
        if (ch == null)
        {
            data.release();
            return false;
        }
        ch.writeAndFlush(FRAMES.get().write(ch.alloc(), volume, writeSequence, byteOffset, epoch, writeFlags, data),
            ch.voidPromise());
        return true;
    }

    @Override
    public boolean sendWriteAck(final int volume, final long writeSequence, final int status, final int ackFlags)
    {
        final Channel ch = upChannel(StreamKind.CONTROL);
        if (ch == null)
        {
            return false;
        }
        ch.writeAndFlush(FRAMES.get().writeAck(ch.alloc(), volume, writeSequence, status, ackFlags),
            ch.voidPromise());
        return true;
    }

    @Override
    public boolean sendPing(final int type, final long pingId, final long sendTimeNs)
    {
        final Channel ch = upChannel(StreamKind.CONTROL);
        if (ch == null)
        {
            return false;
        }
        ch.writeAndFlush(FRAMES.get().ping(ch.alloc(), type, pingId, sendTimeNs), ch.voidPromise());
        return true;
    }

    @Override
    public boolean isWritable(final StreamKind stream)
    {
        final Channel ch = upChannel(stream);
        return ch != null && ch.isWritable();
    }

    @Override
    public void setEnabled(final boolean enabled)
    {
        if (loop.isShuttingDown())
        {
            return;
        }
        loop.execute(() ->
        {
            if (enabled != disabled)
            {
                return;
            }
            disabled = !enabled;
            if (disabled)
            {
                if (retry != null)
                {
                    retry.cancel(false);
                    retry = null;
                }
                sessionFailure = null;
                tearDown("disconnected by the operator");
            }
            else if (dialer && remote != null && !shutDown)
            {
                nextDelayNs = policy.initialDelayNs();
                attempt();
            }
        });
    }

    @Override
    public boolean isEnabled()
    {
        return !disabled;
    }

    @Override
    public void setReceiving(final StreamKind stream, final boolean receiving)
    {
        if (loop.isShuttingDown())
        {
            return;
        }
        loop.execute(() ->
        {
            paused[stream.ordinal()] = !receiving;
            final Channel ch = current(stream);
            if (state == State.UP && ch != null)
            {
                ch.config().setAutoRead(receiving);
            }
        });
    }

    @Override
    public String toString()
    {
        return "PeerLink{" + transport.nodeName() + "->" + peerName + ", " + state +
            (lastRefusal == null ? "" : ", lastRefusal=" + lastRefusal) + '}';
    }

    private Channel upChannel(final StreamKind stream)
    {
        return state == State.UP ? current(stream) : null;
    }

    private Channel current(final StreamKind stream)
    {
        return stream == StreamKind.DATA ? data : control;
    }

    private void setCurrent(final StreamKind stream, final Channel ch)
    {
        if (stream == StreamKind.DATA)
        {
            data = ch;
        }
        else
        {
            control = ch;
        }
    }

    /** Test hook: the current channel of a stream, or null. */
    Channel channel(final StreamKind stream)
    {
        return current(stream);
    }

    // ---------------------------------------------------------------- event loop

    /** Dial the peer at this address (now, unless an attempt or a retry is already under way). Event loop. */
    void dial(final InetSocketAddress address)
    {
        remote = address;
        if (shutDown || disabled || retry != null || pendingData != null || pendingControl != null || data != null ||
            control != null)
        {
            return;
        }
        attempt();
    }

    private void attempt()
    {
        retry = null;
        if (shutDown || disabled)
        {
            return;
        }
        attemptRefused = false;
        sessionFailure = null;
        state = State.CONNECTING;
        connectAttempts++;
        LOG.log(Level.DEBUG, "{0}: connecting to peer {1} at {2} (attempt {3})", transport.nodeName(), peerName,
            remote, connectAttempts);
        transport.openStream(this, StreamKind.DATA, remote);
        if (pendingData == null)
        {
            return; // failed at once and already torn down
        }
        transport.openStream(this, StreamKind.CONTROL, remote);
    }

    /** The channel of a stream being dialled, before it can close. Event loop. */
    void setPending(final StreamKind stream, final Channel ch)
    {
        if (stream == StreamKind.DATA)
        {
            pendingData = ch;
        }
        else
        {
            pendingControl = ch;
        }
    }

    /** Remember the first failure of a dialing attempt: the reason the link stays down. Event loop. */
    void onConnectFailed(final Channel ch, final Throwable cause)
    {
        if (ch == pendingData || ch == pendingControl)
        {
            if (sessionFailure == null)
            {
                sessionFailure = "cannot connect to " + remote + ": " + cause;
            }
        }
    }

    /** A framing error on a stream of this link (the decoder is closing it): the reason the link goes down. */
    void onStreamError(final Channel ch, final String message)
    {
        if ((ch == data || ch == control) && sessionFailure == null)
        {
            sessionFailure = (ch == data ? StreamKind.DATA : StreamKind.CONTROL) + " stream: " + message;
        }
    }

    /**
     * Called when the channel this link was just set on (pending) closes: when it belongs to the session, end it.
     * Event loop.
     */
    void onStreamClosed(final Channel ch, final StreamKind stream)
    {
        if (ch == data || ch == control || ch == pendingData || ch == pendingControl)
        {
            tearDown(stream + " stream closed");
        }
    }

    /** A stream of this link completed its handshake. Event loop. */
    void onStreamAuthenticated(final Channel ch, final StreamKind stream, final PeerHandshakeCompleted completed)
    {
        if (shutDown || disabled)
        {
            ch.close();
            return;
        }
        if (dialer)
        {
            final Channel pending = stream == StreamKind.DATA ? pendingData : pendingControl;
            if (ch != pending)
            {
                ch.close();
                return;
            }
            if (stream == StreamKind.DATA)
            {
                pendingData = null;
            }
            else
            {
                pendingControl = null;
            }
        }
        else
        {
            if (current(stream) != null)
            {
                tearDown("peer " + peerName + " opened a new " + stream + " stream");
            }
            ch.closeFuture().addListener(f -> onStreamClosed(ch, stream));
            if (state == State.DOWN)
            {
                state = State.CONNECTING;
            }
        }
        setCurrent(stream, ch);
        ch.config().setAutoRead(false); // hold its frames until the other stream is authenticated too
        agreedVersion = completed.agreedVersion();
        agreedFeatures = completed.agreedFeatures();
        if (data != null && control != null)
        {
            up();
        }
    }

    private void up()
    {
        state = State.UP;
        lastRefusal = null;
        lastDownReason = null;
        nextDelayNs = policy.initialDelayNs();
        lastHeardNs = System.nanoTime();
        final long checkNs = Math.max(1, Math.min(policy.pingIntervalNs(), policy.peerTimeoutNs() / 4));
        keepalive = loop.scheduleAtFixedRate(this::checkAlive, checkNs, checkNs, TimeUnit.NANOSECONDS);
        LOG.log(Level.INFO, "{0}: link to peer {1} for resource {2} is UP (protocol version {3}, features 0x{4})",
            transport.nodeName(), peerName, transport.resourceName(), agreedVersion,
            Long.toHexString(agreedFeatures));
        try
        {
            handler.onLinkUp(this);
        }
        catch (final RuntimeException ex)
        {
            LOG.log(Level.ERROR, "onLinkUp of peer " + peerName + " threw", ex);
        }
        Frame frame;
        while (state == State.UP && (frame = held.poll()) != null)
        {
            deliver(frame);
        }
        for (final StreamKind stream : StreamKind.values())
        {
            final Channel ch = current(stream);
            if (state == State.UP && ch != null)
            {
                ch.config().setAutoRead(!paused[stream.ordinal()]);
            }
        }
    }

    /**
     * Event loop, while UP: ping a peer that was silent for the ping interval; give it up after the peer timeout (a
     * hung process or a link that drops everything sends no FIN, so TCP alone would wait for minutes).
     */
    private void checkAlive()
    {
        if (state != State.UP)
        {
            return;
        }
        final long silentNs = System.nanoTime() - lastHeardNs;
        if (silentNs >= policy.peerTimeoutNs())
        {
            sessionFailure = null;
            tearDown("no answer from the peer for " + TimeUnit.NANOSECONDS.toMillis(silentNs) +
                " ms (peer timeout " + TimeUnit.NANOSECONDS.toMillis(policy.peerTimeoutNs()) + " ms)");
        }
        else if (silentNs >= policy.pingIntervalNs())
        {
            sendPing(PING, ++pingId, System.nanoTime());
        }
    }

    /** A frame arrived on a channel of this link. Event loop. Takes ownership. */
    void onFrame(final Channel ch, final Frame frame)
    {
        if (ch == data || ch == control)
        {
            lastHeardNs = System.nanoTime();
        }
        if (ch != data && ch != control)
        {
            frame.release();
        }
        else if (state != State.UP)
        {
            held.add(frame);
        }
        else
        {
            deliver(frame);
        }
    }

    private void deliver(final Frame frame)
    {
        try
        {
            handler.onFrame(this, frame);
        }
        catch (final RuntimeException ex)
        {
            LOG.log(Level.ERROR, "onFrame of peer " + peerName + " threw on " + frame, ex);
        }
    }

    /**
     * A handshake of this link's peer failed.
     *
     * @param ch     the channel, or null when it is unknown to the link (an accepted connection).
     * @param failed the event.
     * @param active whether the channel was still open (a real refusal) rather than closed mid-handshake.
     */
    void onHandshakeFailed(final Channel ch, final PeerHandshakeFailed failed, final boolean active)
    {
        if (dialer && (ch == null || (ch != pendingData && ch != pendingControl)))
        {
            return; // a late event from an attempt already torn down
        }
        final String reason = (failed.refusedByPeer() ? "refused by peer: " : "refused the peer: ") +
            failed.reasonName() + ": " + failed.message();
        if (active)
        {
            refusals++;
            lastRefusal = failed.reasonName();
            if (isPermanent(failed.reason()))
            {
                attemptRefused = true;
            }
            if (dialer && sessionFailure == null)
            {
                sessionFailure = reason;
            }
            if (!dialer && state == State.DOWN)
            {
                lastDownReason = reason;
            }
        }
        else if (dialer && sessionFailure == null)
        {
            sessionFailure = failed.message();
        }
    }

    private static boolean isPermanent(final int reason)
    {
        switch (reason)
        {
            case REFUSE_AUTH_FAILED:
            case REFUSE_WRONG_RESOURCE:
            case REFUSE_VERSION_MISMATCH:
            case REFUSE_VOLUME_SIZE_MISMATCH:
            case REFUSE_UNKNOWN_PEER:
                return true;
            default:
                return false;
        }
    }

    /** End the session: close both streams, go DOWN, tell the handler, and (dialing side) retry later. */
    private void tearDown(final String closeReason)
    {
        final String reason = sessionFailure != null ? sessionFailure : closeReason;
        sessionFailure = null;
        final boolean wasUp = state == State.UP;
        if (keepalive != null)
        {
            keepalive.cancel(false);
            keepalive = null;
        }
        final Channel[] channels = {data, control, pendingData, pendingControl};
        data = null;
        control = null;
        pendingData = null;
        pendingControl = null;
        state = State.DOWN;
        lastDownReason = reason;
        Frame frame;
        while ((frame = held.poll()) != null)
        {
            frame.release();
        }
        for (final Channel ch : channels)
        {
            if (ch != null)
            {
                ch.close();
            }
        }
        if (wasUp)
        {
            LOG.log(Level.WARNING, "{0}: link to peer {1} for resource {2} is DOWN: {3}", transport.nodeName(),
                peerName, transport.resourceName(), reason);
            try
            {
                handler.onLinkDown(this, reason);
            }
            catch (final RuntimeException ex)
            {
                LOG.log(Level.ERROR, "onLinkDown of peer " + peerName + " threw", ex);
            }
        }
        if (dialer && !shutDown && !disabled && remote != null)
        {
            scheduleRetry(reason);
        }
    }

    private void scheduleRetry(final String reason)
    {
        final long base = attemptRefused ? policy.maxDelayNs() : nextDelayNs;
        nextDelayNs = Math.min(nextDelayNs * 2, policy.maxDelayNs());
        final long delayNs = base - (long)(base * 0.25 * jitter.nextDouble());
        LOG.log(Level.INFO, "{0}: peer {1} for resource {2} is down ({3}); retrying in {4} ms", transport.nodeName(),
            peerName, transport.resourceName(), reason, TimeUnit.NANOSECONDS.toMillis(delayNs));
        retry = loop.schedule(this::attempt, delayNs, TimeUnit.NANOSECONDS);
    }

    /** The transport is closing: stop retrying and close everything. Event loop. */
    void shutDown()
    {
        shutDown = true;
        if (retry != null)
        {
            retry.cancel(false);
            retry = null;
        }
        sessionFailure = null;
        tearDown("transport closed");
    }
}
