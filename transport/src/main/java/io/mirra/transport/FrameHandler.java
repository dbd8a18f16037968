package io.mirra.transport;

import io.mirra.transport.netty.Frame;

/**
 * Receives what happens on the {@link PeerLink}s of a transport (implemented by the engine).
 * <p>
 * Threading: every callback runs on the link's event loop, so callbacks of one link never overlap; they must not
 * block (hand work to another thread through a queue). An exception thrown by a callback is logged and otherwise
 * ignored.
 */
public interface FrameHandler
{
    /**
     * A frame arrived on an UP link, after the handshake. Frames of one stream arrive in order; frames of different
     * streams are not ordered with respect to each other.
     *
     * @param link  the link it arrived on.
     * @param frame the frame; <b>the handler owns it and must {@link Frame#release() release} it</b> (possibly later,
     *              on another thread).
     */
    void onFrame(PeerLink link, Frame frame);

    /**
     * Both streams of the link completed their handshake; the link is UP and {@link PeerLink#send} works.
     *
     * @param link the link.
     */
    void onLinkUp(PeerLink link);

    /**
     * The link was UP and went DOWN (a stream closed, or the transport closed); both streams are closed, frames in
     * flight are lost, and a dialing side reconnects by itself.
     *
     * @param link   the link.
     * @param reason why, as logged.
     */
    void onLinkDown(PeerLink link, String reason);
}
