package io.mirra.bitmap.codec;

/**
 * A run-length encoded bitmap chunk was rejected as malformed: truncated or over-long varint, run past the end of
 * the bitmap, zero-length run after the first, or a chunk that encodes no bits. The message names the fault and its
 * byte offset within the chunk. A rejected chunk has not changed the target bitmap.
 */
public final class BitmapCodecException extends Exception
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what is malformed and where.
     */
    public BitmapCodecException(final String message)
    {
        super(message);
    }
}
