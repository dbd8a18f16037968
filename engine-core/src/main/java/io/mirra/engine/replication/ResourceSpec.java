package io.mirra.engine.replication;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * What the engine needs to run one resource on one node; the node builds it from the resource's configuration.
 *
 * @param name             resource name.
 * @param nodeName         this node.
 * @param nodeId           this node's id in the resource (0..32).
 * @param volumeSizes      size in bytes of each volume.
 * @param disklessVolumes  per volume: true when this node keeps no copy.
 * @param peers            the other nodes of the resource.
 * @param protocol         replication protocol of every connection.
 * @param secret           shared secret the peers authenticate with.
 * @param metaDir          where this node keeps the resource's metadata (created if missing).
 * @param listenHost       replication address of this node for this resource.
 * @param listenPort       its port (0: any free one, for tests).
 * @param bitmapBlockSize  bytes per out-of-sync bit.
 * @param readBalancing    how diskless reads pick a peer.
 * @param asyncMaxUnackedBytes protocol A: data sent to a peer and not yet on its disk beyond which writes wait for
 *                         the peer (the bounded send queue).
 * @param resyncRateMaxBytesPerSec upper bound of the resync rate per peer and volume ({@code resync-rate-max}); 0 for
 *                         none.
 * @param activityLogExtents extents of 4 MiB in each volume's activity log ({@code al-extents}): after a crash, at
 *                         most this many extents are resynced.
 * @param afterSplitBrain0Pri split-brain policy when neither side is Primary ({@code after-sb-0pri}).
 * @param afterSplitBrain1Pri split-brain policy when one side is Primary ({@code after-sb-1pri}).
 * @param resyncWithoutReplication while a peer is SyncTarget, new writes to it only mark bits and replication to it
 *                         starts with the final pass (DRBD 9.3's default); false: writes go to it throughout.
 * @param resyncRateMinBytesPerSec with the adaptive controller, the resync rate kept even under application writes
 *                         ({@code resync-rate-min}).
 * @param resyncAdaptive   the resync takes what application writes leave of the maximum rate (at least the minimum);
 *                         false: always the maximum ({@code resync-controller}).
 * @param peerTimeoutMs    a peer silent this long (no frame, no answer to pings) is disconnected
 *                         ({@code peer-timeout}); the writes waiting for it complete without it and its blocks are
 *                         marked out of sync.
 * @param quorum           votes needed ({@code quorum}): 0 for off, {@link #QUORUM_MAJORITY} for more than half of
 *                         the nodes that did not leave cleanly, or a fixed number of reachable nodes (this one
 *                         included); every node, diskless or not, has one vote.
 * @param quorumSuspendIo  a Primary without quorum holds I/O until quorum returns ({@code on-no-quorum:
 *                         suspend-io}); false fails it with EIO ({@code io-error}).
 * @param resyncChecksums  checksum-based resync ({@code resync-checksums}): for each range to resync, the source
 *                         asks the target for block digests first and sends only the blocks that differ.
 */
public record ResourceSpec(
    String name,
    String nodeName,
    int nodeId,
    long[] volumeSizes,
    boolean[] disklessVolumes,
    List<PeerSpec> peers,
    Protocol protocol,
    byte[] secret,
    Path metaDir,
    String listenHost,
    int listenPort,
    int bitmapBlockSize,
    ReadBalancing readBalancing,
    long asyncMaxUnackedBytes,
    long resyncRateMaxBytesPerSec,
    int activityLogExtents,
    SplitBrainPolicy afterSplitBrain0Pri,
    SplitBrainPolicy afterSplitBrain1Pri,
    boolean resyncWithoutReplication,
    long resyncRateMinBytesPerSec,
    boolean resyncAdaptive,
    long peerTimeoutMs,
    boolean resyncChecksums,
    int quorum,
    boolean quorumSuspendIo)
{
    /** {@link #quorum()}: more than half of the nodes. */
    public static final int QUORUM_MAJORITY = -1;

    /** Default of {@link #asyncMaxUnackedBytes()}: 64 MiB. */
    public static final long ASYNC_MAX_UNACKED_DEFAULT = 64L << 20;

    /** Validates and copies. */
    public ResourceSpec
    {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(nodeName, "nodeName");
        volumeSizes = volumeSizes.clone();
        disklessVolumes = disklessVolumes.clone();
        if (volumeSizes.length == 0 || volumeSizes.length != disklessVolumes.length)
        {
            throw new IllegalArgumentException("volumeSizes and disklessVolumes must name the same volumes");
        }
        peers = List.copyOf(peers);
        for (final PeerSpec peer : peers)
        {
            if (peer.disklessVolumes().length != volumeSizes.length)
            {
                throw new IllegalArgumentException("peer " + peer.name() + ": wrong number of volumes");
            }
        }
        secret = secret.clone();
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(metaDir, "metaDir");
        Objects.requireNonNull(readBalancing, "readBalancing");
        Objects.requireNonNull(afterSplitBrain0Pri, "afterSplitBrain0Pri");
        if (peerTimeoutMs < 10)
        {
            throw new IllegalArgumentException("peerTimeoutMs " + peerTimeoutMs + ", at least 10");
        }
        Objects.requireNonNull(afterSplitBrain1Pri, "afterSplitBrain1Pri");
        if (activityLogExtents < 1 || activityLogExtents > ActivityLog.MAX_CAPACITY)
        {
            throw new IllegalArgumentException("activityLogExtents " + activityLogExtents + " outside 1.." +
                ActivityLog.MAX_CAPACITY);
        }
    }

    /** Default of {@link #peerTimeoutMs()}: 6 s, as DRBD's {@code timeout}. */
    public static final long PEER_TIMEOUT_MS_DEFAULT = 6000;

    /** Default of {@link #activityLogExtents()} (DRBD's {@code al-extents} default). */
    public static final int ACTIVITY_LOG_EXTENTS_DEFAULT = ActivityLog.DEFAULT_CAPACITY;

    /** @return the number of volumes. */
    public int volumeCount()
    {
        return volumeSizes.length;
    }

    /**
     * A peer of this node in the resource.
     *
     * @param name            node name.
     * @param nodeId          node id.
     * @param host            its replication address.
     * @param port            its replication port.
     * @param disklessVolumes per volume: true when the peer keeps no copy.
     */
    public record PeerSpec(String name, int nodeId, String host, int port, boolean[] disklessVolumes)
    {
        /** Copies. */
        public PeerSpec
        {
            disklessVolumes = disklessVolumes.clone();
        }
    }
}
