/**
 * Peer links of the replication engine: {@link io.mirra.transport.PeerLink} (a connection to one peer, two streams
 * of {@link io.mirra.transport.StreamKind}), {@link io.mirra.transport.FrameHandler} (what the engine implements to
 * receive frames and link changes), the wire protocol ({@code protocol}) and its Netty transport ({@code netty},
 * {@link io.mirra.transport.netty.NettyPeerTransport}). The module knows frames, not volumes.
 */
package io.mirra.transport;
