package io.mirra.transport;

import io.mirra.transport.netty.Frame;
import io.netty.buffer.ByteBuf;

/**
 * The connection of this node to one peer for one resource: two TCP streams, {@link StreamKind#DATA} and
 * {@link StreamKind#CONTROL}, each authenticated by its own handshake. The link is {@link State#UP} only while both
 * streams are connected and authenticated; when either closes, the other is closed too, the link goes DOWN and the
 * dialing side reconnects with backoff (see docs/wire-protocol.md, "Links").
 * <p>
 * Threading: every method may be called from any thread and never blocks. Sending is asynchronous: {@code true}
 * means the frame was handed to the stream, not that it arrived; frames queued on a stream that then closes are
 * dropped (the engine resends after reconnecting).
 */
public interface PeerLink
{
    /** Connection state, like DRBD's connection state. */
    enum State
    {
        /** No stream connected (waiting for the peer to dial, or waiting to retry). */
        DOWN,
        /** A connection attempt is in progress: at most one stream authenticated so far. */
        CONNECTING,
        /** Both streams connected and authenticated. */
        UP
    }

    /** @return the peer's node name. */
    String peerName();

    /** @return the current state. */
    State state();

    /** @return the protocol version agreed in the last handshake that brought the link UP, 0 before. */
    int agreedVersion();

    /** @return the feature bits agreed in the last handshake that brought the link UP, 0 before. */
    long agreedFeatures();

    /**
     * @return the name of the last handshake refusal (e.g. {@code AUTH_FAILED}, whichever side refused) since the
     *         link was last UP, or null: what a status display shows for a link that stays down.
     */
    String lastRefusal();

    /** @return the last reason the link went or stayed down (as logged), or null. */
    String lastDownReason();

    /** @return connection attempts made by this side (0 on the accepting side). */
    long connectAttempts();

    /** @return handshakes of this link that were refused (by either side) since the transport started. */
    long refusals();

    /**
     * Send a frame on a stream.
     *
     * @param stream the stream; the frame's type must belong to it.
     * @param frame  the frame; ownership transfers (it is released when the link is down).
     * @return false when the link is not UP.
     */
    boolean send(StreamKind stream, Frame frame);

    /**
     * Send a WRITE on the DATA stream; the data is not copied.
     *
     * @param volume        volume number.
     * @param writeSequence the write's sequence, echoed by the WRITE_ACK.
     * @param byteOffset    where it goes in the volume.
     * @param epoch         barrier epoch.
     * @param writeFlags    {@code WRITE_FLAG_*} bits.
     * @param data          the data, at most 1 MiB; ownership transfers (released when the link is down).
     * @return false when the link is not UP.
     */
    boolean sendWrite(int volume, long writeSequence, long byteOffset, long epoch, int writeFlags, ByteBuf data);

    /**
     * Send a WRITE_ACK on the CONTROL stream.
     *
     * @param volume        volume of the acknowledged write.
     * @param writeSequence of the acknowledged write.
     * @param status        0 or an errno.
     * @param ackFlags      {@code ACK_FLAG_*} bits.
     * @return false when the link is not UP.
     */
    boolean sendWriteAck(int volume, long writeSequence, int status, int ackFlags);

    /**
     * Send a PING or PING_ACK on the CONTROL stream.
     *
     * @param type       PING or PING_ACK.
     * @param pingId     the ping's id.
     * @param sendTimeNs the pinging side's timestamp.
     * @return false when the link is not UP.
     */
    boolean sendPing(int type, long pingId, long sendTimeNs);

    /**
     * @param stream a stream.
     * @return true when the link is UP and the stream's outbound queue is below its high-water mark (callers that
     *         queue bulk data should wait while it is not).
     */
    boolean isWritable(StreamKind stream);

    /**
     * Disconnect and stay disconnected (DRBD's {@code disconnect}: StandAlone), or connect again. While disabled the
     * link does not dial and closes streams the peer opens, so the peer keeps retrying with backoff; enabling dials
     * at once on the dialing side. Asynchronous; a link that goes down reports it through the handler as usual.
     *
     * @param enabled false to disconnect, true to connect again.
     */
    void setEnabled(boolean enabled);

    /** @return false while disconnected by {@link #setEnabled(boolean)}. */
    boolean isEnabled();

    /**
     * Pause or resume reading a stream from its socket (backpressure: the peer's sends then queue on its side). Kept
     * across reconnections. Frames already read may still be delivered after pausing.
     *
     * @param stream    the stream.
     * @param receiving false to pause, true to resume.
     */
    void setReceiving(StreamKind stream, boolean receiving);
}
