package io.mirra.node.config;

import java.util.Locale;

/**
 * Options of a resource (the {@code options:} section); every field has a default, see
 * {@link #defaults()}.
 *
 * @param quorum                   quorum rule.
 * @param onNoQuorum               what a Primary does with I/O while it has no quorum.
 * @param bitmapBlockSizeBytes     bytes per out-of-sync bit, a power of two in 4 KiB..1 MiB.
 * @param afterSb0Pri              split-brain policy when neither node is Primary.
 * @param afterSb1Pri              split-brain policy when one node is Primary.
 * @param afterSb2Pri              split-brain policy when both nodes are Primary.
 * @param resyncRateMinBytesPerSec resync rate kept even while applications write (DRBD's c-min-rate).
 * @param resyncRateMaxBytesPerSec upper bound of the resync rate (DRBD's c-max-rate).
 * @param alExtents                extents of 4 MiB in each volume's activity log (DRBD's al-extents): after a crash
 *                                 at most this many are resynced; more extents, fewer log writes.
 * @param resyncAdaptive           {@code resync-controller: adaptive} (default): the resync takes what application
 *                                 writes leave of resync-rate-max, at least resync-rate-min; {@code fixed}: always
 *                                 resync-rate-max.
 */
public record ResourceOptions(
    Quorum quorum,
    OnNoQuorum onNoQuorum,
    int bitmapBlockSizeBytes,
    AfterSplitBrain afterSb0Pri,
    AfterSplitBrain afterSb1Pri,
    AfterSplitBrain afterSb2Pri,
    long resyncRateMinBytesPerSec,
    long resyncRateMaxBytesPerSec,
    int alExtents,
    boolean resyncAdaptive)
{
    /** Default bitmap block size: 4 KiB. */
    public static final int BITMAP_BLOCK_SIZE_DEFAULT = 4096;
    /** Smallest bitmap block size: 4 KiB. */
    public static final int BITMAP_BLOCK_SIZE_MIN = 4096;
    /** Largest bitmap block size: 1 MiB. */
    public static final int BITMAP_BLOCK_SIZE_MAX = 1024 * 1024;
    /** Default of {@code resync-rate-min}: 250 KiB/s, as DRBD's c-min-rate. */
    public static final long RESYNC_RATE_MIN_DEFAULT = 250L * 1024;
    /** Default of {@code resync-rate-max}: 100 MiB/s, as DRBD's c-max-rate. */
    public static final long RESYNC_RATE_MAX_DEFAULT = 100L * 1024 * 1024;
    /** Default of {@code al-extents}: 1237 (about 4.8 GiB of hot data), as DRBD. */
    public static final int AL_EXTENTS_DEFAULT = 1237;
    /** Largest {@code al-extents}. */
    public static final int AL_EXTENTS_MAX = 65534;

    /**
     * The options of a resource file without an {@code options:} section.
     *
     * @return quorum off, suspend-io, 4 KiB bitmap blocks, disconnect on every split brain, 250K..100M resync, 1237 activity-log extents.
     */
    public static ResourceOptions defaults()
    {
        return new ResourceOptions(Quorum.OFF, OnNoQuorum.SUSPEND_IO, BITMAP_BLOCK_SIZE_DEFAULT,
            AfterSplitBrain.DISCONNECT, AfterSplitBrain.DISCONNECT, AfterSplitBrain.DISCONNECT,
            RESYNC_RATE_MIN_DEFAULT, RESYNC_RATE_MAX_DEFAULT, AL_EXTENTS_DEFAULT, true);
    }

    /**
     * The quorum rule: {@code off}, {@code majority} or a fixed number of votes.
     *
     * @param kind  which rule.
     * @param votes votes needed for {@link Kind#FIXED}, 0 otherwise.
     */
    public record Quorum(Kind kind, int votes)
    {
        /** No quorum: a node may always become Primary. */
        public static final Quorum OFF = new Quorum(Kind.OFF, 0);
        /** More than half of the nodes (a diskless node counts as a tiebreaker). */
        public static final Quorum MAJORITY = new Quorum(Kind.MAJORITY, 0);

        /** The kinds of quorum rule. */
        public enum Kind
        {
            /** No quorum. */
            OFF,
            /** Majority of all nodes of the resource. */
            MAJORITY,
            /** A fixed number of reachable nodes, this one included. */
            FIXED
        }

        /**
         * A fixed number of votes.
         *
         * @param votes reachable nodes needed, this one included; 1..number of nodes.
         * @return the rule.
         */
        public static Quorum fixed(final int votes)
        {
            return new Quorum(Kind.FIXED, votes);
        }

        /**
         * {@inheritDoc}
         */
        @Override
        public String toString()
        {
            return kind == Kind.FIXED ? Integer.toString(votes) : kind.name().toLowerCase(Locale.ROOT);
        }
    }

    /** What a Primary does with I/O while it has no quorum (DRBD's on-no-quorum). */
    public enum OnNoQuorum
    {
        /** Hold I/O until quorum returns (or the resource is taken down). */
        SUSPEND_IO,
        /** Fail I/O with an error. */
        IO_ERROR;

        /**
         * The spelling in the resource file.
         *
         * @return e.g. {@code suspend-io}.
         */
        public String configName()
        {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    /** Automatic split-brain recovery policies (DRBD's after-sb-0pri/1pri/2pri values). */
    public enum AfterSplitBrain
    {
        /** No automatic recovery: the connection stays down in SplitBrain. */
        DISCONNECT,
        /** A node that wrote nothing since the split becomes SyncTarget. 0pri only. */
        DISCARD_ZERO_CHANGES,
        /** The node that became Primary last is discarded. 0pri only. */
        DISCARD_YOUNGER_PRIMARY,
        /** The node with fewer changed blocks is discarded. 0pri only. */
        DISCARD_LEAST_CHANGES,
        /** The Secondary is discarded. 1pri only. */
        DISCARD_SECONDARY,
        /** Use the 0pri policy if it discards the Secondary, else disconnect. 1pri only. */
        CONSENSUS;

        /**
         * The spelling in the resource file.
         *
         * @return e.g. {@code discard-zero-changes}.
         */
        public String configName()
        {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }
}
