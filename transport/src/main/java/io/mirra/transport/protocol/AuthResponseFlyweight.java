package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.MAC_LENGTH;

/**
 * Body of {@link ReplicationProtocol#AUTH_RESPONSE}: the sender's proof that it knows the resource's shared secret.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |            HMAC-SHA256 (32 bytes)                             |  0
 *  |                          ...                                  |
 *  +---------------------------------------------------------------+
 * </pre>
 * The MAC is {@code HMAC-SHA256(secret, peerNonce || u8 senderRole || u8 len || senderNodeName || u8 len ||
 * resourceName || u8 streamKind)}, where {@code peerNonce} is the nonce of the HELLO the sender received and
 * {@code senderRole} is {@link ReplicationProtocol#ROLE_CONNECTOR} or {@link ReplicationProtocol#ROLE_ACCEPTOR}.
 * The role stops a man in the middle from dialling two nodes and having each, as acceptor, sign the other's nonce.
 * The secret itself never travels. Threading: owned by one thread; not thread-safe.
 */
public final class AuthResponseFlyweight
{
    /** Offset of the MAC. */
    public static final int MAC_OFFSET = 0;
    /** Length of the body. */
    public static final int LENGTH = MAC_OFFSET + MAC_LENGTH;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding at least {@link #LENGTH} bytes from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public AuthResponseFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /**
     * @param dst receives the {@link ReplicationProtocol#MAC_LENGTH} MAC bytes.
     * @return dst.
     */
    public byte[] getMac(final byte[] dst)
    {
        buffer.getBytes(offset + MAC_OFFSET, dst, 0, MAC_LENGTH);
        return dst;
    }

    /**
     * @param mac exactly {@link ReplicationProtocol#MAC_LENGTH} bytes.
     * @return this.
     */
    public AuthResponseFlyweight putMac(final byte[] mac)
    {
        if (mac.length != MAC_LENGTH)
        {
            throw new IllegalArgumentException("MAC must be " + MAC_LENGTH + " bytes: " + mac.length);
        }
        buffer.putBytes(offset + MAC_OFFSET, mac);
        return this;
    }
}
