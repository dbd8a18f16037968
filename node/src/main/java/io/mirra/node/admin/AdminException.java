package io.mirra.node.admin;

/** An admin operation was refused; the message is the one line the CLI prints. */
public final class AdminException extends Exception
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message one line saying why.
     */
    public AdminException(final String message)
    {
        super(message);
    }
}
