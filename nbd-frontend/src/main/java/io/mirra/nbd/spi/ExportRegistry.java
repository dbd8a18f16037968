package io.mirra.nbd.spi;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Export name to export. The empty name (the client's "default export") maps to the export registered as default.
 * Thread-safe: exports may be added and removed while connections negotiate.
 */
public final class ExportRegistry
{
    private final Map<String, NbdExport> exports = new ConcurrentHashMap<>();
    private volatile String defaultName;

    /**
     * Add an export; the first one added becomes the default.
     *
     * @param export the export.
     * @return this.
     */
    public ExportRegistry add(final NbdExport export)
    {
        if (exports.putIfAbsent(export.name(), export) != null)
        {
            throw new IllegalArgumentException("duplicate export name '" + export.name() + "'");
        }
        if (defaultName == null)
        {
            defaultName = export.name();
        }
        return this;
    }

    /**
     * Remove an export (new connections no longer find it; open ones keep their backend). If it was the default,
     * there is no default until the next add.
     *
     * @param name export name.
     * @return true if it was registered.
     */
    public boolean remove(final String name)
    {
        final boolean removed = exports.remove(name) != null;
        if (removed && name.equals(defaultName))
        {
            defaultName = null;
        }
        return removed;
    }

    /**
     * @param name export name; empty selects the default export.
     * @return the export, or null if none has that name.
     */
    public NbdExport find(final String name)
    {
        final String key = name.isEmpty() && defaultName != null ? defaultName : name;
        return exports.get(key);
    }

    /**
     * @return every export, sorted by name.
     */
    public List<NbdExport> list()
    {
        final List<NbdExport> all = new ArrayList<>(exports.values());
        all.sort((a, b) -> a.name().compareTo(b.name()));
        return Collections.unmodifiableList(all);
    }
}
