package io.mirra.transport.netty;

import io.mirra.transport.protocol.FrameHeaderFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;

import static io.mirra.transport.protocol.ReplicationProtocol.*;

/**
 * Writes outbound {@link Frame}s: a 24-byte header in a direct buffer, followed by the frame's body, which is not
 * copied (header and body go out as one two-component composite, so one gathering write sends both).
 * <p>
 * The encoder owns the stream's sequence (1 for the first frame, then +1) and version: handshake messages go out
 * with {@link io.mirra.transport.protocol.ReplicationProtocol#HANDSHAKE_VERSION}, everything else with the version
 * set by {@link #handshakeCompleted(int)}. Messages other than {@link Frame} pass through unchanged.
 * <p>
 * Ownership: writing a frame transfers it (and its body) to the channel, which releases it once written or failed.
 * Threading: not sharable; one instance per channel, used only on its event loop.
 */
public final class FrameEncoder extends ChannelOutboundHandlerAdapter
{
    private final ByteBufView view = new ByteBufView();
    private final FrameHeaderFlyweight header = new FrameHeaderFlyweight();
    private long nextSequence = 1;
    private int version = HANDSHAKE_VERSION;

    /**
     * Use the agreed version for every message after the handshake.
     *
     * @param agreedVersion the version both sides agreed on.
     */
    public void handshakeCompleted(final int agreedVersion)
    {
        this.version = agreedVersion;
    }

    /** {@inheritDoc} */
    @Override
    public void write(final ChannelHandlerContext ctx, final Object msg, final ChannelPromise promise)
    {
        if (!(msg instanceof Frame))
        {
            ctx.write(msg, promise);
            return;
        }
        final Frame frame = (Frame)msg;
        final ByteBuf body = frame.content();
        final int bodyLength = body.readableBytes();
        final ByteBuf headerBuf = ctx.alloc().directBuffer(HEADER_LENGTH, HEADER_LENGTH);
        header.wrap(view.wrapForWrite(headerBuf, 0, HEADER_LENGTH), 0).set(
            isHandshakeType(frame.type()) ? HANDSHAKE_VERSION : version, frame.type(), frame.flags(),
            frame.volume(), bodyLength, nextSequence++);
        view.commit();
        headerBuf.writerIndex(HEADER_LENGTH);
        if (bodyLength == 0)
        {
            frame.release();
            ctx.write(headerBuf, promise);
        }
        else
        {
            final CompositeByteBuf out = ctx.alloc().compositeDirectBuffer(2);
            out.addComponent(true, headerBuf).addComponent(true, body); // the frame's reference moves to out
            ctx.write(out, promise);
        }
    }
}
