package io.mirra.node;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Minimal GNU-style option parsing for the mirra commands: {@code --key value}, {@code --key=value} and boolean
 * {@code --flag}. Unknown options, missing values and repeated options are errors naming the option.
 */
public final class Args
{
    private final Map<String, String> values = new HashMap<>();
    private final List<String> positional = new ArrayList<>();

    private Args()
    {
    }

    /**
     * @param command     command name, for messages.
     * @param args        the arguments after the command name.
     * @param withValue   options that take a value (without the leading dashes).
     * @param flags       boolean options (without the leading dashes).
     * @return the parsed arguments.
     * @throws UsageException on an unknown, repeated or incomplete option.
     */
    public static Args parse(final String command, final String[] args, final Set<String> withValue,
        final Set<String> flags) throws UsageException
    {
        final Args parsed = new Args();
        for (int i = 0; i < args.length; i++)
        {
            final String arg = args[i];
            if (!arg.startsWith("--") || arg.equals("--"))
            {
                parsed.positional.add(arg);
                continue;
            }
            final int eq = arg.indexOf('=');
            final String key = arg.substring(2, eq < 0 ? arg.length() : eq);
            final String value;
            if (withValue.contains(key))
            {
                if (eq >= 0)
                {
                    value = arg.substring(eq + 1);
                }
                else if (i + 1 < args.length)
                {
                    value = args[++i];
                }
                else
                {
                    throw new UsageException(command + ": option --" + key + " needs a value");
                }
            }
            else if (flags.contains(key))
            {
                if (eq >= 0)
                {
                    throw new UsageException(command + ": option --" + key + " takes no value");
                }
                value = "true";
            }
            else
            {
                throw new UsageException(command + ": unknown option --" + key + " (see " + command + " --help)");
            }
            if (parsed.values.put(key, value) != null)
            {
                throw new UsageException(command + ": option --" + key + " given twice");
            }
        }
        return parsed;
    }

    /**
     * @param key option name.
     * @return its value, or null.
     */
    public String value(final String key)
    {
        return values.get(key);
    }

    /**
     * @param key option name.
     * @return true if the boolean option was given.
     */
    public boolean flag(final String key)
    {
        return values.containsKey(key);
    }

    /**
     * @return positional arguments in order.
     */
    public List<String> positional()
    {
        return positional;
    }

    /**
     * Parse a size: a number of bytes with an optional binary suffix K, M, G, T (also KiB, MiB... and lower case).
     *
     * @param option option name, for the message.
     * @param text   the text.
     * @return bytes, greater than zero.
     * @throws UsageException if it is not a positive size.
     */
    public static long parseSize(final String option, final String text) throws UsageException
    {
        final String t = text.trim().toUpperCase(java.util.Locale.ROOT).replace("IB", "").replace("B", "");
        int end = 0;
        while (end < t.length() && Character.isDigit(t.charAt(end)))
        {
            end++;
        }
        final String suffix = t.substring(end);
        final int shift;
        switch (suffix)
        {
            case "": shift = 0; break;
            case "K": shift = 10; break;
            case "M": shift = 20; break;
            case "G": shift = 30; break;
            case "T": shift = 40; break;
            case "P": shift = 50; break;
            default: throw new UsageException("--" + option + ": '" + text + "' is not a size (e.g. 1G, 512M, 4096)");
        }
        try
        {
            final long number = Long.parseLong(t.substring(0, end));
            if (number <= 0 || Long.numberOfLeadingZeros(number) <= shift)
            {
                throw new UsageException("--" + option + ": '" + text + "' must be greater than zero and below 8 EiB");
            }
            return number << shift;
        }
        catch (final NumberFormatException ex)
        {
            throw new UsageException("--" + option + ": '" + text + "' is not a size (e.g. 1G, 512M, 4096)");
        }
    }

    /**
     * Parse HOST:PORT (IPv6 as [ADDR]:PORT).
     *
     * @param option option name, for the message.
     * @param text   the text.
     * @return host and port; port 0..65535.
     * @throws UsageException if malformed.
     */
    public static HostPort parseHostPort(final String option, final String text) throws UsageException
    {
        final int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1)
        {
            throw new UsageException("--" + option + ": '" + text + "' is not HOST:PORT");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]"))
        {
            host = host.substring(1, host.length() - 1);
        }
        try
        {
            final int port = Integer.parseInt(text.substring(colon + 1));
            if (port < 0 || port > 65535)
            {
                throw new NumberFormatException();
            }
            return new HostPort(host, port);
        }
        catch (final NumberFormatException ex)
        {
            throw new UsageException("--" + option + ": port in '" + text + "' must be 0..65535");
        }
    }

    /**
     * A parsed listen address.
     *
     * @param host host name or address.
     * @param port port, 0 for any free port.
     */
    public record HostPort(String host, int port)
    {
    }
}
