package io.mirra.transport;

import io.mirra.transport.protocol.ReplicationProtocol;

/**
 * The two streams (TCP connections) of a {@link PeerLink}: bulk data and small urgent control messages, so that
 * acknowledgements never wait behind megabytes of queued writes.
 */
public enum StreamKind
{
    /**
     * Writes, flushes, trims, write-zeroes, read requests and read replies, and state (sent here so that it is
     * ordered with the writes); later: barriers, resync data, bitmap chunks.
     */
    DATA(ReplicationProtocol.STREAM_DATA),
    /** Write acknowledgements, pings and two-phase commits (prepare, reply, commit, abort). */
    CONTROL(ReplicationProtocol.STREAM_CONTROL);

    private final int wireCode;

    StreamKind(final int wireCode)
    {
        this.wireCode = wireCode;
    }

    /** @return the HELLO stream kind code, {@link ReplicationProtocol#STREAM_DATA} or {@code STREAM_CONTROL}. */
    public int wireCode()
    {
        return wireCode;
    }

    /**
     * @param wireCode a HELLO stream kind code.
     * @return the stream kind.
     * @throws IllegalArgumentException for an unknown code.
     */
    public static StreamKind ofWireCode(final int wireCode)
    {
        switch (wireCode)
        {
            case ReplicationProtocol.STREAM_DATA: return DATA;
            case ReplicationProtocol.STREAM_CONTROL: return CONTROL;
            default: throw new IllegalArgumentException("stream kind " + wireCode);
        }
    }
}
