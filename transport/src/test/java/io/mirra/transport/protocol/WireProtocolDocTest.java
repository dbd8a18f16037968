package io.mirra.transport.protocol;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * docs/wire-protocol.md must agree with {@link ReplicationProtocol}: every type row, refusal code and feature bit.
 */
@Timeout(10)
class WireProtocolDocTest
{
    private static final Path DOC = Path.of("..", "docs", "wire-protocol.md");

    @Test
    void shouldDescribeEveryMessageTypeRefusalAndFeatureAsDeclared() throws IOException
    {
        assertTrue(Files.exists(DOC), DOC.toAbsolutePath() + " missing");
        final String doc = Files.readString(DOC);
        for (final int type : new int[]{HELLO, AUTH_RESPONSE, AUTH_OK, REFUSE, WRITE, WRITE_ACK, PING, PING_ACK})
        {
            final int streams = streamsOf(type);
            final String stream = streams == STREAM_BOTH ? "both" : streamName(streams);
            final int min = minBodyLength(type);
            final int max = maxBodyLength(type, MAX_WRITE_DATA_LENGTH);
            final String length = type == WRITE ? min + ".." + min + "+" + MAX_WRITE_DATA_LENGTH :
                min == max ? String.valueOf(min) : min + ".." + max;
            final String row = "| " + typeName(type) + " | " + type + " | " + stream + " | " + length + " |";
            assertTrue(doc.contains(row), "wire-protocol.md lacks the row: " + row);
        }
        for (int reason = REFUSE_WRONG_RESOURCE; reason <= REFUSE_HANDSHAKE_TIMEOUT; reason++)
        {
            final String row = "| " + refuseReasonName(reason) + " | " + reason + " |";
            assertTrue(doc.contains(row), "wire-protocol.md lacks the row: " + row);
        }
        assertTrue(doc.contains("| FEATURE_LZ4 | 0 (`0x" + Long.toHexString(FEATURE_LZ4) + "`)"));
        assertTrue(doc.contains("| FEATURE_CHECKSUM_RESYNC | 1 (`0x" + Long.toHexString(FEATURE_CHECKSUM_RESYNC) +
            "`)"));
        assertTrue(doc.contains("| FEATURE_RESYNC_WITHOUT_REPLICATION | 2 (`0x" +
            Long.toHexString(FEATURE_RESYNC_WITHOUT_REPLICATION) + "`)"));
        assertTrue(doc.contains("(version " + PROTOCOL_VERSION + ")"));
        assertEquals(KNOWN_FEATURES, FEATURE_LZ4 | FEATURE_CHECKSUM_RESYNC | FEATURE_RESYNC_WITHOUT_REPLICATION);
    }
}
