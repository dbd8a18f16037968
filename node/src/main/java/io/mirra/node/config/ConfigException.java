package io.mirra.node.config;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A config directory that cannot be used. The message lists every problem found, one per line, each
 * {@code FILE:LINE: KEY: what is wrong}; secrets never appear in it.
 */
public final class ConfigException extends Exception
{
    private static final long serialVersionUID = 1L;

    private final transient List<ConfigError> errors;

    /**
     * A failure with at least one error.
     *
     * @param errors the problems, in the order to report them.
     */
    public ConfigException(final List<ConfigError> errors)
    {
        super(errors.stream().map(ConfigError::toString).collect(Collectors.joining("\n")));
        this.errors = List.copyOf(errors);
    }

    /**
     * The problems, one per message line.
     *
     * @return every problem found.
     */
    public List<ConfigError> errors()
    {
        return errors;
    }
}
