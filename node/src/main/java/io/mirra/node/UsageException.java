package io.mirra.node;

/**
 * A command-line mistake: printed as one line on stderr, exit code 2.
 */
public final class UsageException extends Exception
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what is wrong, naming the option or argument.
     */
    public UsageException(final String message)
    {
        super(message);
    }
}
