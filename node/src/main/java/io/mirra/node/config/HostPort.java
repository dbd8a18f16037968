package io.mirra.node.config;

import java.util.Locale;

/**
 * A configured network address: host name or literal address, and a port in 1..65535.
 *
 * @param host host name or IP literal, without brackets for IPv6.
 * @param port TCP port, 1..65535.
 */
public record HostPort(String host, int port)
{
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
