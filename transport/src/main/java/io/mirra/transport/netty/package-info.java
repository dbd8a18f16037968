/**
 * Netty transport of the replication protocol: the codec ({@link io.mirra.transport.netty.FrameDecoder},
 * {@link io.mirra.transport.netty.FrameEncoder}), the per-stream handshake
 * ({@link io.mirra.transport.netty.PeerHandshakeHandler}) and the links built on them
 * ({@link io.mirra.transport.netty.NettyPeerTransport}: listening, dialing, reconnecting). Every handler here is per
 * channel and runs only on that channel's event loop.
 */
package io.mirra.transport.netty;
