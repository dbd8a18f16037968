package io.mirra.engine.replication;

import io.mirra.bitmap.BitmapGeometry;
import io.mirra.bitmap.DirtyBitmap;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The persisted out-of-sync bitmaps of one volume, one slot per peer (in the resource's peer order), each the raw
 * little-endian words of a {@link DirtyBitmap}. Which generation a slot counts from is in {@link VolumeMeta}.
 * <p>
 * Words are written in place without their own checksum: the activity log covers them. A word is written when the
 * extent it covers leaves the activity log (before the transaction that drops it), and all words at a clean stop;
 * after a crash, the extents still in the log are marked out of sync on top of what is here, so a torn or stale word
 * never hides a block that may differ. The header (geometry and slot count) is checksummed; a file whose header
 * does not verify is not used (every peer then needs a full resync).
 * <p>
 * Not thread-safe: writes come from the resource's metadata thread, or under the resource's lock at start and stop.
 */
final class BitmapFile implements AutoCloseable
{
    static final long MAGIC = 0x5041_4d54_4942_524dL; // "MRBITMAP" little-endian
    private static final int HEADER = 4096;

    private final Path file;
    private final int slots;
    private FileChannel channel;
    private BitmapGeometry stored;
    private long slotBytes;

    private BitmapFile(final Path file, final int slots)
    {
        this.file = file;
        this.slots = slots;
    }

    /**
     * Open the bitmap file of a volume.
     *
     * @param file     its file.
     * @param geometry the geometry the resource uses now.
     * @param slots    peers (one slot each).
     * @return the file; {@link #storedGeometry()} is null when it had no valid content (it was created anew).
     * @throws IOException when it cannot be opened or created.
     */
    static BitmapFile open(final Path file, final BitmapGeometry geometry, final int slots) throws IOException
    {
        final BitmapFile f = new BitmapFile(file, slots);
        Files.createDirectories(file.toAbsolutePath().getParent());
        f.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
            StandardOpenOption.WRITE);
        final ByteBuffer header = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        if (f.channel.size() >= HEADER)
        {
            f.channel.read(header, 0);
            final CRC32C crc = new CRC32C();
            crc.update(header.array(), 0, HEADER - 4);
            if (header.getLong(0) == MAGIC && header.getInt(HEADER - 4) == (int)crc.getValue() &&
                header.getInt(12) == slots && header.getLong(24) == geometry.volumeSizeBytes())
            {
                try
                {
                    final BitmapGeometry g = new BitmapGeometry(header.getLong(24), header.getInt(16));
                    if (f.channel.size() >= HEADER + slots * slotBytes(g))
                    {
                        f.stored = g;
                        f.slotBytes = slotBytes(g);
                    }
                }
                catch (final IllegalArgumentException ex)
                {
                    f.stored = null; // a block size this version does not know
                }
            }
        }
        if (f.stored == null)
        {
            f.recreate(geometry);
            f.stored = null;
        }
        return f;
    }

    private static long slotBytes(final BitmapGeometry g)
    {
        return ((long)g.wordCount() * Long.BYTES + 4095) & ~4095L;
    }

    /** @return the geometry the file held when opened, or null when it held nothing usable. */
    BitmapGeometry storedGeometry()
    {
        return stored;
    }

    /**
     * Empty the file and lay it out for a geometry (all bits clear), synced.
     *
     * @param geometry the geometry.
     * @throws IOException when it cannot be written.
     */
    void recreate(final BitmapGeometry geometry) throws IOException
    {
        final FileChannel ch = channel;
        ch.truncate(0);
        slotBytes = slotBytes(geometry);
        final ByteBuffer header = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(0, MAGIC).putInt(8, 1).putInt(12, slots).putInt(16, geometry.blockSize())
            .putLong(24, geometry.volumeSizeBytes()).putLong(32, geometry.wordCount());
        final CRC32C crc = new CRC32C();
        crc.update(header.array(), 0, HEADER - 4);
        header.putInt(HEADER - 4, (int)crc.getValue());
        long position = 0;
        while (header.hasRemaining())
        {
            position += ch.write(header, position);
        }
        if (slots > 0)
        {
            ch.write(ByteBuffer.allocate(1), HEADER + slots * slotBytes - 1); // sparse: all bits clear
        }
        ch.force(true);
        stored = geometry;
    }

    /**
     * Read a slot into a bitmap of the stored geometry.
     *
     * @param slot   peer slot.
     * @param target a bitmap of {@link #storedGeometry()}.
     * @throws IOException when it cannot be read.
     */
    void read(final int slot, final DirtyBitmap target) throws IOException
    {
        final int bytes = target.wordCount() * Long.BYTES;
        final ByteBuffer buf = ByteBuffer.allocateDirect(bytes);
        long position = HEADER + slot * slotBytes;
        while (buf.hasRemaining())
        {
            final int n = channel.read(buf, position);
            if (n < 0)
            {
                throw new IOException(file + ": bitmap of peer slot " + slot + " is truncated");
            }
            position += n;
        }
        final UnsafeBuffer view = new UnsafeBuffer(buf);
        try
        {
            target.copyFrom(0, target.wordCount(), view, 0);
        }
        catch (final IllegalArgumentException ex)
        {
            // bits past the volume's end: garbage; everything may differ
            target.setAll();
        }
    }

    /**
     * Write words of a slot (not synced; see {@link #force()}).
     *
     * @param slot     peer slot.
     * @param fromWord first word.
     * @param words    the words.
     * @param count    how many.
     * @throws IOException when they cannot be written.
     */
    void writeWords(final int slot, final int fromWord, final long[] words, final int count) throws IOException
    {
        final FileChannel ch = channel;
        if (ch == null || count == 0)
        {
            return;
        }
        final ByteBuffer buf = ByteBuffer.allocate(count * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < count; i++)
        {
            buf.putLong(words[i]);
        }
        buf.flip();
        long position = HEADER + slot * slotBytes + (long)fromWord * Long.BYTES;
        while (buf.hasRemaining())
        {
            position += ch.write(buf, position);
        }
    }

    /**
     * Write a whole slot (not synced).
     *
     * @param slot   peer slot.
     * @param bitmap its bitmap, of the stored geometry.
     * @throws IOException when it cannot be written.
     */
    void writeAll(final int slot, final DirtyBitmap bitmap) throws IOException
    {
        final long[] words = new long[bitmap.wordCount()];
        bitmap.copyTo(words, 0);
        writeWords(slot, 0, words, words.length);
    }

    /** Make the written words durable. @throws IOException when the sync fails. */
    void force() throws IOException
    {
        final FileChannel ch = channel;
        if (ch != null)
        {
            ch.force(false);
        }
    }

    /** Tests: from now on nothing is written, as if the process had died. */
    void freeze()
    {
        close();
    }

    @Override
    public void close()
    {
        final FileChannel ch = channel;
        channel = null;
        if (ch != null)
        {
            try
            {
                ch.close();
            }
            catch (final IOException ex)
            {
                // closing anyway
            }
        }
    }
}
