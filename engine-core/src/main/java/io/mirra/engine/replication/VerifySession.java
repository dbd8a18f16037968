package io.mirra.engine.replication;

import java.util.concurrent.CompletableFuture;

/** An online verify of one volume against one peer, on the verifying node. Guarded by the resource's lock. */
final class VerifySession
{
    /** Bytes per digest: the smallest bitmap block, so a difference marks as little as possible. */
    static final int BLOCK_SIZE = 4096;
    /** Ranges in flight. */
    static final int MAX_IN_FLIGHT = 8;

    final PeerState peer;
    final int volume;
    final long size;
    final CompletableFuture<Long> done = new CompletableFuture<>();
    long cursor;
    int inFlight;
    long checkedBytes;
    long differingBytes;
    String failure;

    VerifySession(final PeerState peer, final int volume, final long size)
    {
        this.peer = peer;
        this.volume = volume;
        this.size = size;
    }

    boolean finished()
    {
        return inFlight == 0 && (cursor >= size || failure != null);
    }
}
