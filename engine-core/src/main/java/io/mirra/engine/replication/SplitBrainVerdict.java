package io.mirra.engine.replication;

/**
 * The verdict on a split brain between two nodes: which side loses its changes since the split (the victim), or
 * none (both stay StandAlone), and why. A pure function of the two sides' facts and the policies, and symmetric: the
 * sides are ordered by node id before deciding, so both nodes reach the same verdict from the same two reports.
 *
 * @param victim the side that becomes a copy of the other, or null to keep the connection down.
 * @param reason why, for the log and status.
 */
record SplitBrainVerdict(Side victim, String reason)
{
    /**
     * One side's facts.
     *
     * @param name         node name.
     * @param nodeId       node id (orders the sides).
     * @param primary      the node is Primary now.
     * @param discard      the operator asked this node to discard its data ({@code connect --discard-my-data}).
     * @param changedBytes bytes it changed since the split, or -1 when it cannot tell.
     * @param primarySince when it last became Primary (ms since the epoch), 0 for never.
     */
    record Side(String name, int nodeId, boolean primary, boolean discard, long changedBytes, long primarySince)
    {
    }

    /**
     * Decide.
     *
     * @param x          one side.
     * @param y          the other side.
     * @param zeroPrimaries policy when neither side is Primary.
     * @param onePrimary policy when one side is Primary.
     * @return the verdict; its victim is {@code x}, {@code y} or null.
     */
    static SplitBrainVerdict decide(final Side x, final Side y, final SplitBrainPolicy zeroPrimaries,
        final SplitBrainPolicy onePrimary)
    {
        final Side a = x.nodeId() <= y.nodeId() ? x : y;
        final Side b = a == x ? y : x;
        if (a.discard() && b.discard())
        {
            return none("both " + a.name() + " and " + b.name() + " were told to discard their data");
        }
        if (a.discard() || b.discard())
        {
            final Side loser = a.discard() ? a : b;
            return loser.primary() ?
                none(loser.name() + " was told to discard its data but is Primary (make it Secondary first)") :
                new SplitBrainVerdict(loser, loser.name() + " was told to discard its data (connect --discard-my-data)");
        }
        if (a.primary() && b.primary())
        {
            return none("both are Primary (after-sb-2pri disconnect)");
        }
        if (a.primary() || b.primary())
        {
            final Side secondary = a.primary() ? b : a;
            switch (onePrimary)
            {
                case DISCARD_SECONDARY:
                    return new SplitBrainVerdict(secondary, "after-sb-1pri discard-secondary: " + secondary.name() +
                        " is Secondary");
                case CONSENSUS:
                {
                    final SplitBrainVerdict zero = zeroPrimaries(a, b, zeroPrimaries);
                    return zero.victim() == secondary ? new SplitBrainVerdict(secondary, "after-sb-1pri consensus: " +
                        zero.reason()) : none("after-sb-1pri consensus: " + zero.reason() +
                        (zero.victim() == null ? "" : ", but " + zero.victim().name() + " is Primary"));
                }
                default:
                    return none("after-sb-1pri disconnect");
            }
        }
        return zeroPrimaries(a, b, zeroPrimaries);
    }

    private static SplitBrainVerdict zeroPrimaries(final Side a, final Side b, final SplitBrainPolicy policy)
    {
        final String p = "after-sb-0pri " + policy.configName() + ": ";
        switch (policy)
        {
            case DISCARD_ZERO_CHANGES:
                if (a.changedBytes() == 0 && b.changedBytes() == 0)
                {
                    return new SplitBrainVerdict(b, p + "neither changed anything; " + b.name() +
                        " (the higher node id) follows " + a.name());
                }
                if (a.changedBytes() == 0 || b.changedBytes() == 0)
                {
                    final Side loser = a.changedBytes() == 0 ? a : b;
                    return new SplitBrainVerdict(loser, p + loser.name() + " changed nothing");
                }
                return none(p + "both changed data");
            case DISCARD_YOUNGER_PRIMARY:
                return younger(a, b, p);
            case DISCARD_LEAST_CHANGES:
                if (a.changedBytes() < 0 || b.changedBytes() < 0)
                {
                    return none(p + (a.changedBytes() < 0 ? a : b).name() + " cannot count its changes");
                }
                if (a.changedBytes() != b.changedBytes())
                {
                    final Side loser = a.changedBytes() < b.changedBytes() ? a : b;
                    return new SplitBrainVerdict(loser, p + loser.name() + " changed " + loser.changedBytes() +
                        " bytes, " + (loser == a ? b : a).name() + " " + (loser == a ? b : a).changedBytes());
                }
                return younger(a, b, p + "equal changes, so ");
            default:
                return none("after-sb-0pri disconnect");
        }
    }

    private static SplitBrainVerdict younger(final Side a, final Side b, final String p)
    {
        if (a.primarySince() == b.primarySince())
        {
            return none(p + "no younger Primary to tell apart");
        }
        final Side loser = a.primarySince() > b.primarySince() ? a : b;
        return new SplitBrainVerdict(loser, p + loser.name() + " became Primary later");
    }

    private static SplitBrainVerdict none(final String reason)
    {
        return new SplitBrainVerdict(null, reason);
    }
}
