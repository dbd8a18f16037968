package io.mirra.engine.replication;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.List;
import java.util.Locale;
import java.util.zip.CRC32C;

/**
 * The persisted state of one volume's local copy: whether it is a complete, current copy, its generation identifiers
 * (DRBD's data-generation UUIDs: the current one and a short history of earlier ones), whether the node stopped
 * cleanly, and per peer the generation its out-of-sync bitmap counts from. Two copies with the same current
 * generation hold the same data; a copy whose current generation is in the other's history is older. A Primary
 * starts a new generation whenever it writes while a peer with a disk is not receiving its writes, so a copy that
 * missed writes can always be told apart from one that did not.
 * <p>
 * <b>On disk</b> (format 2): two slots of {@link #SLOT_SIZE} bytes, written alternately, each a complete record with
 * a sequence number and a CRC-32C over the rest. A store overwrites the older slot and syncs it, so a write torn by
 * a crash leaves the other slot intact: loading takes the valid slot with the higher sequence, and a record that
 * fails its checksum is never trusted. Written only on state changes, never per write. Format 1 (the text file of
 * earlier versions) is read once and rewritten as format 2. Not thread-safe: the resource guards it.
 */
final class VolumeMeta
{
    /** The generation of a copy created empty by this node: every node's empty copy is the same data. */
    static final long GEN_JUST_CREATED = 4;
    /** How many earlier generations are kept (and sent in STATE). */
    static final int HISTORY = 4;
    /** Bytes per slot; the file is two slots. */
    static final int SLOT_SIZE = 4096;
    /** Most peer records (a resource has at most 32 peers). */
    static final int MAX_PEERS = 32;
    /** Peer record flag: the bitmap of this peer may miss bits (a resync to it was running): resync it fully. */
    static final int PEER_BITMAP_UNTRUSTED = 1;

    static final long MAGIC = 0x3241_5445_4d52_524dL; // "MRRMETA2" little-endian
    static final int FORMAT = 2;
    private static final int SEQ_OFFSET = 16;
    private static final int DISK_STATE_OFFSET = 24;
    private static final int FLAGS_OFFSET = 25;
    private static final int BLOCK_SIZE_OFFSET = 28;
    private static final int VOLUME_SIZE_OFFSET = 32;
    private static final int CURRENT_GEN_OFFSET = 40;
    private static final int HISTORY_COUNT_OFFSET = 48;
    private static final int HISTORY_OFFSET = 56;
    private static final int PEER_COUNT_OFFSET = 88;
    private static final int PEERS_OFFSET = 96;
    private static final int PEER_RECORD = 80; // name length (1) + name (63) + bitmap generation (8) + flags (8)
    private static final int PEER_NAME_MAX = 63;
    private static final int PRIMARY_SINCE_OFFSET = PEERS_OFFSET + MAX_PEERS * PEER_RECORD;
    private static final int CRC_OFFSET = SLOT_SIZE - 4;
    private static final int FLAG_PRIMARY = 1;
    private static final int FLAG_CLEAN = 2;
    private static final DiskState[] PERSISTED_STATES = {DiskState.UP_TO_DATE, DiskState.OUTDATED,
        DiskState.INCONSISTENT, DiskState.CONSISTENT};

    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path file;
    private DiskState diskState;
    private long currentGen;
    private final long[] history = new long[HISTORY];
    private int historyCount;
    /** Set while this node is Primary: found set at start, the node crashed as Primary. */
    private boolean primary;
    /** When this node last became Primary (ms since the epoch), for discard-younger-primary; 0 for never. */
    private long primarySince;
    /** Set by a clean stop, cleared at start: found clear at start, the node did not stop cleanly. */
    private boolean clean;
    private long volumeSize;
    private int bitmapBlockSize;
    private long seq;
    /** Peer records, in the order given at load (the resource's peer order). */
    private String[] peerNames = new String[0];
    private long[] peerBitmapGens = new long[0];
    private long[] peerFlags = new long[0];
    /** True when the metadata was found in format 1 or without its other slot valid (reported once). */
    private String loadNote;
    /** A crash simulation in tests: nothing is written any more. */
    private boolean frozen;

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
     * @param file            the metadata file.
     * @param freshDisk       true when the node just created the disk (it is all zeros).
     * @param volumeSize      the volume's size (recorded; a recorded size that differs is refused).
     * @param bitmapBlockSize bytes per out-of-sync bit the resource uses now.
     * @param peers           names of the peers (records of other names are dropped, new names get none).
     * @return the metadata.
     * @throws IOException when the file cannot be read, fails its checksums, is malformed, or cannot be created.
     */
    static VolumeMeta loadOrCreate(final Path file, final boolean freshDisk, final long volumeSize,
        final int bitmapBlockSize, final String[] peers) throws IOException
    {
        if (peers.length > MAX_PEERS)
        {
            throw new IllegalArgumentException("at most " + MAX_PEERS + " peers");
        }
        final VolumeMeta meta = new VolumeMeta(file);
        final byte[] bytes;
        try
        {
            bytes = Files.readAllBytes(file);
        }
        catch (final NoSuchFileException ex)
        {
            // An empty new copy is identical on every node; an existing disk without metadata is of unknown content.
            meta.diskState = freshDisk ? DiskState.UP_TO_DATE : DiskState.INCONSISTENT;
            meta.currentGen = GEN_JUST_CREATED;
            meta.clean = true;
            meta.volumeSize = volumeSize;
            meta.bitmapBlockSize = bitmapBlockSize;
            meta.remapPeers(peers);
            meta.store();
            meta.store(); // both slots valid from the start
            return meta;
        }
        if (bytes.length > 0 && (bytes[0] == '#' || bytes[0] == 'v'))
        {
            meta.parseText(new String(bytes, StandardCharsets.UTF_8).lines().toList());
            meta.clean = !meta.primary; // format 1 kept no clean flag; a Primary flag left set was a crash
            meta.volumeSize = volumeSize;
            meta.bitmapBlockSize = bitmapBlockSize;
            meta.loadNote = "upgraded from format 1";
        }
        else
        {
            meta.parseBinary(bytes, volumeSize);
        }
        if (meta.volumeSize != volumeSize)
        {
            throw new IOException(file + ": metadata is of a volume of " + meta.volumeSize + " bytes, the volume " +
                "is " + volumeSize + " bytes (a volume cannot change size in this version)");
        }
        meta.remapPeers(peers);
        if (meta.loadNote != null && meta.loadNote.startsWith("upgraded"))
        {
            meta.store();
            meta.store(); // both slots in format 2
        }
        return meta;
    }

    private void parseBinary(final byte[] bytes, final long expectedSize) throws IOException
    {
        if (bytes.length != 2 * SLOT_SIZE)
        {
            throw new IOException(file + ": metadata file of " + bytes.length + " bytes, expected " +
                2 * SLOT_SIZE + " (truncated or not mirra metadata); not trusted");
        }
        final ByteBuffer all = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        final String bad0 = checkSlot(all, 0);
        final String bad1 = checkSlot(all, SLOT_SIZE);
        if (bad0 != null && bad1 != null)
        {
            throw new IOException(file + ": neither copy of the metadata is valid (" + bad0 + "; " + bad1 + "): " +
                "not trusted. Restore it, or move it away to let this disk count as Inconsistent and take a full " +
                "resync from a peer");
        }
        final int at;
        if (bad0 != null || bad1 != null)
        {
            at = bad0 == null ? 0 : SLOT_SIZE;
            loadNote = "one copy of the metadata is invalid (" + (bad0 != null ? bad0 : bad1) + "): using the other";
        }
        else
        {
            at = Long.compareUnsigned(all.getLong(SEQ_OFFSET), all.getLong(SLOT_SIZE + SEQ_OFFSET)) >= 0 ? 0 :
                SLOT_SIZE;
        }
        seq = all.getLong(at + SEQ_OFFSET);
        final int state = all.get(at + DISK_STATE_OFFSET);
        if (state < 0 || state >= PERSISTED_STATES.length)
        {
            throw new IOException(file + ": unknown disk state " + state);
        }
        diskState = PERSISTED_STATES[state];
        final int flags = all.get(at + FLAGS_OFFSET);
        primary = (flags & FLAG_PRIMARY) != 0;
        clean = (flags & FLAG_CLEAN) != 0;
        primarySince = all.getLong(at + PRIMARY_SINCE_OFFSET);
        bitmapBlockSize = all.getInt(at + BLOCK_SIZE_OFFSET);
        volumeSize = all.getLong(at + VOLUME_SIZE_OFFSET);
        currentGen = all.getLong(at + CURRENT_GEN_OFFSET);
        historyCount = all.getInt(at + HISTORY_COUNT_OFFSET);
        if (historyCount < 0 || historyCount > HISTORY)
        {
            throw new IOException(file + ": " + historyCount + " history entries");
        }
        for (int i = 0; i < historyCount; i++)
        {
            history[i] = all.getLong(at + HISTORY_OFFSET + 8 * i);
        }
        final int peerCount = all.getInt(at + PEER_COUNT_OFFSET);
        if (peerCount < 0 || peerCount > MAX_PEERS)
        {
            throw new IOException(file + ": " + peerCount + " peer records");
        }
        peerNames = new String[peerCount];
        peerBitmapGens = new long[peerCount];
        peerFlags = new long[peerCount];
        for (int i = 0; i < peerCount; i++)
        {
            final int r = at + PEERS_OFFSET + i * PEER_RECORD;
            final int len = all.get(r) & 0xFF;
            if (len > PEER_NAME_MAX)
            {
                throw new IOException(file + ": peer record " + i + " has a name of " + len + " bytes");
            }
            peerNames[i] = new String(bytes, r + 1, len, StandardCharsets.UTF_8);
            peerBitmapGens[i] = all.getLong(r + 64);
            peerFlags[i] = all.getLong(r + 72);
        }
    }

    /** @return why the slot at {@code at} is not a valid record, or null. */
    private static String checkSlot(final ByteBuffer all, final int at)
    {
        final String which = "slot " + (at / SLOT_SIZE);
        if (all.getLong(at) != MAGIC)
        {
            return which + ": no metadata signature";
        }
        final CRC32C crc = new CRC32C();
        crc.update(all.array(), at, CRC_OFFSET);
        if ((int)crc.getValue() != all.getInt(at + CRC_OFFSET))
        {
            return which + ": checksum mismatch (torn or corrupted write)";
        }
        final int format = all.getInt(at + 8);
        if (format != FORMAT)
        {
            return which + ": unsupported metadata format " + format;
        }
        return null;
    }

    /** Keep the records of the given peers, in their order. */
    private void remapPeers(final String[] peers)
    {
        final long[] gens = new long[peers.length];
        final long[] flags = new long[peers.length];
        for (int i = 0; i < peers.length; i++)
        {
            if (peers[i].getBytes(StandardCharsets.UTF_8).length > PEER_NAME_MAX)
            {
                throw new IllegalArgumentException("peer name longer than " + PEER_NAME_MAX + " bytes: " + peers[i]);
            }
            for (int j = 0; j < peerNames.length; j++)
            {
                if (peerNames[j].equals(peers[i]))
                {
                    gens[i] = peerBitmapGens[j];
                    flags[i] = peerFlags[j];
                }
            }
        }
        peerNames = peers.clone();
        peerBitmapGens = gens;
        peerFlags = flags;
    }

    private void parseText(final List<String> lines) throws IOException
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
            if (isPrimary)
            {
                primarySince = System.currentTimeMillis();
            }
            store();
        }
    }

    /** @return when this node last became Primary, ms since the epoch; 0 for never. */
    long primarySince()
    {
        return primarySince;
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

    /**
     * Persist: write the whole record into the older slot and sync it. Until the sync returns the other slot holds
     * the previous record, so a crash at any point leaves one valid record.
     *
     * @throws IOException when it cannot be written.
     */
    void store() throws IOException
    {
        if (file == null || frozen)
        {
            return;
        }
        seq++;
        final ByteBuffer slot = ByteBuffer.allocate(SLOT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        slot.putLong(0, MAGIC).putInt(8, FORMAT).putInt(12, SLOT_SIZE).putLong(SEQ_OFFSET, seq);
        int state = 0;
        while (PERSISTED_STATES[state] != diskState)
        {
            state++;
        }
        slot.put(DISK_STATE_OFFSET, (byte)state);
        slot.put(FLAGS_OFFSET, (byte)((primary ? FLAG_PRIMARY : 0) | (clean ? FLAG_CLEAN : 0)));
        slot.putInt(BLOCK_SIZE_OFFSET, bitmapBlockSize).putLong(VOLUME_SIZE_OFFSET, volumeSize);
        slot.putLong(CURRENT_GEN_OFFSET, currentGen).putInt(HISTORY_COUNT_OFFSET, historyCount);
        for (int i = 0; i < historyCount; i++)
        {
            slot.putLong(HISTORY_OFFSET + 8 * i, history[i]);
        }
        slot.putLong(PRIMARY_SINCE_OFFSET, primarySince);
        slot.putInt(PEER_COUNT_OFFSET, peerNames.length);
        for (int i = 0; i < peerNames.length; i++)
        {
            final int r = PEERS_OFFSET + i * PEER_RECORD;
            final byte[] name = peerNames[i].getBytes(StandardCharsets.UTF_8);
            slot.put(r, (byte)name.length).put(r + 1, name).putLong(r + 64, peerBitmapGens[i])
                .putLong(r + 72, peerFlags[i]);
        }
        final CRC32C crc = new CRC32C();
        crc.update(slot.array(), 0, CRC_OFFSET);
        slot.putInt(CRC_OFFSET, (int)crc.getValue());
        final Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        final boolean created = !Files.exists(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.READ))
        {
            if (ch.size() != 2 * SLOT_SIZE)
            {
                ch.truncate(0); // a format-1 file is replaced by the two slots
            }
            long position = (seq & 1) * SLOT_SIZE;
            while (slot.hasRemaining())
            {
                position += ch.write(slot, position);
            }
            if (ch.size() < 2 * SLOT_SIZE)
            {
                ch.write(ByteBuffer.allocate(1), 2 * SLOT_SIZE - 1); // the other slot, still empty
            }
            ch.force(true);
        }
        if (created)
        {
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ))
            {
                d.force(true); // the new directory entry must survive a crash
            }
        }
    }

    /** Tests: from now on nothing is written, as if the process had died. */
    void freeze()
    {
        frozen = true;
    }

    /** @return a note about how the metadata was loaded (an upgrade, a torn slot), or null. */
    String loadNote()
    {
        return loadNote;
    }

    /** @return false when the node did not stop cleanly the last time (set again by {@link #setClean(boolean)}). */
    boolean wasClean()
    {
        return clean;
    }

    /**
     * @param isClean true at a clean stop, false while the node runs.
     * @throws IOException when it cannot be persisted.
     */
    void setClean(final boolean isClean) throws IOException
    {
        if (clean != isClean)
        {
            clean = isClean;
            store();
        }
    }

    /** @return the bitmap block size the persisted bitmaps were written with. */
    int bitmapBlockSize()
    {
        return bitmapBlockSize;
    }

    /** @param blockSize the bitmap block size the persisted bitmaps are written with from now on (not stored). */
    void bitmapBlockSize(final int blockSize)
    {
        bitmapBlockSize = blockSize;
    }

    /**
     * @param peer index in the peer order given at load.
     * @return the generation that peer's bitmap counts from (0: unknown).
     */
    long peerBitmapGen(final int peer)
    {
        return peerBitmapGens[peer];
    }

    /**
     * @param peer index in the peer order given at load.
     * @return PEER_* flags.
     */
    long peerFlags(final int peer)
    {
        return peerFlags[peer];
    }

    /**
     * Record a peer's bitmap generation and flags (persisted with the next store).
     *
     * @param peer      index in the peer order given at load.
     * @param bitmapGen the generation its bitmap counts from (0: unknown).
     * @param flags     PEER_* flags.
     * @return true when it changed.
     */
    boolean setPeer(final int peer, final long bitmapGen, final long flags)
    {
        if (peerBitmapGens[peer] == bitmapGen && peerFlags[peer] == flags)
        {
            return false;
        }
        peerBitmapGens[peer] = bitmapGen;
        peerFlags[peer] = flags;
        return true;
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
