package io.mirra.node.admin;

import io.mirra.engine.replication.ConnectionState;
import io.mirra.engine.replication.DiskState;
import io.mirra.engine.replication.ReplicationState;
import io.mirra.engine.replication.ResourceStatus;
import io.mirra.engine.replication.ResourceStatus.ConnectionStatus;
import io.mirra.engine.replication.ResourceStatus.DeviceStatus;
import io.mirra.engine.replication.ResourceStatus.PeerDeviceStatus;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The two forms of {@code mirra status}: the text layout of {@code drbdadm status} and the JSON of
 * {@code drbdsetup status --json} (the fields mirra has, with drbd's names; sizes in KiB as drbd prints them).
 * <p>
 * Text, as drbdsetup prints it when stdout is not a terminal and neither {@code --verbose} nor
 * {@code --statistics} is given: per resource a line {@code NAME role:ROLE}, per local volume
 * {@code disk:STATE} (prefixed by {@code volume:N} unless the resource has only volume 0), per peer
 * {@code PEER role:ROLE} when connected or {@code PEER connection:STATE} when not, and per peer volume (connected
 * peers only) {@code peer-disk:STATE} with {@code replication:STATE} when not Established and {@code done:PERCENT}
 * during a resync. Every resource ends with an empty line, as in drbdadm's output. mirra adds
 * {@code reason:WHY} at the end of a peer's line (why it stays down or does not replicate) and
 * {@code out-of-sync:KiB} when a peer volume has out-of-sync blocks. Lines are not wrapped.
 */
public final class StatusFormat
{
    private StatusFormat()
    {
    }

    /**
     * @param resources the resources, in the order to print.
     * @return the {@code drbdadm status} layout, each line ending with a newline; a comment line when the list is
     *         empty.
     */
    public static String text(final List<ResourceStatus> resources)
    {
        if (resources.isEmpty())
        {
            return "# No resources to show on this node.\n";
        }
        final StringBuilder sb = new StringBuilder();
        for (final ResourceStatus resource : resources)
        {
            resourceText(sb, resource);
        }
        return sb.toString();
    }

    /**
     * @param resources the resources, in the order to print.
     * @return a JSON array with one object per resource, indented, ending with a newline.
     */
    public static String json(final List<ResourceStatus> resources)
    {
        final JsonWriter json = new JsonWriter(true);
        json.beginArray();
        for (final ResourceStatus resource : resources)
        {
            resourceJson(json, resource);
        }
        json.endArray();
        return json + "\n";
    }

    /**
     * @param bytes a byte count.
     * @return KiB, rounded down (drbd's sectors / 2).
     */
    static long kib(final long bytes)
    {
        return bytes / 1024;
    }

    /**
     * @param bytes a byte count of out-of-sync data.
     * @return KiB, rounded up, so that a few out-of-sync bytes never show as 0.
     */
    static long outOfSyncKib(final long bytes)
    {
        return (bytes + 1023) / 1024;
    }

    /**
     * @param state a replication state.
     * @return true while a resync runs or is paused (when drbd shows {@code done:}).
     */
    static boolean resyncing(final ReplicationState state)
    {
        return state == ReplicationState.SYNC_SOURCE || state == ReplicationState.SYNC_TARGET ||
            state == ReplicationState.PAUSED_SYNC_S || state == ReplicationState.PAUSED_SYNC_T;
    }

    private static void resourceText(final StringBuilder sb, final ResourceStatus resource)
    {
        final List<String> head = new ArrayList<>();
        head.add(resource.name());
        head.add("role:" + resource.role().displayName());
        if (resource.suspended())
        {
            head.add("suspended:yes");
        }
        line(sb, 0, head);

        // drbd omits "volume:0" only when volume 0 is the resource's single volume
        final boolean single = resource.devices().size() == 1 && resource.devices().get(0).volume() == 0;
        for (final DeviceStatus device : resource.devices())
        {
            final List<String> tokens = new ArrayList<>();
            if (!single)
            {
                tokens.add("volume:" + device.volume());
            }
            tokens.add("disk:" + device.diskState().displayName());
            if (device.diskState() == DiskState.DISKLESS)
            {
                tokens.add("client:" + yesNo(device.client()));
            }
            line(sb, 2, tokens);
        }

        for (final ConnectionStatus connection : resource.connections())
        {
            connectionText(sb, connection, single);
        }
        sb.append('\n');
    }

    private static void connectionText(final StringBuilder sb, final ConnectionStatus connection, final boolean single)
    {
        final boolean connected = connection.connectionState() == ConnectionState.CONNECTED;
        final List<String> tokens = new ArrayList<>();
        tokens.add(connection.peerName());
        if (connected)
        {
            tokens.add("role:" + connection.peerRole().displayName());
        }
        else
        {
            tokens.add("connection:" + connection.connectionState().displayName());
        }
        if (connection.congested())
        {
            tokens.add("congested:yes");
        }
        if (connection.reason() != null && !connection.reason().isBlank())
        {
            // last on the line: a reason may contain spaces
            tokens.add("reason:" + oneLine(connection.reason()));
        }
        line(sb, 2, tokens);
        if (!connected)
        {
            return; // drbd shows peer volumes of connected peers only
        }
        for (final PeerDeviceStatus peerDevice : connection.peerDevices())
        {
            final List<String> pd = new ArrayList<>();
            if (!single)
            {
                pd.add("volume:" + peerDevice.volume());
            }
            if (peerDevice.replicationState() != ReplicationState.ESTABLISHED)
            {
                pd.add("replication:" + peerDevice.replicationState().displayName());
            }
            if (peerDevice.replicationState() != ReplicationState.OFF ||
                peerDevice.peerDiskState() != DiskState.D_UNKNOWN)
            {
                pd.add("peer-disk:" + peerDevice.peerDiskState().displayName());
                if (peerDevice.peerDiskState() == DiskState.DISKLESS)
                {
                    pd.add("peer-client:" + yesNo(peerDevice.peerClient()));
                }
            }
            if (resyncing(peerDevice.replicationState()))
            {
                pd.add("done:" + percent(peerDevice.percentInSync()));
                if (peerDevice.resyncBytesPerSec() > 0)
                {
                    // mirra's addition: drbdadm shows these only with --verbose --statistics
                    pd.add("rate:" + kib(peerDevice.resyncBytesPerSec()) + "K/s");
                }
                if (peerDevice.resyncSecondsLeft() >= 0)
                {
                    pd.add("left:" + peerDevice.resyncSecondsLeft() + "s");
                }
            }
            if (peerDevice.outOfSyncBytes() > 0)
            {
                pd.add("out-of-sync:" + outOfSyncKib(peerDevice.outOfSyncBytes()));
            }
            line(sb, 4, pd);
        }
    }

    private static void resourceJson(final JsonWriter json, final ResourceStatus resource)
    {
        json.beginObject()
            .field("name", resource.name())
            .field("node-id", resource.nodeId())
            .field("role", resource.role().displayName())
            .field("suspended", resource.suspended())
            .name("devices").beginArray();
        for (final DeviceStatus device : resource.devices())
        {
            json.beginObject()
                .field("volume", device.volume())
                .field("disk-state", device.diskState().displayName())
                .field("client", device.client())
                .field("size", kib(device.sizeBytes()))
                .field("read", kib(device.readBytes()))
                .field("written", kib(device.writtenBytes()))
                .field("upper-pending", device.upperPending())
                .field("lower-pending", device.lowerPending())
                .endObject();
        }
        json.endArray().name("connections").beginArray();
        for (final ConnectionStatus connection : resource.connections())
        {
            json.beginObject()
                .field("peer-node-id", connection.peerNodeId())
                .field("name", connection.peerName())
                .field("connection-state", connection.connectionState().displayName())
                .field("congested", connection.congested())
                .field("peer-role", connection.peerRole().displayName());
            if (connection.reason() != null)
            {
                json.field("mirra-reason", connection.reason());
            }
            json.name("peer_devices").beginArray();
            for (final PeerDeviceStatus peerDevice : connection.peerDevices())
            {
                json.beginObject()
                    .field("volume", peerDevice.volume())
                    .field("replication-state", peerDevice.replicationState().displayName())
                    .field("peer-disk-state", peerDevice.peerDiskState().displayName())
                    .field("peer-client", peerDevice.peerClient())
                    .field("received", kib(peerDevice.receivedBytes()))
                    .field("sent", kib(peerDevice.sentBytes()))
                    .field("out-of-sync", outOfSyncKib(peerDevice.outOfSyncBytes()))
                    .field("pending", peerDevice.pending())
                    .field("unacked", peerDevice.unacked())
                    .name("percent-in-sync").value(peerDevice.percentInSync(), 2);
                if (resyncing(peerDevice.replicationState()))
                {
                    // drbdsetup's figure when it has no resync details: the share of the volume in sync
                    json.name("percent-resync-done").value(peerDevice.percentInSync(), 2);
                    json.field("mirra-resync-rate", kib(peerDevice.resyncBytesPerSec()))
                        .field("mirra-resync-seconds-left", peerDevice.resyncSecondsLeft());
                }
                json.endObject();
            }
            json.endArray().endObject();
        }
        json.endArray().endObject();
    }

    private static void line(final StringBuilder sb, final int indent, final List<String> tokens)
    {
        sb.append(" ".repeat(indent)).append(String.join(" ", tokens)).append('\n');
    }

    private static String percent(final double value)
    {
        return String.format(Locale.ROOT, "%.2f", Double.isFinite(value) ? value : 0.0);
    }

    private static String yesNo(final boolean value)
    {
        return value ? "yes" : "no";
    }

    /** A reason is free text from the engine; keep the layout line-based whatever it contains. */
    static String oneLine(final String text)
    {
        return text.replaceAll("[\\r\\n\\t]+", " ").strip();
    }
}
