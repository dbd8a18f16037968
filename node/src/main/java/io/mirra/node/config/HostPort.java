package io.mirra.node.config;

import java.util.Locale;

/**
 * A network address: host name or literal address, and a port. Resource files require ports 1..65535; the command
 * line also takes 0 for a listen address ("any free port").
 *
 * @param host host name or IP literal, without brackets for IPv6.
 * @param port TCP port, 0..65535.
 */
public record HostPort(String host, int port)
{
    /**
     * Parse {@code HOST:PORT}, with an IPv6 literal in brackets ({@code [::1]:10809}). The one parser of addresses
     * for resource files and command-line options.
     *
     * @param text the text.
     * @return the address, or null when the text is not HOST:PORT with a port number in 0..65535.
     */
    public static HostPort parse(final String text)
    {
        final String trimmed = text.trim();
        final int colon = trimmed.lastIndexOf(':');
        if (colon <= 0)
        {
            return null;
        }
        String host = trimmed.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]"))
        {
            host = host.substring(1, host.length() - 1);
        }
        else if (host.indexOf(':') >= 0)
        {
            return null; // an IPv6 literal must be written in brackets
        }
        if (host.isEmpty() || host.contains(" "))
        {
            return null;
        }
        try
        {
            final int port = Integer.parseInt(trimmed.substring(colon + 1));
            return port >= 0 && port <= 65535 ? new HostPort(host, port) : null;
        }
        catch (final NumberFormatException ex)
        {
            return null;
        }
    }

    /**
     * The form used to detect two uses of one address: lower-case host and the port.
     *
     * @return a comparison key; "localhost" and "127.0.0.1" are not resolved and so differ.
     */
    public String key()
    {
        return host.toLowerCase(Locale.ROOT) + ":" + port;
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public String toString()
    {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
