package io.mirra.engine.storage;

import java.io.IOException;

/**
 * A storage failure with the POSIX errno that best describes it.
 */
public final class StorageException extends IOException
{
    private static final long serialVersionUID = 1L;

    /** Operation not permitted. */
    public static final int EPERM = 1;
    /** Input/output error. */
    public static final int EIO = 5;
    /** Bad file descriptor (the store was closed). */
    public static final int EBADF = 9;
    /** Out of memory. */
    public static final int ENOMEM = 12;
    /** Invalid argument (range, alignment). */
    public static final int EINVAL = 22;
    /** No space left on device. */
    public static final int ENOSPC = 28;
    /** Read-only file system. */
    public static final int EROFS = 30;
    /** Operation not supported. */
    public static final int ENOTSUP = 95;

    private final int errno;

    /**
     * @param errno   the POSIX errno.
     * @param message what failed, naming the operation, offset and length.
     * @param cause   the underlying exception, or null.
     */
    public StorageException(final int errno, final String message, final Throwable cause)
    {
        super(message, cause);
        this.errno = errno;
    }

    /**
     * @param errno   the POSIX errno.
     * @param message what failed, naming the operation, offset and length.
     */
    public StorageException(final int errno, final String message)
    {
        this(errno, message, null);
    }

    /**
     * @return the POSIX errno of this failure.
     */
    public int errno()
    {
        return errno;
    }
}
