package io.mirra.engine.replication;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One line of {@code mirra events}, like a line of {@code drbdsetup events2}: an action on an object with its
 * fields, e.g. {@code change connection name:demo peer-node-id:1 conn-name:bravo connection:Connected}.
 *
 * @param action "exists" (the initial dump), "create", "change" or "destroy"; "call" for the end of the dump.
 * @param object "resource", "device", "connection" or "peer-device"; "-" for the end-of-dump marker.
 * @param fields field name to value, in display order (drbd's names: name, volume, peer-node-id, conn-name, role,
 *               disk, connection, replication, peer-disk, ...).
 */
public record StateEvent(String action, String object, Map<String, String> fields)
{
    /** Copies the fields, keeping their order. */
    public StateEvent
    {
        fields = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    /** @return the events2 text form: {@code ACTION OBJECT key:value ...}. */
    public String toLine()
    {
        final StringBuilder sb = new StringBuilder(action).append(' ').append(object);
        fields.forEach((k, v) -> sb.append(' ').append(k).append(':').append(v));
        return sb.toString();
    }
}
