package io.mirra.node;

import io.mirra.node.config.HostPort;
import io.mirra.node.config.Sizes;

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
     * Parse a size option with the same rules as resource files ({@link Sizes}): whole bytes with an optional binary
     * unit, {@code 4096}, {@code 512M}, {@code 20G}, {@code 10GiB}.
     *
     * @param option option name, for the message.
     * @param text   the text.
     * @return bytes, greater than zero.
     * @throws UsageException if it is not a positive size.
     */
    public static long parseSize(final String option, final String text) throws UsageException
    {
        final long bytes = Sizes.parse(text);
        if (bytes == -1)
        {
            throw new UsageException("--" + option + ": '" + text + "' is not a size (e.g. 1G, 512M, 4096)");
        }
        if (bytes <= 0)
        {
            throw new UsageException("--" + option + ": '" + text + "' must be greater than zero and below 8 EiB");
        }
        return bytes;
    }

    /**
     * Parse HOST:PORT (IPv6 as [ADDR]:PORT) with the same rules as resource files ({@link HostPort#parse}).
     *
     * @param option option name, for the message.
     * @param text   the text.
     * @return host and port; port 0..65535 (0: any free port).
     * @throws UsageException if malformed.
     */
    public static HostPort parseHostPort(final String option, final String text) throws UsageException
    {
        final HostPort hostPort = HostPort.parse(text);
        if (hostPort == null)
        {
            throw new UsageException("--" + option + ": '" + text + "' is not HOST:PORT with a port 0..65535" +
                " (IPv6 as [ADDR]:PORT)");
        }
        return hostPort;
    }
}
