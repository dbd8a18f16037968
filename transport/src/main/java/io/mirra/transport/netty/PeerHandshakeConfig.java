package io.mirra.transport.netty;

import io.mirra.transport.protocol.HelloFlyweight;
import io.mirra.transport.protocol.ReplicationProtocol;

import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * What one side of a peer handshake knows: who it is, the resource, which peers it accepts, the resource's shared
 * secret, the volume sizes, the protocol versions and features it offers, and the deadline. Immutable; the arrays are
 * copied in and out. Validated on construction (IllegalArgumentException naming the field).
 *
 * @param nodeName     this node's name, 1..255 UTF-8 bytes.
 * @param resourceName the resource, 1..255 UTF-8 bytes.
 * @param peerNames    node names accepted as the peer (a connector names the one it dials); not containing
 *                     {@code nodeName}.
 * @param sharedSecret the per-resource secret keying HMAC-SHA256; at least one byte. Never sent.
 * @param volumeSizes  size in bytes of each volume, 1..{@link ReplicationProtocol#MAX_VOLUMES} of them.
 * @param minVersion   lowest protocol version offered.
 * @param maxVersion   highest protocol version offered.
 * @param features     feature bits offered.
 * @param timeoutNs    how long the handshake may take before it is refused with HANDSHAKE_TIMEOUT.
 */
public record PeerHandshakeConfig(
    String nodeName,
    String resourceName,
    Set<String> peerNames,
    byte[] sharedSecret,
    long[] volumeSizes,
    int minVersion,
    int maxVersion,
    long features,
    long timeoutNs)
{
    /** Default handshake deadline. */
    public static final long DEFAULT_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);

    /**
     * Validates and copies.
     */
    public PeerHandshakeConfig
    {
        HelloFlyweight.checkName("nodeName", nodeName);
        HelloFlyweight.checkName("resourceName", resourceName);
        peerNames = Set.copyOf(peerNames);
        if (peerNames.isEmpty() || peerNames.contains(nodeName))
        {
            throw new IllegalArgumentException("peerNames must name at least one node other than " + nodeName);
        }
        for (final String peer : peerNames)
        {
            HelloFlyweight.checkName("peer name", peer);
        }
        if (sharedSecret == null || sharedSecret.length == 0)
        {
            throw new IllegalArgumentException("sharedSecret must not be empty");
        }
        sharedSecret = sharedSecret.clone();
        if (volumeSizes.length < 1 || volumeSizes.length > ReplicationProtocol.MAX_VOLUMES)
        {
            throw new IllegalArgumentException("volumeSizes: 1.." + ReplicationProtocol.MAX_VOLUMES + " volumes");
        }
        volumeSizes = volumeSizes.clone();
        for (final long size : volumeSizes)
        {
            if (size < 0)
            {
                throw new IllegalArgumentException("volumeSizes: negative size " + size);
            }
        }
        if (minVersion < 1 || minVersion > maxVersion || maxVersion > 0xFFFF)
        {
            throw new IllegalArgumentException("version range " + minVersion + ".." + maxVersion);
        }
        if (timeoutNs <= 0)
        {
            throw new IllegalArgumentException("timeoutNs must be positive: " + timeoutNs);
        }
    }

    /**
     * A configuration offering this build's versions and every known feature, with the default deadline.
     *
     * @param nodeName     this node.
     * @param resourceName the resource.
     * @param peerNames    accepted peers.
     * @param sharedSecret the resource's secret.
     * @param volumeSizes  volume sizes in bytes.
     * @return the configuration.
     */
    public static PeerHandshakeConfig of(
        final String nodeName,
        final String resourceName,
        final Set<String> peerNames,
        final byte[] sharedSecret,
        final long[] volumeSizes)
    {
        return new PeerHandshakeConfig(nodeName, resourceName, peerNames, sharedSecret, volumeSizes,
            ReplicationProtocol.MIN_SUPPORTED_VERSION, ReplicationProtocol.PROTOCOL_VERSION,
            ReplicationProtocol.KNOWN_FEATURES, DEFAULT_TIMEOUT_NS);
    }

    /**
     * @param minVersion lowest version offered.
     * @param maxVersion highest version offered.
     * @return a copy with this version range.
     */
    public PeerHandshakeConfig withVersions(final int minVersion, final int maxVersion)
    {
        return new PeerHandshakeConfig(nodeName, resourceName, peerNames, sharedSecret, volumeSizes, minVersion,
            maxVersion, features, timeoutNs);
    }

    /**
     * @param features offered.
     * @return a copy with these features.
     */
    public PeerHandshakeConfig withFeatures(final long features)
    {
        return new PeerHandshakeConfig(nodeName, resourceName, peerNames, sharedSecret, volumeSizes, minVersion,
            maxVersion, features, timeoutNs);
    }

    /**
     * @param timeoutNs handshake deadline.
     * @return a copy with this deadline.
     */
    public PeerHandshakeConfig withTimeoutNs(final long timeoutNs)
    {
        return new PeerHandshakeConfig(nodeName, resourceName, peerNames, sharedSecret, volumeSizes, minVersion,
            maxVersion, features, timeoutNs);
    }

    /** @return a copy of the secret. */
    @Override
    public byte[] sharedSecret()
    {
        return sharedSecret.clone();
    }

    /** @return a copy of the volume sizes. */
    @Override
    public long[] volumeSizes()
    {
        return volumeSizes.clone();
    }

    /** {@inheritDoc} The secret is never printed. */
    @Override
    public String toString()
    {
        return "PeerHandshakeConfig{node=" + nodeName + ", resource=" + resourceName + ", peers=" + peerNames +
            ", volumeSizes=" + Arrays.toString(volumeSizes) + ", versions=" + minVersion + ".." + maxVersion +
            ", features=0x" + Long.toHexString(features) + ", timeoutNs=" + timeoutNs + '}';
    }
}
