package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import java.nio.charset.StandardCharsets;

import static io.mirra.transport.protocol.ReplicationProtocol.*;

/**
 * Body of {@link ReplicationProtocol#HELLO}, the first message of each stream's handshake: who the sender is, which
 * resource and stream it means, the versions and features it speaks, its volume sizes and a fresh nonce for the
 * peer to authenticate against.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-------------------------------+-------------------------------+
 *  |      Min Version (u16)        |      Max Version (u16)        |  0
 *  +---------------+---------------+-------------------------------+
 *  |  Stream Kind  |   Reserved    |      Volume Count (u16)       |  4
 *  +---------------+---------------+-------------------------------+
 *  |                      Features (u64)                           |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                     Nonce (32 bytes)                          | 16
 *  |                           ...                                 |
 *  +---------------------------------------------------------------+
 *  |          Volume Sizes (u64 bytes each, Volume Count)  ...     | 48
 *  +---------------+-----------------------------------------------+
 *  |  Node Name Len|  Node Name (UTF-8) ...                        |
 *  +---------------+-----------------------------------------------+
 *  |  Resource Len |  Resource Name (UTF-8) ...                    |
 *  +---------------+-----------------------------------------------+
 * </pre>
 * Volume count is 1..{@link ReplicationProtocol#MAX_VOLUMES}, names 1..{@link ReplicationProtocol#MAX_NAME_LENGTH}
 * bytes, and the fields must fill the body exactly ({@link #validate(int)}).
 * <p>
 * Encoding order: {@link #volumeSizes(long[])} before {@link #names(String, String)}, since the names follow the
 * sizes. Threading: owned by one thread; not thread-safe.
 */
public final class HelloFlyweight
{
    /** Offset of the lowest version the sender speaks. */
    public static final int MIN_VERSION_OFFSET = 0;
    /** Offset of the highest version the sender speaks. */
    public static final int MAX_VERSION_OFFSET = 2;
    /** Offset of the stream kind (u8). */
    public static final int STREAM_KIND_OFFSET = 4;
    /** Offset of the reserved byte (zero). */
    public static final int RESERVED_OFFSET = 5;
    /** Offset of the volume count. */
    public static final int VOLUME_COUNT_OFFSET = 6;
    /** Offset of the feature bits. */
    public static final int FEATURES_OFFSET = 8;
    /** Offset of the nonce. */
    public static final int NONCE_OFFSET = 16;
    /** Offset of the first volume size. */
    public static final int VOLUME_SIZES_OFFSET = NONCE_OFFSET + NONCE_LENGTH;
    /** Shortest body the framing allows (no volumes, empty names; {@link #validate(int)} is stricter). */
    public static final int MIN_LENGTH = VOLUME_SIZES_OFFSET + 2;
    /** Longest body. */
    public static final int MAX_LENGTH = VOLUME_SIZES_OFFSET + MAX_VOLUMES * Long.BYTES + 2 * (1 + MAX_NAME_LENGTH);

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer holding the body from {@code offset}.
     * @param offset of the body.
     * @return this.
     */
    public HelloFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /**
     * Encoded length of a HELLO.
     *
     * @param volumeCount  number of volumes.
     * @param nodeName     sender's node name.
     * @param resourceName resource name.
     * @return body length in bytes.
     */
    public static int encodedLength(final int volumeCount, final String nodeName, final String resourceName)
    {
        return VOLUME_SIZES_OFFSET + volumeCount * Long.BYTES + 1 + utf8Length(nodeName) + 1 +
            utf8Length(resourceName);
    }

    /**
     * Check a received body before reading its variable part. Allocates only to describe a failure.
     *
     * @param length of the body.
     * @return null when well-formed, else what is wrong.
     */
    public String validate(final int length)
    {
        if (length < MIN_LENGTH || length > MAX_LENGTH)
        {
            return "HELLO body of " + length + " bytes, expected " + MIN_LENGTH + ".." + MAX_LENGTH;
        }
        final int volumeCount = volumeCount();
        if (volumeCount < 1 || volumeCount > MAX_VOLUMES)
        {
            return "HELLO volume count " + volumeCount + ", expected 1.." + MAX_VOLUMES;
        }
        final int nodeNameAt = nodeNameLengthOffset();
        if (nodeNameAt + 1 > length)
        {
            return "HELLO with " + volumeCount + " volumes does not fit its body of " + length + " bytes";
        }
        final int nodeNameLength = nodeNameLength();
        final int resourceAt = nodeNameAt + 1 + nodeNameLength;
        if (nodeNameLength < 1 || resourceAt + 1 > length)
        {
            return "HELLO node name length " + nodeNameLength + " invalid for a body of " + length + " bytes";
        }
        final int resourceNameLength = buffer.getByte(offset + resourceAt) & 0xFF;
        if (resourceNameLength < 1 || resourceAt + 1 + resourceNameLength != length)
        {
            return "HELLO resource name length " + resourceNameLength + " does not fill a body of " + length +
                " bytes";
        }
        final int streamKind = streamKind();
        if (streamKind != STREAM_DATA && streamKind != STREAM_CONTROL)
        {
            return "HELLO stream kind " + streamKind + " unknown";
        }
        if (minVersion() < 1 || minVersion() > maxVersion())
        {
            return "HELLO version range " + minVersion() + ".." + maxVersion() + " invalid";
        }
        for (int i = 0; i < volumeCount; i++)
        {
            if (volumeSize(i) < 0)
            {
                return "HELLO volume " + i + " size " + Long.toUnsignedString(volumeSize(i)) + " out of range";
            }
        }
        return null;
    }

    /** @return lowest version the sender speaks. */
    public int minVersion()
    {
        return buffer.getShort(offset + MIN_VERSION_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * @param version u16.
     * @return this.
     */
    public HelloFlyweight minVersion(final int version)
    {
        buffer.putShort(offset + MIN_VERSION_OFFSET, (short)version, BYTE_ORDER);
        return this;
    }

    /** @return highest version the sender speaks. */
    public int maxVersion()
    {
        return buffer.getShort(offset + MAX_VERSION_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * @param version u16.
     * @return this.
     */
    public HelloFlyweight maxVersion(final int version)
    {
        buffer.putShort(offset + MAX_VERSION_OFFSET, (short)version, BYTE_ORDER);
        return this;
    }

    /** @return {@link ReplicationProtocol#STREAM_DATA} or {@link ReplicationProtocol#STREAM_CONTROL}. */
    public int streamKind()
    {
        return buffer.getByte(offset + STREAM_KIND_OFFSET) & 0xFF;
    }

    /**
     * @param streamKind stream kind; also zeroes the reserved byte.
     * @return this.
     */
    public HelloFlyweight streamKind(final int streamKind)
    {
        buffer.putByte(offset + STREAM_KIND_OFFSET, (byte)streamKind);
        buffer.putByte(offset + RESERVED_OFFSET, (byte)0);
        return this;
    }

    /** @return feature bits. */
    public long features()
    {
        return buffer.getLong(offset + FEATURES_OFFSET, BYTE_ORDER);
    }

    /**
     * @param features bits.
     * @return this.
     */
    public HelloFlyweight features(final long features)
    {
        buffer.putLong(offset + FEATURES_OFFSET, features, BYTE_ORDER);
        return this;
    }

    /**
     * @param dst receives the {@link ReplicationProtocol#NONCE_LENGTH} nonce bytes.
     * @return dst.
     */
    public byte[] getNonce(final byte[] dst)
    {
        buffer.getBytes(offset + NONCE_OFFSET, dst, 0, NONCE_LENGTH);
        return dst;
    }

    /**
     * @param nonce exactly {@link ReplicationProtocol#NONCE_LENGTH} bytes.
     * @return this.
     */
    public HelloFlyweight putNonce(final byte[] nonce)
    {
        if (nonce.length != NONCE_LENGTH)
        {
            throw new IllegalArgumentException("nonce must be " + NONCE_LENGTH + " bytes: " + nonce.length);
        }
        buffer.putBytes(offset + NONCE_OFFSET, nonce);
        return this;
    }

    /** @return number of volumes. */
    public int volumeCount()
    {
        return buffer.getShort(offset + VOLUME_COUNT_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * @param index volume number, below {@link #volumeCount()}.
     * @return its size in bytes.
     */
    public long volumeSize(final int index)
    {
        return buffer.getLong(offset + VOLUME_SIZES_OFFSET + index * Long.BYTES, BYTE_ORDER);
    }

    /**
     * Write the volume count and sizes.
     *
     * @param sizes size of each volume in bytes, 1..{@link ReplicationProtocol#MAX_VOLUMES} of them.
     * @return this.
     */
    public HelloFlyweight volumeSizes(final long[] sizes)
    {
        if (sizes.length < 1 || sizes.length > MAX_VOLUMES)
        {
            throw new IllegalArgumentException("volume count " + sizes.length + ", expected 1.." + MAX_VOLUMES);
        }
        buffer.putShort(offset + VOLUME_COUNT_OFFSET, (short)sizes.length, BYTE_ORDER);
        for (int i = 0; i < sizes.length; i++)
        {
            buffer.putLong(offset + VOLUME_SIZES_OFFSET + i * Long.BYTES, sizes[i], BYTE_ORDER);
        }
        return this;
    }

    /** @return the sender's node name (validate first). */
    public String nodeName()
    {
        return buffer.getStringWithoutLengthUtf8(offset + nodeNameLengthOffset() + 1, nodeNameLength());
    }

    /** @return the resource name (validate first). */
    public String resourceName()
    {
        final int at = nodeNameLengthOffset() + 1 + nodeNameLength();
        return buffer.getStringWithoutLengthUtf8(offset + at + 1, buffer.getByte(offset + at) & 0xFF);
    }

    /**
     * Write both names, after {@link #volumeSizes(long[])}.
     *
     * @param nodeName     sender's node name, 1..255 UTF-8 bytes.
     * @param resourceName resource name, 1..255 UTF-8 bytes.
     * @return this.
     */
    public HelloFlyweight names(final String nodeName, final String resourceName)
    {
        final int at = putName(nodeNameLengthOffset(), nodeName);
        putName(at, resourceName);
        return this;
    }

    /**
     * Check a name against the protocol's bounds.
     *
     * @param what for the message.
     * @param name to check.
     * @return the name.
     * @throws IllegalArgumentException when empty or longer than {@link ReplicationProtocol#MAX_NAME_LENGTH} bytes.
     */
    public static String checkName(final String what, final String name)
    {
        final int length = utf8Length(name);
        if (length < 1 || length > MAX_NAME_LENGTH)
        {
            throw new IllegalArgumentException(what + " must be 1.." + MAX_NAME_LENGTH + " UTF-8 bytes: " + length);
        }
        return name;
    }

    private int putName(final int at, final String name)
    {
        final byte[] bytes = checkName("name", name).getBytes(StandardCharsets.UTF_8);
        buffer.putByte(offset + at, (byte)bytes.length);
        buffer.putBytes(offset + at + 1, bytes);
        return at + 1 + bytes.length;
    }

    private int nodeNameLengthOffset()
    {
        return VOLUME_SIZES_OFFSET + volumeCount() * Long.BYTES;
    }

    private int nodeNameLength()
    {
        return buffer.getByte(offset + nodeNameLengthOffset()) & 0xFF;
    }

    private static int utf8Length(final String value)
    {
        return value.getBytes(StandardCharsets.UTF_8).length;
    }
}
