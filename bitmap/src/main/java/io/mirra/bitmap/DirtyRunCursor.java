package io.mirra.bitmap;

/**
 * Allocation-free iteration over the runs of set bits of a {@link DirtyBitmap}, e.g. to drive a resync. Runs longer
 * than {@link #maxRunBits()} are returned as several consecutive chunks so each fits one resync request.
 * <pre>{@code
 * cursor.reset(0);
 * while (cursor.next())
 * {
 *     resync(cursor.runByteOffset(), cursor.runLengthBytes());
 * }
 * }</pre>
 * The cursor reads the bitmap afresh on every {@link #next()}, so bits changed behind or inside the current run do
 * not disturb it, and bits changed ahead of it are seen.
 * <p>
 * <b>Threading:</b> not thread-safe; use it on the thread that owns the bitmap. Reuse one instance per consumer.
 */
public final class DirtyRunCursor
{
    /** {@link #maxRunBits()} for "never split runs". */
    public static final long UNLIMITED = Long.MAX_VALUE;

    private final DirtyBitmap bitmap;
    private final BitmapGeometry geometry;
    private final long maxRunBits;
    private long position;
    private long limit;
    private long runStart = -1;
    private long runEnd = -1;

    /**
     * A cursor returning whole runs, positioned at bit 0.
     *
     * @param bitmap bitmap to iterate.
     */
    public DirtyRunCursor(final DirtyBitmap bitmap)
    {
        this(bitmap, UNLIMITED);
    }

    /**
     * A cursor splitting runs into chunks of at most {@code maxRunBits}, positioned at bit 0.
     *
     * @param bitmap     bitmap to iterate.
     * @param maxRunBits longest run returned, at least 1, or {@link #UNLIMITED}.
     * @throws IllegalArgumentException if {@code maxRunBits} is not positive.
     */
    public DirtyRunCursor(final DirtyBitmap bitmap, final long maxRunBits)
    {
        if (maxRunBits <= 0)
        {
            throw new IllegalArgumentException("maxRunBits must be positive: " + maxRunBits);
        }
        this.bitmap = bitmap;
        this.geometry = bitmap.geometry();
        this.maxRunBits = maxRunBits;
        reset(0);
    }

    /**
     * Restarts iteration at {@code fromBit}, up to the end of the bitmap. A run that began before {@code fromBit}
     * is returned from {@code fromBit}.
     *
     * @param fromBit first bit to consider, in [0, {@link DirtyBitmap#bitCount()}].
     * @return this cursor.
     * @throws IndexOutOfBoundsException if {@code fromBit} is out of range.
     */
    public DirtyRunCursor reset(final long fromBit)
    {
        return reset(fromBit, bitmap.bitCount());
    }

    /**
     * Restarts iteration over [fromBit, toBitExclusive); runs are clipped to that range.
     *
     * @param fromBit        first bit to consider.
     * @param toBitExclusive one past the last bit to consider.
     * @return this cursor.
     * @throws IndexOutOfBoundsException if the range is not within [0, {@link DirtyBitmap#bitCount()}] in order.
     */
    public DirtyRunCursor reset(final long fromBit, final long toBitExclusive)
    {
        if (fromBit < 0 || fromBit > toBitExclusive || toBitExclusive > bitmap.bitCount())
        {
            throw new IndexOutOfBoundsException("bit range [" + fromBit + ", " + toBitExclusive + ") outside [0, " +
                bitmap.bitCount() + ")");
        }
        position = fromBit;
        limit = toBitExclusive;
        runStart = -1;
        runEnd = -1;
        return this;
    }

    /**
     * Advances to the next run of set bits.
     *
     * @return true if there is one; its bounds are then available from the accessors.
     */
    public boolean next()
    {
        final long start = position < limit ? bitmap.nextSetBit(position) : -1;
        if (start < 0 || start >= limit)
        {
            position = limit;
            runStart = -1;
            runEnd = -1;
            return false;
        }

        long end = Math.min(bitmap.nextClearBit(start), limit);
        if (end - start > maxRunBits)
        {
            end = start + maxRunBits;
        }
        runStart = start;
        runEnd = end;
        position = end;
        return true;
    }

    /**
     * @return the longest run returned by {@link #next()}, or {@link #UNLIMITED}.
     */
    public long maxRunBits()
    {
        return maxRunBits;
    }

    /**
     * @return the bit where the next search starts.
     */
    public long position()
    {
        return position;
    }

    /**
     * @return first bit of the current run, or -1 if there is none.
     */
    public long runStartBit()
    {
        return runStart;
    }

    /**
     * @return one past the last bit of the current run, or -1 if there is none.
     */
    public long runEndBitExclusive()
    {
        return runEnd;
    }

    /**
     * @return number of bits in the current run, 0 if there is none.
     */
    public long runLengthBits()
    {
        return runEnd - runStart;
    }

    /**
     * @return volume offset of the first byte of the current run, or -1 if there is none.
     */
    public long runByteOffset()
    {
        return runStart < 0 ? -1 : runStart << geometry.blockShift();
    }

    /**
     * @return bytes of the volume in the current run, clipped at the end of the volume; 0 if there is none.
     */
    public long runLengthBytes()
    {
        return runStart < 0 ? 0 : geometry.blocksByteLength(runStart, runEnd);
    }
}
