package io.mirra.engine.replication;

/** State of the connection to one peer (DRBD's names). */
public enum ConnectionState
{
    /** Not trying to connect (disconnected by the operator, or refusing after split brain). */
    STAND_ALONE("StandAlone"),
    /** Trying to connect or waiting for the peer. */
    CONNECTING("Connecting"),
    /** Both streams up and states exchanged. */
    CONNECTED("Connected"),
    /** Going down. */
    DISCONNECTING("Disconnecting");

    private final String displayName;

    ConnectionState(final String displayName)
    {
        this.displayName = displayName;
    }

    /** @return the name shown by status and events. */
    public String displayName()
    {
        return displayName;
    }
}
