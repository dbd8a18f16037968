package io.mirra.transport.protocol;

import io.mirra.transport.netty.FrameDecodingException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * docs/wire-protocol.md must agree with {@link ReplicationProtocol}: every declared type (row and section), every
 * flag, role and two-phase commit code, refusal code, feature bit and decoder reason, and no declared id may still
 * be listed as reserved.
 */
@Timeout(10)
class WireProtocolDocTest
{
    private static final Path DOC = Path.of("..", "docs", "wire-protocol.md");
    private static final List<String> CODE_PREFIXES = List.of(
        "WRITE_FLAG_", "ACK_FLAG_", "RANGE_FLAG_", "STATE_ROLE_", "STATE_FLAG_", "RESYNC_FLAG_", "TWOPC_KIND_",
        "TWOPC_YES", "TWOPC_NO", "TWOPC_RETRY");

    private static String doc() throws IOException
    {
        assertTrue(Files.exists(DOC), DOC.toAbsolutePath() + " missing");
        return Files.readString(DOC);
    }

    @Test
    void shouldDescribeEveryMessageTypeRefusalAndFeatureAsDeclared() throws IOException
    {
        final String doc = doc();
        int declared = 0;
        for (int type = 0; type <= 0xFFFF; type++)
        {
            if (!isKnownType(type))
            {
                continue;
            }
            declared++;
            final int streams = streamsOf(type);
            final String stream = streams == STREAM_BOTH ? "both" : streamName(streams);
            final int min = minBodyLength(type);
            final int max = maxBodyLength(type, MAX_WRITE_DATA_LENGTH);
            final boolean carriesData = max - maxBodyLength(type, 0) == MAX_WRITE_DATA_LENGTH;
            final String length = carriesData ? min + ".." + min + "+" + MAX_WRITE_DATA_LENGTH :
                min == max ? String.valueOf(min) : min + ".." + max;
            final String row = "| " + typeName(type) + " | " + type + " | " + stream + " | " + length + " |";
            assertTrue(doc.contains(row), "wire-protocol.md lacks the row: " + row);
            assertTrue(Pattern.compile("(?m)^###.*\\b" + typeName(type) + "\\b").matcher(doc).find(),
                "wire-protocol.md lacks a section (### heading) naming " + typeName(type));
            assertTrue(max <= MAX_FRAME_BODY_LENGTH, typeName(type) + " above MAX_FRAME_BODY_LENGTH");
        }
        assertTrue(declared >= 21, "declared types: " + declared);
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
        assertTrue(doc.contains("frozen at the first release"), "the doc says when version 1 freezes");
        assertEquals(KNOWN_FEATURES, FEATURE_LZ4 | FEATURE_CHECKSUM_RESYNC | FEATURE_RESYNC_WITHOUT_REPLICATION);
    }

    @Test
    void shouldListEveryFlagRoleAndTwoPhaseCommitCode() throws IOException, IllegalAccessException
    {
        final String doc = doc();
        int listed = 0;
        for (final Field field : ReplicationProtocol.class.getFields())
        {
            if (field.getType() == int.class && Modifier.isStatic(field.getModifiers()) &&
                CODE_PREFIXES.stream().anyMatch(field.getName()::startsWith))
            {
                final String row = "| " + field.getName() + " | " + field.getInt(null) + " |";
                assertTrue(doc.contains(row), "wire-protocol.md lacks the row: " + row);
                listed++;
            }
        }
        assertTrue(listed >= 15, "flags and codes: " + listed);
        assertEquals(KNOWN_WRITE_FLAGS, WRITE_FLAG_FUA | WRITE_FLAG_FLUSH | WRITE_FLAG_ACK_RECEIVED);
        assertEquals(KNOWN_RANGE_FLAGS, RANGE_FLAG_NO_HOLE | RANGE_FLAG_FUA);
        assertEquals(KNOWN_STATE_FLAGS, STATE_FLAG_SEEN | STATE_FLAG_CLEAR_BITMAP | STATE_FLAG_ACK_REQUESTED |
            STATE_FLAG_ACK);
        assertEquals(KNOWN_RESYNC_FLAGS, RESYNC_FLAG_FULL);
        for (final FrameDecodingException.Reason reason : FrameDecodingException.Reason.values())
        {
            assertTrue(doc.contains("| " + reason.name() + " |"), "wire-protocol.md lacks the decoder reason " +
                reason);
        }
    }

    @Test
    void shouldNotListADeclaredTypeAsReserved() throws IOException
    {
        final String doc = doc();
        final int start = doc.indexOf("**Reserved ids.**");
        assertTrue(start >= 0, "no reserved ids table");
        final int tableStart = doc.indexOf("| ids |", start);
        final int end = doc.indexOf("\n\n", tableStart);
        int reserved = 0;
        for (final String line : doc.substring(tableStart, end).split("\n"))
        {
            final String ids = line.substring(1, line.indexOf('|', 1)).trim();
            if (!Character.isDigit(ids.charAt(0)))
            {
                continue;
            }
            for (final String part : ids.split(",\\s*"))
            {
                final String[] range = part.split("\\.\\.");
                final int from = Integer.parseInt(range[0]);
                final int to = Integer.parseInt(range[range.length - 1]);
                for (int type = from; type <= to; type++)
                {
                    assertFalse(isKnownType(type), typeName(type) + " is declared but listed as reserved");
                    reserved++;
                }
            }
        }
        assertTrue(reserved > 10, "parsed the reserved ids: " + reserved);
    }
}
