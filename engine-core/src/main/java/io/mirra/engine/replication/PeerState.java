package io.mirra.engine.replication;

import io.mirra.bitmap.BitmapGeometry;
import io.mirra.bitmap.DirtyBitmap;
import io.mirra.transport.PeerLink;

import java.util.ArrayDeque;
import java.util.ArrayList;

/**
 * What this node knows about one peer of the resource, and the receiving side's ordering gate for operations that
 * peer sends. Guarded by the resource's lock.
 */
final class PeerState
{
    final ResourceSpec.PeerSpec spec;
    final int index;
    PeerLink link;

    /** True after the peer's first STATE on the current connection (the connection is then Connected). */
    boolean stateKnown;
    /** We sent a STATE with STATE_FLAG_SEEN on the current connection. */
    boolean sentSeen;
    /** The peer's STATE said it has ours (STATE_FLAG_SEEN) on the current connection. */
    boolean peerSawOurs;
    /** The operator disconnected this peer, or split brain was detected: StandAlone until connect. */
    boolean standAlone;
    /** The copies' histories are unrelated: the connection stays down until an operator decides. */
    boolean splitBrain;
    /** The peer left cleanly (its last STATE said its copies are Outdated): it does not count against quorum. */
    boolean leftCleanly;
    /** The operator ran {@code connect --discard-my-data} for this peer: in a split brain, our copy loses. */
    boolean discardMyData;
    /** Our next STATE to this peer declares its copy identical to ours (new-current-uuid --clear-bitmap). */
    boolean sendClearBitmap;
    /** Per volume, on the current connection: split brain found, our SPLIT_BRAIN report sent, the peer's received. */
    final boolean[] sbDetected;
    final boolean[] sbSent;
    final boolean[] sbReceived;
    /** Per volume: this peer refused to be our resync source; asked again only once it sends a new STATE. */
    final boolean[] resyncRefused;
    /** We refused to resync this peer because another node is Primary: it hears from us when that changes. */
    boolean refusedForPrimary;
    /** Per volume: the OUT_OF_SYNC ranges of the peer's coming RESYNC_REQUEST; ours only if we accept it. */
    final DirtyBitmap[] requestedOutOfSync;
    /** STATEs with STATE_FLAG_ACK_REQUESTED sent to this peer on this connection and not yet answered. */
    int stateAcksPending;
    /** The peer's report: changed bytes (-1 unknown), when it became Primary, flags. */
    final long[] sbChanges;
    final long[] sbPrimarySince;
    final int[] sbFlags;
    Role role = Role.UNKNOWN;
    final DiskState[] diskStates;
    final long[] currentGens;
    final long[][] histories;
    final ReplicationState[] replication;
    /** Why a volume does not replicate, or null. */
    final String[] replicationReason;
    /** Blocks that may differ on that peer, per volume (null where either side is diskless). */
    final DirtyBitmap[] outOfSync; // elements replaced when the bitmap block size changes
    /**
     * Per volume: the peer's copy has this node's current generation (as far as this node knows; true until a
     * connection says otherwise). A write that such a peer would miss starts a new generation first.
     */
    final boolean[] sameGen;
    final long[] sentBytes;
    /**
     * Per volume, while this node is Primary and the peer replicates from it: the generation the peer had when that
     * began (0: not replicating from us). A resync request counted from it is exact with our bits alone.
     */
    final long[] replicatingSince;
    /** Per volume: the generation the peer had when this node started marking its bits (0: unknown). */
    final long[] bitmapBaseGen;
    /** SyncSource side, per volume: a resync to this peer is running. */
    final boolean[] resyncActive;
    /** SyncSource side, per volume: new writes go to the SyncTarget too (final pass, or resync with replication). */
    final boolean[] replicateDuringResync;
    /** The operator paused resyncs from this node to the peer ({@code pause-sync}); kept until resume. */
    boolean resyncUserPaused;
    /** SyncSource side: next bit to look at, resync reads and frames not yet acknowledged, bytes sent. */
    final long[] resyncCursor;
    final int[] resyncInFlight;
    final long[] resyncInFlightBytes;
    final long[] resyncSent;
    /** SyncSource side, checksum-based resync: bytes found equal on the target and not sent. */
    final long[] resyncSkipped;
    /** Counts resyncs started, so reads of an abandoned resync are recognised when they complete. */
    final long[] resyncSession;
    /** SyncSource side, per volume: when the running resync started (System.nanoTime). */
    final long[] resyncStartNs;
    /** SyncSource side, per volume: when progress was last sent to the target (System.nanoTime). */
    final long[] resyncProgressSentNs;
    /** SyncTarget side, per volume: the source's last RESYNC_PROGRESS (bytes left, bytes sent) and when the first came. */
    final long[] targetOutOfSync;
    final long[] targetSent;
    final long[] targetFirstSent;
    final long[] targetFirstNs;
    /** SyncSource side, per volume: the rate limit of the running resync, and whether a delayed pump is pending. */
    final ResyncRateLimiter[] resyncLimiter;
    final boolean[] resyncPumpScheduled;
    final long[] receivedBytes;
    long unackedBytes;
    long unackedRequests;
    int pendingReads;

    // ---- receiving side: ordering gate for operations from this peer ----------------------------------------------
    final ArrayDeque<ApplyOp> queued = new ArrayDeque<>();
    /** Write bytes in {@link #queued}. */
    long queuedBytes;
    /** True while the peer's data stream is not read because too much waits at the gate. */
    boolean receivingPaused;
    final ArrayList<ApplyOp> running = new ArrayList<>();
    int runningWrites;
    long gateEpoch;

    PeerState(final ResourceSpec.PeerSpec spec, final int index, final ResourceSpec resource)
    {
        this.spec = spec;
        this.index = index;
        final int volumes = resource.volumeCount();
        diskStates = new DiskState[volumes];
        currentGens = new long[volumes];
        histories = new long[volumes][];
        replication = new ReplicationState[volumes];
        replicationReason = new String[volumes];
        outOfSync = new DirtyBitmap[volumes];
        sameGen = new boolean[volumes];
        java.util.Arrays.fill(sameGen, true);
        sentBytes = new long[volumes];
        bitmapBaseGen = new long[volumes];
        replicatingSince = new long[volumes];
        resyncActive = new boolean[volumes];
        replicateDuringResync = new boolean[volumes];
        resyncCursor = new long[volumes];
        resyncInFlight = new int[volumes];
        resyncInFlightBytes = new long[volumes];
        resyncSent = new long[volumes];
        resyncSkipped = new long[volumes];
        resyncSession = new long[volumes];
        resyncStartNs = new long[volumes];
        resyncProgressSentNs = new long[volumes];
        targetOutOfSync = new long[volumes];
        targetSent = new long[volumes];
        targetFirstSent = new long[volumes];
        targetFirstNs = new long[volumes];
        resyncLimiter = new ResyncRateLimiter[volumes];
        resyncPumpScheduled = new boolean[volumes];
        receivedBytes = new long[volumes];
        sbDetected = new boolean[volumes];
        sbSent = new boolean[volumes];
        sbReceived = new boolean[volumes];
        resyncRefused = new boolean[volumes];
        requestedOutOfSync = new DirtyBitmap[volumes];
        sbChanges = new long[volumes];
        sbPrimarySince = new long[volumes];
        sbFlags = new int[volumes];
        for (int v = 0; v < volumes; v++)
        {
            // Also on a node without a disk: as Primary it counts what each copy missed, and resyncs it.
            if (!spec.disklessVolumes()[v])
            {
                outOfSync[v] = new DirtyBitmap(new BitmapGeometry(resource.volumeSizes()[v],
                    resource.bitmapBlockSize()));
            }
        }
        resetConnection();
    }

    /** Forget what the last connection told. */
    void resetConnection()
    {
        stateKnown = false;
        sentSeen = false;
        peerSawOurs = false;
        role = Role.UNKNOWN;
        for (int v = 0; v < diskStates.length; v++)
        {
            diskStates[v] = DiskState.D_UNKNOWN;
            currentGens[v] = 0;
            histories[v] = new long[0];
            replication[v] = ReplicationState.OFF;
            replicationReason[v] = null;
        }
        unackedBytes = 0;
        unackedRequests = 0;
        pendingReads = 0;
        java.util.Arrays.fill(resyncActive, false);
        java.util.Arrays.fill(replicatingSince, 0);
        java.util.Arrays.fill(replicateDuringResync, false);
        java.util.Arrays.fill(resyncInFlight, 0);
        java.util.Arrays.fill(resyncInFlightBytes, 0);
        java.util.Arrays.fill(sbDetected, false);
        java.util.Arrays.fill(sbSent, false);
        java.util.Arrays.fill(sbReceived, false);
        java.util.Arrays.fill(resyncRefused, false);
        java.util.Arrays.fill(requestedOutOfSync, null);
        refusedForPrimary = false;
        stateAcksPending = 0;
    }

    boolean isUp()
    {
        return link != null && link.state() == PeerLink.State.UP && stateKnown;
    }

    boolean isDiskless(final int volume)
    {
        return spec.disklessVolumes()[volume];
    }

    /** @return true when new writes of the volume go to this peer. */
    boolean replicates(final int volume)
    {
        return isUp() && !isDiskless(volume) && (replication[volume] == ReplicationState.ESTABLISHED ||
            replication[volume] == ReplicationState.SYNC_SOURCE && replicateDuringResync[volume]);
    }

    /** @return true when this peer can serve reads of the volume. */
    boolean canServeReads(final int volume)
    {
        return isUp() && !isDiskless(volume) && diskStates[volume] == DiskState.UP_TO_DATE &&
            (replication[volume] == ReplicationState.ESTABLISHED ||
            replication[volume] == ReplicationState.SYNC_TARGET);
    }

    void markOutOfSync(final int volume, final long offset, final long length)
    {
        final DirtyBitmap bitmap = outOfSync[volume];
        if (bitmap != null && length > 0)
        {
            bitmap.markByteRange(offset, length);
        }
    }

    String name()
    {
        return spec.name();
    }

    @Override
    public String toString()
    {
        return "peer " + spec.name();
    }
}
