package io.mirra.transport.netty;

import io.mirra.transport.protocol.ReplicationProtocol;

/**
 * User event fired by {@link PeerHandshakeHandler} when a handshake failed; the channel is being closed. It says why,
 * so the connection's owner can report why a link stays down. Immutable.
 *
 * @param reason        a {@code REFUSE_*} code of {@link ReplicationProtocol}.
 * @param message       the exact reason, as logged.
 * @param refusedByPeer true when the peer sent the REFUSE, false when this side refused (or the link dropped).
 */
public record PeerHandshakeFailed(int reason, String message, boolean refusedByPeer)
{
    /** @return the reason's name, e.g. {@code AUTH_FAILED}. */
    public String reasonName()
    {
        return ReplicationProtocol.refuseReasonName(reason);
    }
}
