package io.mirra.node.config;

/**
 * One problem found in a config directory.
 *
 * @param file    file name (relative to the config directory), or the directory itself for directory problems.
 * @param line    1-based line, or 0 when the problem has no line.
 * @param key     dotted key path, e.g. {@code nodes.alpha.volumes.0.disk}; empty when the problem has no key.
 * @param message what is wrong.
 */
public record ConfigError(String file, int line, String key, String message)
{
    /**
     * The one-line form {@code FILE:LINE: KEY: message} (parts without a value are left out).
     *
     * @return the line shown to the operator.
     */
    @Override
    public String toString()
    {
        final StringBuilder sb = new StringBuilder(file);
        if (line > 0)
        {
            sb.append(':').append(line);
        }
        sb.append(": ");
        if (!key.isEmpty())
        {
            sb.append(key).append(": ");
        }
        return sb.append(message).toString();
    }
}
