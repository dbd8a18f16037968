package io.mirra.node.admin;

import io.mirra.engine.replication.ConnectionState;
import io.mirra.engine.replication.DiskState;
import io.mirra.engine.replication.ReplicationState;
import io.mirra.engine.replication.ResourceStatus;
import io.mirra.engine.replication.ResourceStatus.ConnectionStatus;
import io.mirra.engine.replication.ResourceStatus.DeviceStatus;
import io.mirra.engine.replication.ResourceStatus.PeerDeviceStatus;
import io.mirra.engine.replication.Role;

import java.util.List;

/** Status snapshots of the demo cluster (alpha and bravo with disks, charlie diskless) as the tests need them. */
final class StatusFixtures
{
    static final long GIB = 1L << 30;
    static final long MIB = 1L << 20;

    private StatusFixtures()
    {
    }

    static DeviceStatus disk(final int volume, final DiskState state)
    {
        return new DeviceStatus(volume, state, false, GIB, 3 * MIB, 5 * MIB, 0, 0);
    }

    static PeerDeviceStatus inSync(final int volume, final DiskState peerDisk)
    {
        return new PeerDeviceStatus(volume, ReplicationState.ESTABLISHED, peerDisk, peerDisk == DiskState.DISKLESS,
            0, 5 * MIB, 0, 0, 0, 100.0);
    }

    static PeerDeviceStatus syncing(final int volume, final ReplicationState state, final DiskState peerDisk,
        final long outOfSyncBytes)
    {
        return new PeerDeviceStatus(volume, state, peerDisk, false, outOfSyncBytes, 7 * MIB, 2 * MIB, 1, 2,
            100.0 * (GIB - outOfSyncBytes) / GIB);
    }

    static ConnectionStatus connected(final String peer, final int nodeId, final Role role,
        final PeerDeviceStatus... volumes)
    {
        return new ConnectionStatus(peer, nodeId, ConnectionState.CONNECTED, null, role, false, List.of(volumes));
    }

    static ConnectionStatus down(final String peer, final int nodeId, final ConnectionState state,
        final String reason, final int volumes)
    {
        final PeerDeviceStatus[] unknown = new PeerDeviceStatus[volumes];
        for (int v = 0; v < volumes; v++)
        {
            unknown[v] = new PeerDeviceStatus(v, ReplicationState.OFF, DiskState.D_UNKNOWN, false, 0, 0, 0, 0, 0,
                100.0);
        }
        return new ConnectionStatus(peer, nodeId, state, reason, Role.UNKNOWN, false, List.of(unknown));
    }

    /** alpha's view: Primary; bravo does not connect (wrong secret); charlie (diskless) is connected. */
    static ResourceStatus threeNodes()
    {
        return new ResourceStatus("demo", "alpha", 0, Role.PRIMARY, false,
            List.of(disk(0, DiskState.UP_TO_DATE)),
            List.of(
                down("bravo", 1, ConnectionState.CONNECTING, "AUTH_FAILED: the peer does not know the shared secret",
                    1),
                connected("charlie", 2, Role.SECONDARY, inSync(0, DiskState.DISKLESS))));
    }

    /** charlie's view: diskless Secondary reading through alpha and bravo. */
    static ResourceStatus disklessView()
    {
        return new ResourceStatus("demo", "charlie", 2, Role.SECONDARY, false,
            List.of(new DeviceStatus(0, DiskState.DISKLESS, true, GIB, 0, 0, 0, 0)),
            List.of(
                connected("alpha", 0, Role.PRIMARY, inSync(0, DiskState.UP_TO_DATE)),
                connected("bravo", 1, Role.SECONDARY, inSync(0, DiskState.UP_TO_DATE))));
    }

    /** Two volumes on bravo: volume 1 is resyncing from alpha; charlie stays StandAlone after a split brain. */
    static ResourceStatus twoVolumes()
    {
        return new ResourceStatus("db", "bravo", 1, Role.SECONDARY, false,
            List.of(disk(0, DiskState.UP_TO_DATE), disk(1, DiskState.INCONSISTENT)),
            List.of(
                new ConnectionStatus("alpha", 0, ConnectionState.CONNECTED, null, Role.PRIMARY, true, List.of(
                    inSync(0, DiskState.UP_TO_DATE),
                    syncing(1, ReplicationState.SYNC_TARGET, DiskState.UP_TO_DATE, 128 * MIB))),
                down("charlie", 2, ConnectionState.STAND_ALONE, "SplitBrain", 2)));
    }

    /** alpha resyncing bravo after bravo was away: 560 MiB left. */
    static ResourceStatus syncingPeer()
    {
        return new ResourceStatus("demo", "alpha", 0, Role.PRIMARY, false,
            List.of(disk(0, DiskState.UP_TO_DATE)),
            List.of(
                connected("bravo", 1, Role.SECONDARY,
                    syncing(0, ReplicationState.SYNC_SOURCE, DiskState.INCONSISTENT, 560 * MIB)),
                connected("charlie", 2, Role.SECONDARY, inSync(0, DiskState.DISKLESS))));
    }
}
