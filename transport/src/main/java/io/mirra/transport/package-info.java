/**
 * Peer links of the replication engine: the wire protocol ({@code protocol}) and its Netty transport
 * ({@code netty}). The module knows frames, not volumes.
 */
package io.mirra.transport;
