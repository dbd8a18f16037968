package io.mirra.engine.replication;

/** State of a volume's local disk, or of a peer's disk as this node knows it (DRBD's names and meanings). */
public enum DiskState
{
    /** No local disk (a diskless node, or after a detach). */
    DISKLESS("Diskless"),
    /** The disk is being opened and its metadata read. */
    ATTACHING("Attaching"),
    /** An I/O error happened; the disk is being detached. */
    FAILED("Failed"),
    /** The data is not a usable copy (a resync target, or never synced). */
    INCONSISTENT("Inconsistent"),
    /** A consistent copy that is known to be older than the data of another node. */
    OUTDATED("Outdated"),
    /** A consistent copy; whether it is the newest is not known yet (no peer reachable). */
    CONSISTENT("Consistent"),
    /** A consistent copy of the newest data. */
    UP_TO_DATE("UpToDate"),
    /** A peer's disk whose state is not known (the peer is not connected). */
    D_UNKNOWN("DUnknown");

    private final String displayName;

    DiskState(final String displayName)
    {
        this.displayName = displayName;
    }

    /** @return the name shown by status and events. */
    public String displayName()
    {
        return displayName;
    }

    /**
     * @param code from {@link #ordinal()}, as carried on the wire.
     * @return the state, or null for an unknown code.
     */
    public static DiskState ofCode(final int code)
    {
        final DiskState[] all = values();
        return code >= 0 && code < all.length ? all[code] : null;
    }
}
