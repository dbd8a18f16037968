package io.mirra.node.config;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * Options of every connection of a resource (the {@code connection:} section). {@link #toString()} never shows
 * the secret.
 *
 * @param protocol    replication protocol, default C.
 * @param compression compression of replicated data, default none.
 * @param tls         whether connections use TLS (then every node names a certificate and key).
 * @param tlsCa       CA certificate (PEM) peers' certificates must chain to; present when {@code tls}.
 * @param secret      shared secret the peers authenticate each other with; present when the resource has more
 *                    than one node.
 * @param resyncWithoutReplication while a peer is SyncTarget, new writes to it only mark bits until the final pass
 *                    (default true); false replicates them to it from the start of the resync.
 * @param peerTimeoutMs a peer silent this long (no frame, no answer to pings) is disconnected; default 6000.
 * @param resyncChecksums checksum-based resync: digests of each range first, data only where they differ.
 */
public record ConnectionOptions(
    Protocol protocol,
    Compression compression,
    boolean tls,
    Optional<Path> tlsCa,
    Optional<String> secret,
    boolean resyncWithoutReplication,
    long peerTimeoutMs,
    boolean resyncChecksums)
{
    /** Default of {@code peer-timeout}: 6 s, as DRBD's {@code timeout}. */
    public static final long PEER_TIMEOUT_MS_DEFAULT = 6000;

    /** Shortest accepted shared secret, in characters. */
    public static final int SECRET_MIN_LENGTH = 8;

    /** Replication protocols (SPEC §1). */
    public enum Protocol
    {
        /** Asynchronous: complete when written locally and queued for the peer. */
        A,
        /** Memory-synchronous: complete when C/B-peers have received the write. */
        B,
        /** Synchronous: complete when written on the local disk and the peers' disks. */
        C
    }

    /** Compression of replicated data. */
    public enum Compression
    {
        /** No compression. */
        NONE,
        /** LZ4 block compression. */
        LZ4;

        /**
         * The spelling in the resource file.
         *
         * @return {@code none} or {@code lz4}.
         */
        public String configName()
        {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public String toString()
    {
        return "ConnectionOptions[protocol=" + protocol + ", compression=" + compression.configName() +
            ", tls=" + tls + ", tlsCa=" + tlsCa.map(Path::toString).orElse("none") +
            ", secret=" + (secret.isPresent() ? "(hidden)" : "none") + "]";
    }
}
