package io.mirra.transport.netty;

import io.netty.handler.codec.DecoderException;

/**
 * Why {@link FrameDecoder} closed a stream. Not thrown: the decoder logs it, fires it as a user event (so the
 * connection's owner can say why the link went down) and closes the channel. No stack trace is captured.
 */
public final class FrameDecodingException extends DecoderException
{
    private static final long serialVersionUID = 1L;

    /** The specific reason, one per check. */
    public enum Reason
    {
        /** The first four bytes are not "MIRA": not our protocol, or the stream lost its framing. */
        BAD_MAGIC,
        /** The header's version is not the one this stream speaks. */
        UNSUPPORTED_VERSION,
        /** The type id is not declared (reserved ids included). */
        UNKNOWN_TYPE,
        /** A declared type that is not allowed in this phase or on this stream (e.g. WRITE before the handshake). */
        UNEXPECTED_TYPE,
        /**
         * Frame, write, range, state or resync flags with undefined bits set, or a RESYNC_DATA with any write flag.
         */
        BAD_FLAGS,
        /**
         * A body field out of its range: a reserved field that is not zero, an unknown code (role, disk state,
         * two-phase commit kind or verdict), or an offset, length or count outside its bounds.
         */
        BAD_FIELD,
        /** A volume number at or above the protocol's maximum. */
        BAD_VOLUME,
        /** A body length above the maximum for the type: refused before anything is received or allocated. */
        FRAME_TOO_LONG,
        /** A body length inconsistent with the type's fixed size, or with the lengths inside the body. */
        BAD_LENGTH,
        /** The stream sequence is not the previous one plus one. */
        SEQUENCE_GAP
    }

    private final Reason reason;

    /**
     * @param reason the check that failed.
     * @param detail what was received and what was expected.
     */
    public FrameDecodingException(final Reason reason, final String detail)
    {
        super(reason + ": " + detail);
        this.reason = reason;
    }

    /** @return the check that failed. */
    public Reason reason()
    {
        return reason;
    }

    /** {@inheritDoc} */
    @Override
    public synchronized Throwable fillInStackTrace()
    {
        return this;
    }
}
