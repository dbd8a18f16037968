package io.mirra.transport.netty;

import io.netty.buffer.ByteBuf;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Shows a range of a Netty {@link ByteBuf} as an Agrona {@link MutableDirectBuffer}, so that the protocol's
 * flyweights (which are Agrona flyweights, like the rest of the codecs and the engine) read and write socket buffers
 * in place.
 * <p>
 * Why Agrona flyweights over Netty buffers rather than flyweights over {@code ByteBuf}: the engine works on Agrona
 * buffers (its queues, request descriptors and disk IO), and the style guide keeps {@code ByteBuf} at the sockets
 * only; this class is the one seam between the two. A range in one piece of memory (a direct buffer with a memory
 * address, or a heap buffer) is wrapped without copying. A range split across the components of a composite buffer,
 * or in a direct buffer without an address, is copied into a scratch array that grows with what was actually
 * received (never more than the protocol's bounded message sizes); for a write view the caller then copies it back
 * with {@link #commit()}.
 * <p>
 * The view is valid until the next call and only while the {@code ByteBuf} is not released. Threading: one
 * instance per connection, used only on its event loop; not thread-safe.
 */
public final class ByteBufView
{
    private final UnsafeBuffer view = new UnsafeBuffer(new byte[0]);
    private byte[] scratch = new byte[64];
    private ByteBuf pendingTarget;
    private int pendingIndex;
    private int pendingLength;

    /**
     * View bytes for reading.
     *
     * @param buf    the buffer; not retained, ownership unchanged.
     * @param index  absolute index of the first byte.
     * @param length number of bytes.
     * @return a view of exactly {@code length} bytes starting at offset 0.
     */
    public MutableDirectBuffer wrapForRead(final ByteBuf buf, final int index, final int length)
    {
        pendingTarget = null;
        if (!wrapInPlace(buf, index, length))
        {
            ensureScratch(length);
            buf.getBytes(index, scratch, 0, length);
            view.wrap(scratch, 0, length);
        }
        return view;
    }

    /**
     * View bytes for writing; call {@link #commit()} when done.
     *
     * @param buf    the buffer; not retained, ownership unchanged.
     * @param index  absolute index of the first byte.
     * @param length number of bytes.
     * @return a view of exactly {@code length} bytes starting at offset 0.
     */
    public MutableDirectBuffer wrapForWrite(final ByteBuf buf, final int index, final int length)
    {
        pendingTarget = null;
        if (!wrapInPlace(buf, index, length))
        {
            ensureScratch(length);
            view.wrap(scratch, 0, length);
            pendingTarget = buf;
            pendingIndex = index;
            pendingLength = length;
        }
        return view;
    }

    /** Copy what was written into a scratch view back into its buffer (no-op when the view was in place). */
    public void commit()
    {
        if (pendingTarget != null)
        {
            pendingTarget.setBytes(pendingIndex, scratch, 0, pendingLength);
            pendingTarget = null;
        }
    }

    private boolean wrapInPlace(final ByteBuf buf, final int index, final int length)
    {
        if (length == 0)
        {
            view.wrap(scratch, 0, 0);
            return true;
        }
        if (buf.hasMemoryAddress())
        {
            view.wrap(buf.memoryAddress() + index, length);
            return true;
        }
        if (buf.hasArray())
        {
            view.wrap(buf.array(), buf.arrayOffset() + index, length);
            return true;
        }
        return false;
    }

    private void ensureScratch(final int length)
    {
        if (scratch.length < length)
        {
            scratch = new byte[Math.max(length, scratch.length * 2)];
        }
    }
}
