package io.mirra.engine.replication;

/** Role of a node in a resource (DRBD's names). */
public enum Role
{
    /** The node whose exports accept writes. */
    PRIMARY("Primary"),
    /** Exports refuse writes; the node applies the Primary's writes. */
    SECONDARY("Secondary"),
    /** A peer whose role is not known (not connected). */
    UNKNOWN("Unknown");

    private final String displayName;

    Role(final String displayName)
    {
        this.displayName = displayName;
    }

    /** @return the name shown by status and events, as DRBD prints it. */
    public String displayName()
    {
        return displayName;
    }
}
