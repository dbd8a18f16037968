package io.mirra.transport.protocol;

import org.agrona.MutableDirectBuffer;

import static io.mirra.transport.protocol.ReplicationProtocol.*;

/**
 * View over the 24-byte frame header declared (with its diagram) in {@link ReplicationProtocol}. Fields are
 * little-endian; unsigned fields are returned widened ({@code int} for u16, {@code long} for u32).
 * <p>
 * The flyweight does not validate: the decoder checks each field against {@link ReplicationProtocol} before it
 * trusts it. Threading: a flyweight is mutable state, owned by one thread (an event loop); not thread-safe.
 */
public final class FrameHeaderFlyweight
{
    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * Point this flyweight at a header.
     *
     * @param buffer holding at least {@link ReplicationProtocol#HEADER_LENGTH} bytes from {@code offset}.
     * @param offset of the header in the buffer.
     * @return this.
     */
    public FrameHeaderFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /**
     * Fill in a complete header, magic included.
     *
     * @param version    protocol version of the frame.
     * @param type       message type id.
     * @param flags      frame flags.
     * @param volume     volume number.
     * @param bodyLength body length in bytes.
     * @param sequence   stream sequence.
     * @return this.
     */
    public FrameHeaderFlyweight set(
        final int version, final int type, final int flags, final int volume, final int bodyLength,
        final long sequence)
    {
        return magic(MAGIC).version(version).type(type).flags(flags).volume(volume).bodyLength(bodyLength)
            .sequence(sequence);
    }

    /** @return the magic as a little-endian int ({@link ReplicationProtocol#MAGIC} when valid). */
    public int magic()
    {
        return buffer.getInt(offset + MAGIC_OFFSET, BYTE_ORDER);
    }

    /**
     * @param magic value to write.
     * @return this.
     */
    public FrameHeaderFlyweight magic(final int magic)
    {
        buffer.putInt(offset + MAGIC_OFFSET, magic, BYTE_ORDER);
        return this;
    }

    /** @return protocol version (u16). */
    public int version()
    {
        return buffer.getShort(offset + VERSION_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * @param version u16.
     * @return this.
     */
    public FrameHeaderFlyweight version(final int version)
    {
        buffer.putShort(offset + VERSION_OFFSET, (short)version, BYTE_ORDER);
        return this;
    }

    /** @return message type (u16). */
    public int type()
    {
        return buffer.getShort(offset + TYPE_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * @param type u16.
     * @return this.
     */
    public FrameHeaderFlyweight type(final int type)
    {
        buffer.putShort(offset + TYPE_OFFSET, (short)type, BYTE_ORDER);
        return this;
    }

    /** @return frame flags (u16). */
    public int flags()
    {
        return buffer.getShort(offset + FLAGS_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * @param flags u16.
     * @return this.
     */
    public FrameHeaderFlyweight flags(final int flags)
    {
        buffer.putShort(offset + FLAGS_OFFSET, (short)flags, BYTE_ORDER);
        return this;
    }

    /** @return volume number (u16). */
    public int volume()
    {
        return buffer.getShort(offset + VOLUME_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * @param volume u16.
     * @return this.
     */
    public FrameHeaderFlyweight volume(final int volume)
    {
        buffer.putShort(offset + VOLUME_OFFSET, (short)volume, BYTE_ORDER);
        return this;
    }

    /** @return body length (u32, widened). */
    public long bodyLength()
    {
        return buffer.getInt(offset + BODY_LENGTH_OFFSET, BYTE_ORDER) & 0xFFFF_FFFFL;
    }

    /**
     * @param bodyLength u32 (a non-negative int here).
     * @return this.
     */
    public FrameHeaderFlyweight bodyLength(final int bodyLength)
    {
        buffer.putInt(offset + BODY_LENGTH_OFFSET, bodyLength, BYTE_ORDER);
        return this;
    }

    /** @return stream sequence (u64). */
    public long sequence()
    {
        return buffer.getLong(offset + SEQUENCE_OFFSET, BYTE_ORDER);
    }

    /**
     * @param sequence u64.
     * @return this.
     */
    public FrameHeaderFlyweight sequence(final long sequence)
    {
        buffer.putLong(offset + SEQUENCE_OFFSET, sequence, BYTE_ORDER);
        return this;
    }
}
