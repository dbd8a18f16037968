package io.mirra.nbd.spi;

import java.util.Objects;

/**
 * A named export: what NBD_OPT_LIST shows and NBD_OPT_GO selects.
 *
 * @param name        export name (UTF-8, at most 4096 bytes).
 * @param description human-readable description, may be empty.
 * @param backend     the storage behind it.
 */
public record NbdExport(String name, String description, NbdBackend backend)
{
    /**
     * Validates the fields.
     */
    public NbdExport
    {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(backend, "backend");
        if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 4096)
        {
            throw new IllegalArgumentException("export name longer than 4096 bytes");
        }
    }
}
