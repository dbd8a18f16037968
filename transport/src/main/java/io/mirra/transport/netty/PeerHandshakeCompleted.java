package io.mirra.transport.netty;

/**
 * User event fired by {@link PeerHandshakeHandler} when a stream's handshake succeeded (the handler has removed
 * itself; frames that follow go to the next handler). Immutable.
 *
 * @param peerName       the authenticated peer's node name.
 * @param agreedVersion  the highest protocol version both sides speak.
 * @param agreedFeatures the feature bits both sides offered.
 * @param streamKind     {@link io.mirra.transport.protocol.ReplicationProtocol#STREAM_DATA} or
 *                       {@link io.mirra.transport.protocol.ReplicationProtocol#STREAM_CONTROL}.
 */
public record PeerHandshakeCompleted(String peerName, int agreedVersion, long agreedFeatures, int streamKind)
{
}
