package io.mirra.engine.replication;

/** When a replicated write completes, per connection (SPEC §1). */
public enum Protocol
{
    /** Asynchronous: written locally and queued for the peer (within a bounded amount of unacknowledged data). */
    A,
    /** Memory-synchronous: written locally and received by the peer. */
    B,
    /** Synchronous: written locally and on the peer's disk. */
    C
}
