package io.mirra.node.config;

import java.util.List;

/**
 * "Did you mean" suggestions for unknown keys: the closest allowed key by edit distance, when it is close.
 */
final class KeyHints
{
    private KeyHints()
    {
    }

    /**
     * The hint appended to an "unknown key" message.
     *
     * @param key     the unknown key.
     * @param allowed the keys allowed at that place.
     * @return {@code ", did you mean 'x'?"} for a close key, else {@code "; allowed here: a, b, c"}.
     */
    static String suggest(final String key, final List<String> allowed)
    {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (final String candidate : allowed)
        {
            final int d = distance(key, candidate);
            if (d < bestDistance)
            {
                best = candidate;
                bestDistance = d;
            }
        }
        if (best != null && bestDistance <= Math.max(1, Math.min(3, best.length() / 3)))
        {
            return ", did you mean '" + best + "'?";
        }
        return "; allowed here: " + String.join(", ", allowed);
    }

    /**
     * Levenshtein distance, case-insensitive, with '_' equal to '-' (so {@code state_dir} finds {@code state-dir}).
     *
     * @param a one string.
     * @param b the other.
     * @return number of single-character insertions, deletions and substitutions between them.
     */
    static int distance(final String a, final String b)
    {
        final String x = a.toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        final String y = b.toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        int[] previous = new int[y.length() + 1];
        int[] current = new int[y.length() + 1];
        for (int j = 0; j <= y.length(); j++)
        {
            previous[j] = j;
        }
        for (int i = 1; i <= x.length(); i++)
        {
            current[0] = i;
            for (int j = 1; j <= y.length(); j++)
            {
                final int cost = x.charAt(i - 1) == y.charAt(j - 1) ? 0 : 1;
                current[j] = Math.min(Math.min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            final int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[y.length()];
    }
}
