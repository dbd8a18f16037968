package io.mirra.transport.netty;

import io.mirra.transport.protocol.AuthResponseFlyweight;
import io.mirra.transport.protocol.HelloFlyweight;
import io.mirra.transport.protocol.PingFlyweight;
import io.mirra.transport.protocol.RefuseFlyweight;
import io.mirra.transport.protocol.WriteAckFlyweight;
import io.mirra.transport.protocol.WriteFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;

import static io.mirra.transport.protocol.ReplicationProtocol.*;

/**
 * Builds outbound {@link Frame}s of each message type, encoding the bodies with the protocol's flyweights into
 * buffers from the given allocator. A write's data is not copied: the body is a composite of the 32-byte write
 * header and the caller's data buffer.
 * <p>
 * Ownership: each method returns a frame the caller owns (normally it writes it to a channel, which then owns it);
 * {@link #write} takes ownership of its {@code data} argument. Threading: holds reusable flyweights, so one instance
 * per thread (normally one per channel, used on its event loop); not thread-safe.
 */
public final class OutboundFrames
{
    private final ByteBufView view = new ByteBufView();
    private final HelloFlyweight hello = new HelloFlyweight();
    private final AuthResponseFlyweight authResponse = new AuthResponseFlyweight();
    private final RefuseFlyweight refuse = new RefuseFlyweight();
    private final WriteFlyweight write = new WriteFlyweight();
    private final WriteAckFlyweight writeAck = new WriteAckFlyweight();
    private final PingFlyweight ping = new PingFlyweight();

    /**
     * A HELLO.
     *
     * @param alloc        for the body.
     * @param minVersion   lowest version spoken.
     * @param maxVersion   highest version spoken.
     * @param streamKind   {@link io.mirra.transport.protocol.ReplicationProtocol#STREAM_DATA} or
     *                     {@link io.mirra.transport.protocol.ReplicationProtocol#STREAM_CONTROL}.
     * @param features     feature bits offered.
     * @param nonce        32 fresh random bytes.
     * @param volumeSizes  size of each volume in bytes.
     * @param nodeName     the sender's node name.
     * @param resourceName the resource.
     * @return the frame.
     */
    public Frame hello(
        final ByteBufAllocator alloc,
        final int minVersion,
        final int maxVersion,
        final int streamKind,
        final long features,
        final byte[] nonce,
        final long[] volumeSizes,
        final String nodeName,
        final String resourceName)
    {
        final int length = HelloFlyweight.encodedLength(volumeSizes.length, nodeName, resourceName);
        final ByteBuf body = alloc.buffer(length, length);
        try
        {
            hello.wrap(view.wrapForWrite(body, 0, length), 0)
                .minVersion(minVersion)
                .maxVersion(maxVersion)
                .streamKind(streamKind)
                .features(features)
                .putNonce(nonce)
                .volumeSizes(volumeSizes)
                .names(nodeName, resourceName);
            return finish(HELLO, 0, body, length);
        }
        catch (final RuntimeException ex)
        {
            body.release();
            throw ex;
        }
    }

    /**
     * An AUTH_RESPONSE.
     *
     * @param alloc for the body.
     * @param mac   the 32-byte HMAC.
     * @return the frame.
     */
    public Frame authResponse(final ByteBufAllocator alloc, final byte[] mac)
    {
        final ByteBuf body = alloc.buffer(AuthResponseFlyweight.LENGTH, AuthResponseFlyweight.LENGTH);
        authResponse.wrap(view.wrapForWrite(body, 0, AuthResponseFlyweight.LENGTH), 0).putMac(mac);
        return finish(AUTH_RESPONSE, 0, body, AuthResponseFlyweight.LENGTH);
    }

    /** @return an AUTH_OK (empty body). */
    public Frame authOk()
    {
        return new Frame(AUTH_OK, 0, Unpooled.EMPTY_BUFFER);
    }

    /**
     * A REFUSE.
     *
     * @param alloc   for the body.
     * @param reason  a {@code REFUSE_*} code.
     * @param message why, truncated to the protocol's maximum.
     * @return the frame.
     */
    public Frame refuse(final ByteBufAllocator alloc, final int reason, final String message)
    {
        final int length = RefuseFlyweight.encodedLength(message);
        final ByteBuf body = alloc.buffer(length, length);
        refuse.wrap(view.wrapForWrite(body, 0, length), 0).reason(reason).message(message);
        return finish(REFUSE, 0, body, length);
    }

    /**
     * A WRITE whose body is its header followed by {@code data}, not copied.
     *
     * @param alloc         for the write header.
     * @param volume        volume number.
     * @param writeSequence the write's sequence.
     * @param byteOffset    where it goes in the volume.
     * @param epoch         its barrier epoch.
     * @param writeFlags    {@code WRITE_FLAG_*} bits.
     * @param data          the data; ownership transfers to the frame.
     * @return the frame.
     */
    public Frame write(
        final ByteBufAllocator alloc,
        final int volume,
        final long writeSequence,
        final long byteOffset,
        final long epoch,
        final int writeFlags,
        final ByteBuf data)
    {
        final ByteBuf header = alloc.directBuffer(WriteFlyweight.HEADER_LENGTH, WriteFlyweight.HEADER_LENGTH);
        write.wrap(view.wrapForWrite(header, 0, WriteFlyweight.HEADER_LENGTH), 0)
            .writeSequence(writeSequence)
            .byteOffset(byteOffset)
            .epoch(epoch)
            .dataLength(data.readableBytes())
            .flags(writeFlags);
        view.commit();
        header.writerIndex(WriteFlyweight.HEADER_LENGTH);
        final CompositeByteBuf body = alloc.compositeDirectBuffer(2);
        body.addComponent(true, header).addComponent(true, data);
        return new Frame(WRITE, volume, body);
    }

    /**
     * A WRITE_ACK.
     *
     * @param alloc         for the body.
     * @param volume        volume of the acknowledged write.
     * @param writeSequence of the acknowledged write.
     * @param status        0 or an errno.
     * @param ackFlags      {@code ACK_FLAG_*} bits.
     * @return the frame.
     */
    public Frame writeAck(
        final ByteBufAllocator alloc, final int volume, final long writeSequence, final int status, final int ackFlags)
    {
        final ByteBuf body = alloc.buffer(WriteAckFlyweight.LENGTH, WriteAckFlyweight.LENGTH);
        writeAck.wrap(view.wrapForWrite(body, 0, WriteAckFlyweight.LENGTH), 0)
            .writeSequence(writeSequence)
            .status(status)
            .flags(ackFlags);
        return finish(WRITE_ACK, volume, body, WriteAckFlyweight.LENGTH);
    }

    /**
     * A PING or PING_ACK.
     *
     * @param alloc      for the body.
     * @param type       {@link io.mirra.transport.protocol.ReplicationProtocol#PING} or
     *                   {@link io.mirra.transport.protocol.ReplicationProtocol#PING_ACK}.
     * @param pingId     the ping's id.
     * @param sendTimeNs the pinging side's timestamp.
     * @return the frame.
     */
    public Frame ping(final ByteBufAllocator alloc, final int type, final long pingId, final long sendTimeNs)
    {
        if (type != PING && type != PING_ACK)
        {
            throw new IllegalArgumentException("not a ping type: " + typeName(type));
        }
        final ByteBuf body = alloc.buffer(PingFlyweight.LENGTH, PingFlyweight.LENGTH);
        ping.wrap(view.wrapForWrite(body, 0, PingFlyweight.LENGTH), 0).pingId(pingId).sendTimeNs(sendTimeNs);
        return finish(type, 0, body, PingFlyweight.LENGTH);
    }

    private Frame finish(final int type, final int volume, final ByteBuf body, final int length)
    {
        view.commit();
        body.writerIndex(length);
        return new Frame(type, volume, body);
    }
}
