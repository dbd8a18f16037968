package io.mirra.engine.replication;

/**
 * What happens when two copies are found unrelated (split brain) on connect: DRBD's after-sb-0pri (no side
 * Primary) and after-sb-1pri (one side Primary) policies. With both sides Primary the connection always stays down.
 * The side chosen to lose (the victim) becomes a copy of the other by resync, its changes since the split dropped.
 */
public enum SplitBrainPolicy
{
    /** Keep the connection down (StandAlone) until an operator decides ({@code connect --discard-my-data}). */
    DISCONNECT("disconnect"),
    /** No side Primary: a side that changed nothing since the split loses; if both changed something, disconnect. */
    DISCARD_ZERO_CHANGES("discard-zero-changes"),
    /** No side Primary: the side that became Primary later loses. */
    DISCARD_YOUNGER_PRIMARY("discard-younger-primary"),
    /** No side Primary: the side with fewer changed bytes loses (a tie: the younger Primary loses). */
    DISCARD_LEAST_CHANGES("discard-least-changes"),
    /** One side Primary: the Secondary loses. */
    DISCARD_SECONDARY("discard-secondary"),
    /** One side Primary: the no-Primary policy decides, if it makes the Secondary lose; otherwise disconnect. */
    CONSENSUS("consensus");

    private final String configName;

    SplitBrainPolicy(final String configName)
    {
        this.configName = configName;
    }

    /** @return the name in the configuration. */
    public String configName()
    {
        return configName;
    }
}
