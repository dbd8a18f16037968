package io.mirra.transport.netty;

import io.mirra.transport.protocol.ReadReplyFlyweight;
import io.mirra.transport.protocol.ReplicationProtocol;
import io.mirra.transport.protocol.WriteFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;

/**
 * One frame of the replication protocol: the header fields and the body.
 * <p>
 * <b>Inbound</b> ({@link FrameDecoder} output) a frame carries every header field, and its body is a retained slice
 * (or a composite of retained slices) of the buffers the socket filled: a write's (resync data's, read reply's)
 * data is never copied, and the engine writes it to disk (or hands it to the reader) from there. <b>The consumer
 * owns the frame and must {@link #release()} it</b> (which releases the body) once done, possibly on another
 * thread.
 * <p>
 * <b>Outbound</b> (written to a channel whose pipeline has a {@link FrameEncoder}) only type, flags, volume and body
 * are used: the encoder stamps the version and the stream sequence. Writing transfers ownership to the channel.
 * <p>
 * Threading: not thread-safe; hand a frame from one thread to another through a queue, then only the receiver uses
 * it.
 */
public final class Frame extends DefaultByteBufHolder
{
    private final int version;
    private final int type;
    private final int flags;
    private final int volume;
    private final long sequence;

    /**
     * An outbound frame.
     *
     * @param type   message type id.
     * @param volume volume number, 0 when not volume-scoped.
     * @param body   the body; ownership transfers to the frame.
     */
    public Frame(final int type, final int volume, final ByteBuf body)
    {
        this(0, type, 0, volume, 0, body);
    }

    /**
     * A frame with every header field (as decoded).
     *
     * @param version  protocol version from the header.
     * @param type     message type id.
     * @param flags    frame flags.
     * @param volume   volume number.
     * @param sequence stream sequence.
     * @param body     the body; ownership transfers to the frame.
     */
    public Frame(
        final int version, final int type, final int flags, final int volume, final long sequence, final ByteBuf body)
    {
        super(body);
        this.version = version;
        this.type = type;
        this.flags = flags;
        this.volume = volume;
        this.sequence = sequence;
    }

    /** @return protocol version from the header (0 on an outbound frame). */
    public int version()
    {
        return version;
    }

    /** @return message type id. */
    public int type()
    {
        return type;
    }

    /** @return frame flags. */
    public int flags()
    {
        return flags;
    }

    /** @return volume number. */
    public int volume()
    {
        return volume;
    }

    /** @return stream sequence from the header (0 on an outbound frame). */
    public long sequence()
    {
        return sequence;
    }

    /** @return the body length in bytes. */
    public int bodyLength()
    {
        return content().readableBytes();
    }

    /**
     * The data of a {@link ReplicationProtocol#WRITE} or a {@link ReplicationProtocol#RESYNC_DATA} (which shares the
     * WRITE layout): the body after its {@link WriteFlyweight} header, as a slice that shares the frame's reference
     * count (not retained: valid until the frame is released; retain it to keep it longer).
     *
     * @return the write data.
     * @throws IllegalStateException when this is neither a WRITE nor a RESYNC_DATA frame.
     */
    public ByteBuf writeData()
    {
        if (type != ReplicationProtocol.WRITE && type != ReplicationProtocol.RESYNC_DATA)
        {
            throw new IllegalStateException("not a WRITE or RESYNC_DATA: " + ReplicationProtocol.typeName(type));
        }
        final ByteBuf body = content();
        return body.slice(body.readerIndex() + WriteFlyweight.HEADER_LENGTH,
            body.readableBytes() - WriteFlyweight.HEADER_LENGTH);
    }

    /**
     * The data of a {@link ReplicationProtocol#READ_REPLY}: the body after its {@link ReadReplyFlyweight} header, as
     * a slice that shares the frame's reference count (not retained: valid until the frame is released; retain it to
     * keep it longer). Empty when the reply carries an error status.
     *
     * @return the data read.
     * @throws IllegalStateException when this is not a READ_REPLY frame.
     */
    public ByteBuf readReplyData()
    {
        if (type != ReplicationProtocol.READ_REPLY)
        {
            throw new IllegalStateException("not a READ_REPLY: " + ReplicationProtocol.typeName(type));
        }
        final ByteBuf body = content();
        return body.slice(body.readerIndex() + ReadReplyFlyweight.HEADER_LENGTH,
            body.readableBytes() - ReadReplyFlyweight.HEADER_LENGTH);
    }

    /** {@inheritDoc} */
    @Override
    public Frame replace(final ByteBuf content)
    {
        return new Frame(version, type, flags, volume, sequence, content);
    }

    /** {@inheritDoc} */
    @Override
    public Frame retain()
    {
        super.retain();
        return this;
    }

    /** {@inheritDoc} */
    @Override
    public Frame touch(final Object hint)
    {
        super.touch(hint);
        return this;
    }

    /** {@inheritDoc} */
    @Override
    public String toString()
    {
        return "Frame{" + ReplicationProtocol.typeName(type) + ", version=" + version + ", flags=" + flags +
            ", volume=" + volume + ", sequence=" + sequence + ", bodyLength=" + content().readableBytes() + '}';
    }
}
