package io.mirra.node.config;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sizes in resource files: a whole number of bytes with an optional binary unit: {@code 4096}, {@code 4K},
 * {@code 512M}, {@code 1G}, {@code 10GiB}, {@code 2T}, {@code 1P}. Every unit is a power of 1024 (as DRBD and
 * qemu-img read them); {@code KB}/{@code MB} and fractions are not accepted. The one size parser of resource files
 * and command-line options.
 */
public final class Sizes
{
    private static final Pattern SIZE = Pattern.compile("([0-9]+)\\s*(?:([kKmMgGtTpP])(iB)?)?");

    private Sizes()
    {
    }

    /**
     * Parses a size.
     *
     * @param text the text of the YAML scalar.
     * @return the size in bytes, or -1 when the text is not a size, -2 when it overflows a long.
     */
    public static long parse(final String text)
    {
        final Matcher m = SIZE.matcher(text.trim());
        if (!m.matches())
        {
            return -1;
        }
        try
        {
            final long number = Long.parseLong(m.group(1));
            final String unit = m.group(2);
            if (unit == null)
            {
                return number;
            }
            final int shift = 10 * ("KMGTP".indexOf(unit.toUpperCase(Locale.ROOT)) + 1);
            if (number > (Long.MAX_VALUE >> shift))
            {
                return -2;
            }
            return number << shift;
        }
        catch (final NumberFormatException ex)
        {
            return -2;
        }
    }

    /**
     * A readable form of a byte count, for messages.
     *
     * @param bytes a size.
     * @return e.g. {@code 1 GiB}, or the plain number when it is not a whole number of KiB.
     */
    public static String format(final long bytes)
    {
        final String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        long value = bytes;
        String unit = "bytes";
        for (int i = 0; i < units.length && value != 0 && (value & 1023) == 0; i++)
        {
            value >>= 10;
            unit = units[i];
        }
        return value + " " + unit;
    }
}
