package io.mirra.engine.replication;

import java.util.List;

/**
 * A snapshot of one resource on one node: what {@code mirra status} prints. Field names follow
 * {@code drbdsetup status --json} where one exists.
 *
 * @param name        resource name.
 * @param nodeName    this node.
 * @param nodeId      this node's id in the resource.
 * @param role        this node's role.
 * @param suspended   true while I/O is suspended (e.g. no quorum).
 * @param devices     this node's volumes.
 * @param connections one per peer, sorted by peer name.
 */
public record ResourceStatus(
    String name,
    String nodeName,
    int nodeId,
    Role role,
    boolean suspended,
    List<DeviceStatus> devices,
    List<ConnectionStatus> connections)
{
    /** Copies the lists. */
    public ResourceStatus
    {
        devices = List.copyOf(devices);
        connections = List.copyOf(connections);
    }

    /**
     * One local volume.
     *
     * @param volume       volume number.
     * @param diskState    local disk state.
     * @param client       true when the node is diskless for this volume (DRBD's "client").
     * @param sizeBytes    volume size.
     * @param readBytes    bytes read through this node's exports since start.
     * @param writtenBytes bytes written through this node's exports since start.
     * @param upperPending requests from NBD clients in flight.
     * @param lowerPending local disk requests in flight.
     */
    public record DeviceStatus(
        int volume,
        DiskState diskState,
        boolean client,
        long sizeBytes,
        long readBytes,
        long writtenBytes,
        long upperPending,
        long lowerPending)
    {
    }

    /**
     * The connection to one peer.
     *
     * @param peerName        the peer's node name.
     * @param peerNodeId      the peer's node id.
     * @param connectionState connection state.
     * @param reason          why the connection stays down or is not replicating (e.g. "AUTH_FAILED", "SplitBrain",
     *                        "resync needed"), or null.
     * @param peerRole        the peer's role, UNKNOWN unless connected.
     * @param congested       true when the data stream's send queue is full.
     * @param peerDevices     one per volume.
     */
    public record ConnectionStatus(
        String peerName,
        int peerNodeId,
        ConnectionState connectionState,
        String reason,
        Role peerRole,
        boolean congested,
        List<PeerDeviceStatus> peerDevices)
    {
        /** Copies the list. */
        public ConnectionStatus
        {
            peerDevices = List.copyOf(peerDevices);
        }
    }

    /**
     * One volume as replicated to one peer.
     *
     * @param volume           volume number.
     * @param replicationState replication state.
     * @param peerDiskState    the peer's disk state, D_UNKNOWN unless connected.
     * @param peerClient       true when the peer is diskless for this volume.
     * @param outOfSyncBytes   bytes marked out of sync for this peer.
     * @param sentBytes        bytes replicated to the peer since start.
     * @param receivedBytes    bytes received from the peer since start.
     * @param pending          requests from the peer being applied here.
     * @param unacked          requests sent to the peer and not acknowledged yet.
     * @param percentInSync    100 * (size - out of sync) / size.
     * @param resyncBytesPerSec  average rate of the resync this node sends to the peer, 0 when none runs.
     * @param resyncSecondsLeft  estimated seconds until that resync ends at that rate, -1 when unknown.
     */
    public record PeerDeviceStatus(
        int volume,
        ReplicationState replicationState,
        DiskState peerDiskState,
        boolean peerClient,
        long outOfSyncBytes,
        long sentBytes,
        long receivedBytes,
        long pending,
        long unacked,
        double percentInSync,
        long resyncBytesPerSec,
        long resyncSecondsLeft)
    {
        /**
         * Without resync figures.
         *
         * @param volume           volume number.
         * @param replicationState replication state.
         * @param peerDiskState    the peer's disk state.
         * @param peerClient       the peer is diskless.
         * @param outOfSyncBytes   bytes out of sync.
         * @param sentBytes        bytes sent.
         * @param receivedBytes    bytes received.
         * @param pending          requests being applied.
         * @param unacked          requests not acknowledged.
         * @param percentInSync    share in sync.
         */
        public PeerDeviceStatus(final int volume, final ReplicationState replicationState,
            final DiskState peerDiskState, final boolean peerClient, final long outOfSyncBytes, final long sentBytes,
            final long receivedBytes, final long pending, final long unacked, final double percentInSync)
        {
            this(volume, replicationState, peerDiskState, peerClient, outOfSyncBytes, sentBytes, receivedBytes,
                pending, unacked, percentInSync, 0, -1);
        }
    }
}
