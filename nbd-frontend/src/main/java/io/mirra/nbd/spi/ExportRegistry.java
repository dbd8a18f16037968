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
