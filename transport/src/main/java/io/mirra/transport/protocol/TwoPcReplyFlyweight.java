package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import java.nio.charset.StandardCharsets;

import static io.mirra.transport.protocol.ReplicationProtocol.BYTE_ORDER;
import static io.mirra.transport.protocol.ReplicationProtocol.MAX_REFUSE_MESSAGE_LENGTH;

/**
 * Body of {@link ReplicationProtocol#TWOPC_REPLY} (control stream): a peer's answer to a
 * {@link ReplicationProtocol#TWOPC_PREPARE} ({@link TwoPcFlyweight}) with the same transaction id.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                 Transaction Id (u64)                          |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                      Verdict (u32)                            |  8
 *  +---------------------------------------------------------------+
 *  |                  Message Length (u32)                         | 12
 *  +---------------------------------------------------------------+
 *  |                 Message (UTF-8, Message Length bytes) ...     | 16
 * </pre>
 * The verdict is {@link ReplicationProtocol#TWOPC_YES} or {@link ReplicationProtocol#TWOPC_NO}; the message says
 * why (normally empty for YES), is at most {@link ReplicationProtocol#MAX_REFUSE_MESSAGE_LENGTH} bytes and must
 * fill the body exactly (the decoder checks this). Threading: owned by one thread; not thread-safe.
 */
public final class TwoPcReplyFlyweight
{
    /** Offset of the transaction id. */
    public static final int TX_ID_OFFSET = 0;
    /** Offset of the verdict. */
    public static final int VERDICT_OFFSET = 8;
    /** Offset of the message length. */
    public static final int MESSAGE_LENGTH_OFFSET = 12;
    /** Offset of the message. */
    public static final int MESSAGE_OFFSET = 16;
    /** Shortest body (empty message). */
    public static final int MIN_LENGTH = MESSAGE_OFFSET;
    /** Longest body. */
    public static final int MAX_LENGTH = MESSAGE_OFFSET + MAX_REFUSE_MESSAGE_LENGTH;

    private static final String ELLIPSIS = "...";

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding the body from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public TwoPcReplyFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /**
     * Encoded length of a reply carrying this message (truncated to the maximum, see {@link #message(String)}).
     *
     * @param message text, null for none.
     * @return body length in bytes.
     */
    public static int encodedLength(final String message)
    {
        return MESSAGE_OFFSET + truncatedUtf8(message).length;
    }

    /** @return the transaction id of the answered PREPARE. */
    public long txId()
    {
        return buffer.getLong(offset + TX_ID_OFFSET, BYTE_ORDER);
    }

    /**
     * @param txId of the answered PREPARE.
     * @return this.
     */
    public TwoPcReplyFlyweight txId(final long txId)
    {
        buffer.putLong(offset + TX_ID_OFFSET, txId, BYTE_ORDER);
        return this;
    }

    /** @return the verdict, {@code TWOPC_YES} or {@code TWOPC_NO} (u32 read as an int). */
    public int verdict()
    {
        return buffer.getInt(offset + VERDICT_OFFSET, BYTE_ORDER);
    }

    /**
     * @param verdict {@link ReplicationProtocol#TWOPC_YES} or {@link ReplicationProtocol#TWOPC_NO}.
     * @return this.
     */
    public TwoPcReplyFlyweight verdict(final int verdict)
    {
        buffer.putInt(offset + VERDICT_OFFSET, verdict, BYTE_ORDER);
        return this;
    }

    /** @return message length in bytes (u32, widened). */
    public long messageLength()
    {
        return buffer.getInt(offset + MESSAGE_LENGTH_OFFSET, BYTE_ORDER) & 0xFFFF_FFFFL;
    }

    /** @return the message (the decoder has checked its length). */
    public String message()
    {
        return buffer.getStringWithoutLengthUtf8(offset + MESSAGE_OFFSET, (int)messageLength());
    }

    /**
     * Write the message and its length; a message longer than the maximum is truncated between two characters
     * (never inside a UTF-8 sequence or a surrogate pair) and ends with "...".
     *
     * @param message text, null for none.
     * @return this.
     */
    public TwoPcReplyFlyweight message(final String message)
    {
        final byte[] bytes = truncatedUtf8(message);
        buffer.putInt(offset + MESSAGE_LENGTH_OFFSET, bytes.length, BYTE_ORDER);
        buffer.putBytes(offset + MESSAGE_OFFSET, bytes);
        return this;
    }

    private static byte[] truncatedUtf8(final String message)
    {
        if (message == null)
        {
            return new byte[0];
        }
        final byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= MAX_REFUSE_MESSAGE_LENGTH)
        {
            return bytes;
        }
        final int budget = MAX_REFUSE_MESSAGE_LENGTH - ELLIPSIS.length();
        int encoded = 0;
        int end = 0;
        while (end < message.length())
        {
            final int codePoint = message.codePointAt(end);
            final int size = utf8Length(codePoint);
            if (encoded + size > budget)
            {
                break;
            }
            encoded += size;
            end += Character.charCount(codePoint);
        }
        return (message.substring(0, end) + ELLIPSIS).getBytes(StandardCharsets.UTF_8);
    }

    private static int utf8Length(final int codePoint)
    {
        if (codePoint < 0x80 || (codePoint <= 0xFFFF && Character.isSurrogate((char)codePoint)))
        {
            return 1; // ASCII, or a lone surrogate, which the encoder replaces with '?'
        }
        if (codePoint < 0x800)
        {
            return 2;
        }
        return codePoint <= 0xFFFF ? 3 : 4;
    }
}
