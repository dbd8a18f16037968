package io.mirra.engine.replication;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The persisted state of one volume's local copy: whether it is a complete, current copy, and its generation
 * identifiers (DRBD's data-generation UUIDs): the current one and a short history of earlier ones. Two copies with
 * the same current generation hold the same data; a copy whose current generation is in the other's history is
 * older. A Primary starts a new generation whenever it writes while a peer with a disk is not receiving its writes,
 * so a copy that missed writes can always be told apart from one that did not.
 * <p>
 * Stored as a small text file replaced atomically (write, fsync, rename, fsync of the directory), only on state
 * changes, never per write. Not thread-safe: the resource guards it.
 */
final class VolumeMeta
{
    /** The generation of a copy created empty by this node: every node's empty copy is the same data. */
    static final long GEN_JUST_CREATED = 4;
    /** How many earlier generations are kept (and sent in STATE). */
    static final int HISTORY = 4;

    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path file;
    private DiskState diskState;
    private long currentGen;
    private final long[] history = new long[HISTORY];
    private int historyCount;
    /** Set while this node is Primary: found set at start, the node crashed as Primary. */
    private boolean primary;

    private VolumeMeta(final Path file)
    {
        this.file = file;
    }

    /**
     * The generation a diskless node follows for a volume: not persisted (a diskless node learns it again from its
     * peers on restart), 0 until learnt. It says which peers hold the data this node reads and writes.
     *
     * @return an in-memory record with disk state DISKLESS and generation 0.
     */
    static VolumeMeta pointer()
    {
        final VolumeMeta meta = new VolumeMeta(null);
        meta.diskState = DiskState.DISKLESS;
        meta.currentGen = 0;
        return meta;
    }

    /**
     * Load the metadata of a volume, or create it.
     *
     * @param file      the metadata file.
     * @param freshDisk true when the node just created the disk (it is all zeros).
     * @return the metadata.
     * @throws IOException when the file cannot be read, is malformed, or cannot be created.
     */
    static VolumeMeta loadOrCreate(final Path file, final boolean freshDisk) throws IOException
    {
        final VolumeMeta meta = new VolumeMeta(file);
        final List<String> lines;
        try
        {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        }
        catch (final NoSuchFileException ex)
        {
            // An empty new copy is identical on every node; an existing disk without metadata is of unknown content.
            meta.diskState = freshDisk ? DiskState.UP_TO_DATE : DiskState.INCONSISTENT;
            meta.currentGen = GEN_JUST_CREATED;
            meta.store();
            return meta;
        }
        meta.parse(lines);
        return meta;
    }

    private void parse(final List<String> lines) throws IOException
    {
        boolean sawState = false;
        boolean sawGen = false;
        for (int i = 0; i < lines.size(); i++)
        {
            final String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#"))
            {
                continue;
            }
            final int eq = line.indexOf('=');
            if (eq < 0)
            {
                throw malformed(i, "expected key=value");
            }
            final String key = line.substring(0, eq);
            final String value = line.substring(eq + 1);
            try
            {
                switch (key)
                {
                    case "version":
                        if (!"1".equals(value))
                        {
                            throw malformed(i, "unsupported metadata version " + value);
                        }
                        break;
                    case "disk-state":
                        diskState = parseDiskState(value);
                        if (diskState == null)
                        {
                            throw malformed(i, "unknown disk-state " + value);
                        }
                        sawState = true;
                        break;
                    case "current-gen":
                        currentGen = Long.parseUnsignedLong(value, 16);
                        sawGen = true;
                        break;
                    case "primary":
                        primary = "1".equals(value);
                        break;
                    case "history":
                        historyCount = 0;
                        for (final String gen : value.isEmpty() ? new String[0] : value.split(","))
                        {
                            if (historyCount == HISTORY)
                            {
                                throw malformed(i, "more than " + HISTORY + " history entries");
                            }
                            history[historyCount++] = Long.parseUnsignedLong(gen.strip(), 16);
                        }
                        break;
                    default:
                        throw malformed(i, "unknown key " + key);
                }
            }
            catch (final NumberFormatException ex)
            {
                throw malformed(i, "not a hexadecimal generation: " + value);
            }
        }
        if (!sawState || !sawGen)
        {
            throw new IOException(file + ": incomplete metadata (disk-state and current-gen are required)");
        }
    }

    private static DiskState parseDiskState(final String value)
    {
        for (final DiskState state : new DiskState[] {DiskState.UP_TO_DATE, DiskState.OUTDATED,
            DiskState.INCONSISTENT, DiskState.CONSISTENT})
        {
            if (state.displayName().equals(value))
            {
                return state;
            }
        }
        return null;
    }

    private IOException malformed(final int lineIndex, final String what)
    {
        return new IOException(file + ":" + (lineIndex + 1) + ": " + what);
    }

    /** @return the persisted disk state: UP_TO_DATE, OUTDATED, INCONSISTENT or CONSISTENT. */
    DiskState diskState()
    {
        return diskState;
    }

    /**
     * @return true when the node was Primary when this was last written: at start, it crashed as Primary, and its
     *         copy may hold writes no peer has (and that were never acknowledged).
     */
    boolean wasPrimary()
    {
        return primary;
    }

    /**
     * Persist whether the node is Primary (before its first write as Primary, and when it stops being Primary).
     *
     * @param isPrimary the role.
     * @throws IOException when it cannot be persisted.
     */
    void setPrimary(final boolean isPrimary) throws IOException
    {
        if (isPrimary != primary && file != null)
        {
            primary = isPrimary;
            store();
        }
    }

    /** @return the current generation. */
    long currentGen()
    {
        return currentGen;
    }

    /** @return how many history entries there are. */
    int historyCount()
    {
        return historyCount;
    }

    /**
     * @param slot 0 (newest) .. historyCount - 1.
     * @return an earlier generation.
     */
    long history(final int slot)
    {
        return history[slot];
    }

    /** @return a copy of the history, newest first. */
    long[] historyCopy()
    {
        return java.util.Arrays.copyOf(history, historyCount);
    }

    /**
     * @param gen a generation.
     * @return true if it is one of the earlier generations of this copy.
     */
    boolean inHistory(final long gen)
    {
        for (int i = 0; i < historyCount; i++)
        {
            if (history[i] == gen)
            {
                return true;
            }
        }
        return false;
    }

    /**
     * Change the disk state and persist it.
     *
     * @param state UP_TO_DATE, OUTDATED, INCONSISTENT or CONSISTENT.
     * @throws IOException when it cannot be persisted.
     */
    void setDiskState(final DiskState state) throws IOException
    {
        if (state != diskState)
        {
            diskState = state;
            store();
        }
    }

    /**
     * Start a new generation (the current one moves into the history) and persist.
     *
     * @return the new generation.
     * @throws IOException when it cannot be persisted.
     */
    long newGeneration() throws IOException
    {
        long gen;
        do
        {
            gen = RANDOM.nextLong() & ~0xFL; // low bits are reserved for well-known generations like JUST_CREATED
        }
        while (gen == 0 || gen == currentGen || inHistory(gen));
        adopt(gen, null);
        return gen;
    }

    /**
     * Take over a generation (and history) from the Primary this copy is in sync with, and persist.
     *
     * @param gen          the new current generation.
     * @param peerHistory  the Primary's history, or null to push the old current generation instead.
     * @throws IOException when it cannot be persisted.
     */
    void adopt(final long gen, final long[] peerHistory) throws IOException
    {
        if (gen == currentGen)
        {
            return;
        }
        if (peerHistory != null || currentGen == 0)
        {
            final long[] from = peerHistory == null ? new long[0] : peerHistory;
            historyCount = Math.min(HISTORY, from.length);
            System.arraycopy(from, 0, history, 0, historyCount);
        }
        else
        {
            System.arraycopy(history, 0, history, 1, HISTORY - 1);
            history[0] = currentGen;
            historyCount = Math.min(HISTORY, historyCount + 1);
        }
        currentGen = gen;
        store();
    }

    private void store() throws IOException
    {
        if (file == null)
        {
            return;
        }
        final StringBuilder sb = new StringBuilder(256)
            .append("# mirra volume metadata: do not edit while the node runs\n")
            .append("version=1\n")
            .append("disk-state=").append(diskState.displayName()).append('\n')
            .append("current-gen=").append(hex(currentGen)).append('\n')
            .append("history=");
        final List<String> gens = new ArrayList<>();
        for (int i = 0; i < historyCount; i++)
        {
            gens.add(hex(history[i]));
        }
        sb.append(String.join(",", gens)).append('\n');
        sb.append("primary=").append(primary ? "1" : "0").append('\n');
        final Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        final Path tmp = dir.resolve(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING))
        {
            final ByteBuffer bytes = ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining())
            {
                ch.write(bytes);
            }
            ch.force(true);
        }
        try
        {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        catch (final AtomicMoveNotSupportedException ex)
        {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ))
        {
            d.force(true); // the rename itself must survive a crash
        }
    }

    /**
     * @param gen a generation.
     * @return its 16-digit hexadecimal form, as status shows it.
     */
    static String hex(final long gen)
    {
        return String.format(Locale.ROOT, "%016X", gen);
    }

    @Override
    public String toString()
    {
        return "VolumeMeta[" + (file == null ? "diskless" : file) + ", " + diskState.displayName() + ", " +
            hex(currentGen) + "]";
    }
}
