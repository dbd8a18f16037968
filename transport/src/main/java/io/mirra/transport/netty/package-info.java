/**
 * Netty codec and handshake of the replication protocol: {@link io.mirra.transport.netty.FrameDecoder},
 * {@link io.mirra.transport.netty.FrameEncoder}, {@link io.mirra.transport.netty.PeerHandshakeHandler}.
 * Every handler here is per channel and runs only on that channel's event loop.
 */
package io.mirra.transport.netty;
