package io.mirra.engine.replication;

/** Replication state per peer and volume (DRBD's names). */
public enum ReplicationState
{
    /** Not replicating: not connected, or the copies cannot be brought together without a resync. */
    OFF("Off"),
    /** Connected and every new write is replicated. */
    ESTABLISHED("Established"),
    /** This node sends out-of-sync blocks to the peer. */
    SYNC_SOURCE("SyncSource"),
    /** This node receives out-of-sync blocks from the peer. */
    SYNC_TARGET("SyncTarget"),
    /** Resync towards the peer is paused. */
    PAUSED_SYNC_S("PausedSyncS"),
    /** Resync from the peer is paused. */
    PAUSED_SYNC_T("PausedSyncT"),
    /** Online verify, this node sending checksums. */
    VERIFY_S("VerifyS"),
    /** Online verify, this node answering. */
    VERIFY_T("VerifyT"),
    /** Replication to a congested peer is replaced by marking blocks out of sync. */
    AHEAD("Ahead"),
    /** The peer is Ahead: this node receives no writes until a resync. */
    BEHIND("Behind");

    private final String displayName;

    ReplicationState(final String displayName)
    {
        this.displayName = displayName;
    }

    /** @return the name shown by status and events. */
    public String displayName()
    {
        return displayName;
    }
}
