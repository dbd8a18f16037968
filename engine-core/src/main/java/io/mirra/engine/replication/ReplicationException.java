package io.mirra.engine.replication;

/** A role change or other resource operation was refused; the message is one line saying why. */
public final class ReplicationException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message why.
     */
    public ReplicationException(final String message)
    {
        super(message, null, false, false);
    }
}
