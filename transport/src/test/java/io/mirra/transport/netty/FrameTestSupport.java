package io.mirra.transport.netty;

import io.mirra.transport.protocol.FrameHeaderFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;

import static io.mirra.transport.protocol.ReplicationProtocol.HEADER_LENGTH;

/** Encoding, feeding and recording helpers for codec tests. */
final class FrameTestSupport
{
    private FrameTestSupport()
    {
    }

    /** Records user events and passes frames on to the channel's inbound queue. */
    static final class EventRecorder extends ChannelInboundHandlerAdapter
    {
        final List<Object> events = new ArrayList<>();

        @Override
        public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt)
        {
            events.add(evt);
            ctx.fireUserEventTriggered(evt);
        }

        <T> List<T> eventsOf(final Class<T> type)
        {
            final List<T> result = new ArrayList<>();
            for (final Object event : events)
            {
                if (type.isInstance(event))
                {
                    result.add(type.cast(event));
                }
            }
            return result;
        }
    }

    /**
     * Encode frames with a fresh {@link FrameEncoder} (sequence from 1), in order.
     */
    static byte[] encode(final List<Frame> frames)
    {
        final EmbeddedChannel channel = new EmbeddedChannel(new FrameEncoder());
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (final Frame frame : frames)
        {
            channel.writeOutbound(frame);
        }
        ByteBuf buf;
        while ((buf = channel.readOutbound()) != null)
        {
            out.writeBytes(ByteBufUtil.getBytes(buf));
            buf.release();
        }
        channel.finishAndReleaseAll();
        return out.toByteArray();
    }

    /** A raw frame with any header values, body given (which may disagree with bodyLength). */
    static byte[] rawFrame(
        final int version, final int type, final int flags, final int volume, final long bodyLength,
        final long sequence, final byte[] body)
    {
        final byte[] bytes = new byte[HEADER_LENGTH + body.length];
        new FrameHeaderFlyweight().wrap(new UnsafeBuffer(bytes), 0)
            .set(version, type, flags, volume, (int)bodyLength, sequence);
        System.arraycopy(body, 0, bytes, HEADER_LENGTH, body.length);
        return bytes;
    }

    /**
     * Feed bytes in chunks (pooled direct buffers), stopping when the channel closes; return what was decoded.
     */
    static List<Frame> feed(final EmbeddedChannel channel, final byte[] bytes, final IntSupplier chunkSize)
    {
        int at = 0;
        while (at < bytes.length && channel.isOpen())
        {
            final int length = Math.min(bytes.length - at, Math.max(1, chunkSize.getAsInt()));
            final ByteBuf chunk = PooledByteBufAllocator.DEFAULT.directBuffer(length);
            chunk.writeBytes(bytes, at, length);
            channel.writeInbound(chunk);
            at += length;
        }
        final List<Frame> frames = new ArrayList<>();
        Object msg;
        while ((msg = channel.readInbound()) != null)
        {
            frames.add((Frame)msg);
        }
        return frames;
    }

    /** A comparable description of a decoded frame, releasing it. */
    static String describeAndRelease(final Frame frame)
    {
        try
        {
            return frame + " " + ByteBufUtil.hexDump(frame.content());
        }
        finally
        {
            frame.release();
        }
    }
}
