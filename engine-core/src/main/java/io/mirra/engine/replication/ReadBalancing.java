package io.mirra.engine.replication;

/** How a node without an UpToDate local copy picks the peer that serves a read. */
public enum ReadBalancing
{
    /** Each read goes to the next UpToDate peer in turn. */
    ROUND_ROBIN,
    /** Each read goes to the UpToDate peer with the fewest reads outstanding (ties: the lowest node id). */
    LEAST_PENDING
}
