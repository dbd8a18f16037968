package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import java.nio.charset.StandardCharsets;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;
import static io.mirra.transport.protocol.ReplicationProtocol.MAX_REFUSE_MESSAGE_LENGTH;

/**
 * Body of {@link ReplicationProtocol#REFUSE}: why the sender refuses the connection (it closes right after).
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-------------------------------+-------------------------------+
 *  |         Reason (u16)          |     Message Length (u16)      |  0
 *  +-------------------------------+-------------------------------+
 *  |                 Message (UTF-8, Message Length bytes) ...     |  4
 * </pre>
 * Reasons are the {@code REFUSE_*} codes of {@link ReplicationProtocol}; the message is at most
 * {@link ReplicationProtocol#MAX_REFUSE_MESSAGE_LENGTH} bytes and must fill the body exactly.
 * Threading: owned by one thread; not thread-safe.
 */
public final class RefuseFlyweight
{
    /** Offset of the reason code. */
    public static final int REASON_OFFSET = 0;
    /** Offset of the message length. */
    public static final int MESSAGE_LENGTH_OFFSET = 2;
    /** Offset of the message. */
    public static final int MESSAGE_OFFSET = 4;
    /** Shortest body (empty message). */
    public static final int MIN_LENGTH = MESSAGE_OFFSET;
    /** Longest body. */
    public static final int MAX_LENGTH = MESSAGE_OFFSET + MAX_REFUSE_MESSAGE_LENGTH;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding the body from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public RefuseFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /**
     * Encoded length of a refusal carrying this message (truncated to the maximum, see {@link #message(String)}).
     *
     * @param message text.
     * @return body length in bytes.
     */
    public static int encodedLength(final String message)
    {
        return MESSAGE_OFFSET + truncatedUtf8(message).length;
    }

    /**
     * Check a received body before reading it.
     *
     * @param length of the body.
     * @return null when well-formed, else what is wrong.
     */
    public String validate(final int length)
    {
        if (length < MIN_LENGTH || length > MAX_LENGTH)
        {
            return "REFUSE body of " + length + " bytes, expected " + MIN_LENGTH + ".." + MAX_LENGTH;
        }
        if (MESSAGE_OFFSET + messageLength() != length)
        {
            return "REFUSE message length " + messageLength() + " does not fill the body of " + length + " bytes";
        }
        return null;
    }

    /** @return reason code. */
    public int reason()
    {
        return buffer.getShort(offset + REASON_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * @param reason code.
     * @return this.
     */
    public RefuseFlyweight reason(final int reason)
    {
        buffer.putShort(offset + REASON_OFFSET, (short)reason, BYTE_ORDER);
        return this;
    }

    /** @return message length in bytes. */
    public int messageLength()
    {
        return buffer.getShort(offset + MESSAGE_LENGTH_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /** @return the message (validate first). */
    public String message()
    {
        return buffer.getStringWithoutLengthUtf8(offset + MESSAGE_OFFSET, messageLength());
    }

    /**
     * Write the message and its length; a message longer than the maximum is truncated at a character boundary.
     *
     * @param message text.
     * @return this.
     */
    public RefuseFlyweight message(final String message)
    {
        final byte[] bytes = truncatedUtf8(message);
        buffer.putShort(offset + MESSAGE_LENGTH_OFFSET, (short)bytes.length, BYTE_ORDER);
        buffer.putBytes(offset + MESSAGE_OFFSET, bytes);
        return this;
    }

    private static byte[] truncatedUtf8(final String message)
    {
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        int chars = message.length();
        while (bytes.length > MAX_REFUSE_MESSAGE_LENGTH)
        {
            chars = (int)Math.min(chars - 1, (long)chars * (MAX_REFUSE_MESSAGE_LENGTH - 3) / bytes.length);
            bytes = (message.substring(0, Math.max(0, chars)) + "...").getBytes(StandardCharsets.UTF_8);
        }
        return bytes;
    }
}
