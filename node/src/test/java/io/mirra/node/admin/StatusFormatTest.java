package io.mirra.node.admin;

import io.mirra.test.Json;
import io.mirra.engine.replication.ConnectionState;
import io.mirra.engine.replication.DiskState;
import io.mirra.engine.replication.ReplicationState;
import io.mirra.engine.replication.ResourceStatus;
import io.mirra.engine.replication.ResourceStatus.ConnectionStatus;
import io.mirra.engine.replication.ResourceStatus.PeerDeviceStatus;
import io.mirra.engine.replication.Role;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.mirra.test.Json.array;
import static io.mirra.test.Json.object;
import static io.mirra.node.admin.StatusFixtures.disk;
import static io.mirra.node.admin.StatusFixtures.GIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertFalse;

@Timeout(10)
class StatusFormatTest
{
    @Test
    void shouldPrintOneVolumeThreeNodesWithADisconnectedPeerAndADisklessPeer()
    {
        assertEquals(String.join("\n",
            "demo role:Primary",
            "  disk:UpToDate",
            "  bravo connection:Connecting reason:AUTH_FAILED: the peer does not know the shared secret",
            "  charlie role:Secondary",
            "    peer-disk:Diskless peer-client:yes",
            "",
            ""), StatusFormat.text(List.of(StatusFixtures.threeNodes())));
    }

    @Test
    void shouldPrintTheDisklessNodesOwnView()
    {
        assertEquals(String.join("\n",
            "demo role:Secondary",
            "  disk:Diskless client:yes",
            "  alpha role:Primary",
            "    peer-disk:UpToDate",
            "  bravo role:Secondary",
            "    peer-disk:UpToDate",
            "",
            ""), StatusFormat.text(List.of(StatusFixtures.disklessView())));
    }

    @Test
    void shouldPrefixVolumeNumbersWhenTheResourceHasTwoVolumes()
    {
        assertEquals(String.join("\n",
            "db role:Secondary",
            "  volume:0 disk:UpToDate",
            "  volume:1 disk:Inconsistent",
            "  alpha role:Primary congested:yes",
            "    volume:0 peer-disk:UpToDate",
            "    volume:1 replication:SyncTarget peer-disk:UpToDate done:87.50 out-of-sync:131072",
            "  charlie connection:StandAlone reason:SplitBrain",
            "",
            ""), StatusFormat.text(List.of(StatusFixtures.twoVolumes())));
    }

    @Test
    void shouldShowReplicationStateProgressAndOutOfSyncOfASyncingPeer()
    {
        assertEquals(String.join("\n",
            "demo role:Primary",
            "  disk:UpToDate",
            "  bravo role:Secondary",
            "    replication:SyncSource peer-disk:Inconsistent done:45.31 out-of-sync:573440",
            "  charlie role:Secondary",
            "    peer-disk:Diskless peer-client:yes",
            "",
            ""), StatusFormat.text(List.of(StatusFixtures.syncingPeer())));
    }

    @Test
    void shouldShowTheRateAndTimeLeftOfAResyncThisNodeSends()
    {
        final io.mirra.engine.replication.ResourceStatus.PeerDeviceStatus pd =
            new io.mirra.engine.replication.ResourceStatus.PeerDeviceStatus(0,
                io.mirra.engine.replication.ReplicationState.SYNC_SOURCE,
                io.mirra.engine.replication.DiskState.INCONSISTENT, false, 560L << 20, 7L << 20, 2L << 20, 1, 2,
                45.3125, 2L << 20, 280);
        final io.mirra.engine.replication.ResourceStatus status = new io.mirra.engine.replication.ResourceStatus(
            "demo", "alpha", 0, io.mirra.engine.replication.Role.PRIMARY, false, List.of(),
            List.of(new io.mirra.engine.replication.ResourceStatus.ConnectionStatus("bravo", 1,
                io.mirra.engine.replication.ConnectionState.CONNECTED, null,
                io.mirra.engine.replication.Role.SECONDARY, false, List.of(pd))));
        final String text = StatusFormat.text(List.of(status));
        assertTrue(text.contains("replication:SyncSource peer-disk:Inconsistent done:45.31 rate:2048K/s left:280s " +
            "out-of-sync:573440"), text);
        final String json = StatusFormat.json(List.of(status));
        assertTrue(json.replace(" ", "").contains("\"mirra-resync-rate\":2048"), json);
        assertTrue(json.replace(" ", "").contains("\"mirra-resync-seconds-left\":280"), json);
    }

    @Test
    void shouldEndEveryResourceWithAnEmptyLineAsDrbdadmDoes()
    {
        final String both = StatusFormat.text(List.of(StatusFixtures.twoVolumes(), StatusFixtures.syncingPeer()));
        assertEquals(StatusFormat.text(List.of(StatusFixtures.twoVolumes())) +
            StatusFormat.text(List.of(StatusFixtures.syncingPeer())), both);
        assertEquals(2, both.split("\n\n", -1).length - 1, both);
    }

    @Test
    void shouldMarkASuspendedResourceAndAVolumeZeroThatIsNotAlone()
    {
        final ResourceStatus suspended = new ResourceStatus("r9", "alpha", 0, Role.PRIMARY, true,
            List.of(disk(3, DiskState.OUTDATED)), List.of());
        assertEquals("r9 role:Primary suspended:yes\n  volume:3 disk:Outdated\n\n",
            StatusFormat.text(List.of(suspended)));
    }

    @Test
    void shouldShowReplicationOffAndKeepAReasonOnOneLine()
    {
        final PeerDeviceStatus off = new PeerDeviceStatus(0, ReplicationState.OFF, DiskState.D_UNKNOWN, false, 0, 0,
            0, 0, 0, 100.0);
        final ResourceStatus resource = new ResourceStatus("demo", "alpha", 0, Role.SECONDARY, false,
            List.of(new ResourceStatus.DeviceStatus(0, DiskState.DISKLESS, false, GIB, 0, 0, 0, 0)),
            List.of(new ConnectionStatus("bravo", 1, ConnectionState.CONNECTED, "resync needed\nfrom bravo",
                Role.SECONDARY, false, List.of(off))));
        assertEquals(String.join("\n",
            "demo role:Secondary",
            "  disk:Diskless client:no",
            "  bravo role:Secondary reason:resync needed from bravo",
            "    replication:Off",
            "",
            ""), StatusFormat.text(List.of(resource)));
    }

    @Test
    void shouldSaySoWhenThereIsNothingToShow()
    {
        assertEquals("# No resources to show on this node.\n", StatusFormat.text(List.of()));
        assertEquals("[]\n", StatusFormat.json(List.of()));
    }

    @Test
    void shouldWriteJsonWithTheFieldNamesOfDrbdsetupStatus()
    {
        final List<Object> root = array(Json.parseStrict(StatusFormat.json(
            List.of(StatusFixtures.threeNodes(), StatusFixtures.twoVolumes()))));
        assertEquals(2, root.size());

        final Map<String, Object> demo = object(root.get(0));
        assertEquals(List.of("name", "node-id", "role", "suspended", "devices", "connections"),
            List.copyOf(demo.keySet()));
        assertEquals("demo", demo.get("name"));
        assertEquals(new BigDecimal(0), demo.get("node-id"));
        assertEquals("Primary", demo.get("role"));
        assertEquals(Boolean.FALSE, demo.get("suspended"));

        final Map<String, Object> device = object(array(demo.get("devices")).get(0));
        assertEquals(Map.of("volume", new BigDecimal(0), "disk-state", "UpToDate", "client", Boolean.FALSE,
            "size", new BigDecimal(1048576), "read", new BigDecimal(3072), "written", new BigDecimal(5120),
            "upper-pending", new BigDecimal(0), "lower-pending", new BigDecimal(0)), device);

        final List<Object> connections = array(demo.get("connections"));
        final Map<String, Object> bravo = object(connections.get(0));
        assertEquals(new BigDecimal(1), bravo.get("peer-node-id"));
        assertEquals("bravo", bravo.get("name"));
        assertEquals("Connecting", bravo.get("connection-state"));
        assertEquals(Boolean.FALSE, bravo.get("congested"));
        assertEquals("Unknown", bravo.get("peer-role"));
        assertEquals("AUTH_FAILED: the peer does not know the shared secret", bravo.get("mirra-reason"));
        final Map<String, Object> charlie = object(connections.get(1));
        assertFalse(charlie.containsKey("mirra-reason"), "no reason, no field: " + charlie);
        final Map<String, Object> charlie0 = object(array(charlie.get("peer_devices")).get(0));
        assertEquals(Set.of("volume", "replication-state", "peer-disk-state", "peer-client", "received", "sent",
            "out-of-sync", "pending", "unacked", "percent-in-sync"), charlie0.keySet());
        assertEquals("Established", charlie0.get("replication-state"));
        assertEquals("Diskless", charlie0.get("peer-disk-state"));
        assertEquals(Boolean.TRUE, charlie0.get("peer-client"));
        assertEquals(new BigDecimal("100.00"), charlie0.get("percent-in-sync"));

        final Map<String, Object> db = object(root.get(1));
        assertEquals(2, array(db.get("devices")).size());
        final Map<String, Object> alpha = object(array(db.get("connections")).get(0));
        assertEquals(Boolean.TRUE, alpha.get("congested"));
        assertEquals("Primary", alpha.get("peer-role"));
        final Map<String, Object> alpha1 = object(array(alpha.get("peer_devices")).get(1));
        assertEquals(new BigDecimal(1), alpha1.get("volume"));
        assertEquals("SyncTarget", alpha1.get("replication-state"));
        assertEquals(new BigDecimal(131072), alpha1.get("out-of-sync"));
        assertEquals(new BigDecimal(7168), alpha1.get("sent"));
        assertEquals(new BigDecimal(2048), alpha1.get("received"));
        assertEquals(new BigDecimal(1), alpha1.get("pending"));
        assertEquals(new BigDecimal(2), alpha1.get("unacked"));
        assertEquals(new BigDecimal("87.50"), alpha1.get("percent-in-sync"));
        assertEquals(new BigDecimal("87.50"), alpha1.get("percent-resync-done"));
    }

    @Test
    void shouldEscapeNamesInJson()
    {
        final String name = "we\"ird\\name\n\t\u0001é";
        final ResourceStatus resource = new ResourceStatus(name, "alpha", 0, Role.SECONDARY, false, List.of(),
            List.of());
        final Map<String, Object> parsed = object(array(Json.parseStrict(StatusFormat.json(List.of(resource)))).get(0));
        assertEquals(name, parsed.get("name"));
    }
}
