package io.mirra.nbd.spi;

import io.mirra.nbd.protocol.NbdProtocol;

import java.util.Objects;

/**
 * Thrown by {@link NbdBackend#open(String)} to refuse a connection the export, with an NBD option error and a message
 * for the client. With NBD_OPT_GO the client receives both and may try another export or abort; with
 * NBD_OPT_EXPORT_NAME, which has no error reply, the server closes the connection and logs the message.
 * <p>
 * A refusal is an expected answer, not a failure of the server: the exception records no stack trace.
 */
public final class NbdOpenRefusedException extends Exception
{
    private static final long serialVersionUID = 1L;

    private final int nbdError;

    /**
     * @param nbdError an option error reply type ({@code NbdProtocol.REP_ERR_*}, with
     *                 {@link NbdProtocol#REP_FLAG_ERROR} set), for example {@link NbdProtocol#REP_ERR_POLICY}
     *                 (refused by policy) or {@link NbdProtocol#REP_ERR_UNKNOWN} (export not available now).
     * @param message  why, in words for the person at the client; sent as UTF-8, cut to 4096 bytes.
     * @throws IllegalArgumentException if {@code nbdError} is not an error reply type.
     */
    public NbdOpenRefusedException(final int nbdError, final String message)
    {
        super(Objects.requireNonNull(message, "message"), null, false, false);
        if ((nbdError & NbdProtocol.REP_FLAG_ERROR) == 0)
        {
            throw new IllegalArgumentException("not an NBD_REP_ERR_* reply type: 0x" + Integer.toHexString(nbdError));
        }
        this.nbdError = nbdError;
    }

    /**
     * @return the option error reply type sent to the client ({@code NbdProtocol.REP_ERR_*}).
     */
    public int nbdError()
    {
        return nbdError;
    }
}
