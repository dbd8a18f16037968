package io.mirra.nbd.server;

import io.mirra.test.LeakGuard;
import io.mirra.nbd.test.RawNbdClient;
import io.mirra.nbd.test.RawNbdClient.ExportInfo;
import io.mirra.nbd.test.RawNbdClient.OptionReply;
import io.mirra.nbd.test.RawNbdClient.Reply;
import io.mirra.nbd.test.TestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.DataInputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.mirra.nbd.protocol.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fixed-newstyle handshake against a real server, with well-formed input.
 */
@Timeout(60)
@ExtendWith(LeakGuard.class)
class NbdHandshakeTest
{
    private static final int WRITABLE_FLAGS = TF_HAS_FLAGS | TF_SEND_FLUSH | TF_SEND_FUA | TF_CAN_MULTI_CONN |
        TF_SEND_WRITE_ZEROES | TF_SEND_FAST_ZERO | TF_SEND_TRIM;
    private static final int READ_ONLY_FLAGS = TF_HAS_FLAGS | TF_READ_ONLY | TF_SEND_FLUSH | TF_SEND_FUA |
        TF_CAN_MULTI_CONN;

    private TestServer server;

    @BeforeEach
    void start() throws Exception
    {
        server = TestServer.start();
    }

    @AfterEach
    void stop() throws Exception
    {
        server.close();
    }

    @Test
    void shouldSendExactGreeting() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            final byte[] greeting = new byte[18];
            new DataInputStream(client.socket().getInputStream()).readFully(greeting);
            final byte[] expected = ByteBuffer.allocate(18).putLong(0x4e42444d41474943L).putLong(0x49484156454F5054L)
                .putShort((short)3).array();
            assertArrayEquals(expected, greeting, "NBDMAGIC, IHAVEOPT, FIXED_NEWSTYLE | NO_ZEROES");
        }
    }

    @Test
    void shouldListEveryExportThenAck() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            final List<OptionReply> replies = client.option(OPT_LIST, new byte[0]);
            assertEquals(4, replies.size(), "three exports and an ACK: " + replies);
            final List<String> names = new ArrayList<>();
            final List<String> descriptions = new ArrayList<>();
            for (final OptionReply reply : replies.subList(0, 3))
            {
                assertEquals(REP_SERVER, reply.type());
                final ByteBuffer b = ByteBuffer.wrap(reply.data());
                final int nameLength = b.getInt();
                names.add(new String(reply.data(), 4, nameLength, StandardCharsets.UTF_8));
                descriptions.add(new String(reply.data(), 4 + nameLength, reply.data().length - 4 - nameLength,
                    StandardCharsets.UTF_8));
            }
            assertEquals(List.of("disk", "holey", "ro"), names);
            assertEquals(List.of(TestServer.DISK_DESCRIPTION, "", ""), descriptions);
            assertEquals(REP_ACK, replies.get(3).type());
            assertEquals(0, replies.get(3).data().length, "ACK carries no data");

            // Still haggling: a GO works afterwards.
            assertEquals(TestServer.DISK_SIZE, client.info(OPT_GO, "disk").size());
        }
    }

    @Test
    void shouldAnswerInfoWithExportAndDefaultBlockSizesOnly() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            final ExportInfo info = client.info(OPT_INFO, "disk");
            assertEquals(TestServer.DISK_SIZE, info.size());
            assertEquals(WRITABLE_FLAGS, info.flags());
            assertEquals(1, info.minBlock());
            assertEquals(4096, info.preferredBlock());
            assertEquals(MAX_PAYLOAD_LENGTH, info.maxPayload());
            assertNull(info.name(), "INFO_NAME not asked for");
            assertNull(info.description(), "INFO_DESCRIPTION not asked for");

            // INFO does not end haggling: more options are answered.
            assertEquals(REP_ACK, client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]).type());
            final ExportInfo go = client.info(OPT_GO, "disk", INFO_BLOCK_SIZE);
            assertEquals(WRITABLE_FLAGS | TF_SEND_DF, go.flags());
            assertEquals(0, client.read(0, 1, 0, 512).errno());
        }
    }

    @Test
    void shouldAnswerInfoNameAndDescriptionWhenAsked() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            final ExportInfo info = client.info(OPT_INFO, "", INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE, 0x7777);
            assertEquals("disk", info.name(), "canonical name of the default export");
            assertEquals(TestServer.DISK_DESCRIPTION, info.description());
            assertEquals(TestServer.DISK_SIZE, info.size());

            final ExportInfo ro = client.info(OPT_INFO, "ro", INFO_NAME, INFO_DESCRIPTION);
            assertEquals("ro", ro.name());
            assertNull(ro.description(), "an empty description is omitted");
            assertEquals(TestServer.RO_SIZE, ro.size());
        }
    }

    @Test
    void shouldAdvertiseTheBackendPreferredBlockSize() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            final ExportInfo info = client.info(OPT_GO, "holey", INFO_BLOCK_SIZE);
            assertEquals(1, info.minBlock());
            assertEquals(65536, info.preferredBlock());
            assertEquals(MAX_PAYLOAD_LENGTH, info.maxPayload());
        }
    }

    @Test
    void shouldReportSameInformationForInfoAndGo() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            final ExportInfo info = client.info(OPT_INFO, "disk", INFO_NAME, INFO_BLOCK_SIZE);
            final ExportInfo go = client.info(OPT_GO, "disk", INFO_NAME, INFO_BLOCK_SIZE);
            assertEquals(info.replies().size(), go.replies().size());
            for (int i = 0; i < info.replies().size(); i++)
            {
                assertEquals(OPT_INFO, info.replies().get(i).option());
                assertEquals(OPT_GO, go.replies().get(i).option());
                assertEquals(info.replies().get(i).type(), go.replies().get(i).type());
                assertArrayEquals(info.replies().get(i).data(), go.replies().get(i).data());
            }
        }
    }

    @Test
    void shouldRefuseGoForUnknownExportAndContinue() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            final OptionReply error = client.optionSingle(OPT_GO, RawNbdClient.infoData("nope", INFO_NAME));
            assertEquals(REP_ERR_UNKNOWN, error.type(), "no INFO before the error: " + error);
            assertEquals(REP_ERR_UNKNOWN, client.optionSingle(OPT_INFO, RawNbdClient.infoData("Disk")).type());

            final ExportInfo go = client.info(OPT_GO, "ro");
            assertEquals(TestServer.RO_SIZE, go.size());
            final Reply read = client.read(0, 9, 100, 100);
            assertEquals(0, read.errno());
            assertArrayEquals(server.readOnly.contents(100, 100), read.data());
        }
    }

    @Test
    void shouldEnterTransmissionWithExportNameAndReservedZeroes() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            assertEquals(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, client.readGreeting());
            client.sendClientFlags(FLAG_C_FIXED_NEWSTYLE);
            final ExportInfo info = client.exportName("disk"); // checks the 124 zero bytes
            assertEquals(TestServer.DISK_SIZE, info.size());
            assertEquals(WRITABLE_FLAGS, info.flags());
            final Reply read = client.read(0, 5, 4096, 4096);
            assertTrue(read.simple());
            assertArrayEquals(server.disk.contents(4096, 4096), read.data());
        }
    }

    @Test
    void shouldOmitReservedZeroesWithExportNameWhenClientSaysNoZeroes() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.readGreeting();
            client.sendClientFlags(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES);
            final ExportInfo info = client.exportName("");
            assertEquals(TestServer.DISK_SIZE, info.size());
            // If the server had sent the 124 zeroes, they would be parsed as the reply magic and fail here.
            final Reply read = client.read(0, 6, 0, 16);
            assertEquals(0, read.errno());
            assertArrayEquals(server.disk.contents(0, 16), read.data());
        }
    }

    @Test
    void shouldCloseOnExportNameForUnknownExport() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.sendOption(OPT_EXPORT_NAME, "missing".getBytes(StandardCharsets.UTF_8));
            assertTrue(client.awaitClosed(), "the protocol has no error reply for EXPORT_NAME: disconnect");
        }
        server.assertServesCorrectData();
    }

    @Test
    void shouldAckStructuredReplyAndRefuseItWithData() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            assertEquals(REP_ERR_INVALID, client.optionSingle(OPT_STRUCTURED_REPLY, new byte[] {1}).type());
            assertEquals(REP_ACK, client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]).type());
            client.info(OPT_GO, "disk");
            final Reply read = client.read(0, 77, 0, 1000);
            assertTrue(!read.simple(), "structured replies negotiated");
            assertEquals(1, read.chunks().size());
            assertEquals(REPLY_TYPE_OFFSET_DATA, read.chunks().get(0).type());
            assertEquals(REPLY_FLAG_DONE, read.chunks().get(0).flags());
            assertArrayEquals(server.disk.contents(0, 1000), read.data());
        }
    }

    @Test
    void shouldRefuseSetMetaContextBeforeStructuredReplies() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            final OptionReply reply = client.optionSingle(OPT_SET_META_CONTEXT,
                RawNbdClient.metaContextData("disk", CONTEXT_BASE_ALLOCATION));
            assertEquals(REP_ERR_INVALID, reply.type(), reply.toString());
            assertTrue(reply.text().contains("STRUCTURED"), "message explains: " + reply.text());
            assertEquals(TestServer.DISK_SIZE, client.info(OPT_GO, "disk").size());
        }
    }

    @Test
    void shouldSelectBaseAllocationWithSetMetaContext() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
            final List<OptionReply> replies = client.option(OPT_SET_META_CONTEXT,
                RawNbdClient.metaContextData("disk", "base:", "qemu:dirty-bitmap:x", CONTEXT_BASE_ALLOCATION));
            assertEquals(2, replies.size(), replies.toString());
            assertEquals(REP_META_CONTEXT, replies.get(0).type());
            assertMetaContext(replies.get(0), CONTEXT_ID_BASE_ALLOCATION);
            assertEquals(REP_ACK, replies.get(1).type());

            client.info(OPT_GO, "disk");
            final Reply status = client.command(0, CMD_BLOCK_STATUS, 3, 0, 4096);
            assertEquals(0, status.errno(), status.message());
            assertEquals(1, status.extents().size());
        }
    }

    @Test
    void shouldListBaseAllocationForEmptyWildcardAndExactQueries() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
            for (final String[] queries : new String[][] {{}, {"base:"}, {CONTEXT_BASE_ALLOCATION}})
            {
                final List<OptionReply> replies =
                    client.option(OPT_LIST_META_CONTEXT, RawNbdClient.metaContextData("disk", queries));
                assertEquals(2, replies.size(), Arrays.toString(queries) + " -> " + replies);
                assertMetaContext(replies.get(0), 0);
                assertEquals(REP_ACK, replies.get(1).type());
            }
        }
    }

    @Test
    void shouldNotReturnContextsForUnknownQueries() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
            final String[] unknown = {"qemu:dirty-bitmap:bm0", "base:nothing", "x-foo:bar", "base:allocationx"};
            assertEquals(REP_ACK, client.optionSingle(OPT_LIST_META_CONTEXT,
                RawNbdClient.metaContextData("disk", unknown)).type());
            assertEquals(REP_ACK, client.optionSingle(OPT_SET_META_CONTEXT,
                RawNbdClient.metaContextData("disk", unknown)).type());
            assertEquals(REP_ACK, client.optionSingle(OPT_SET_META_CONTEXT,
                RawNbdClient.metaContextData("disk", "base:")).type(), "'base:' selects nothing in SET");
            client.info(OPT_GO, "disk");
            assertEquals(EINVAL, client.command(0, CMD_BLOCK_STATUS, 1, 0, 4096).errno(),
                "nothing was selected, so BLOCK_STATUS is invalid");
        }
    }

    @Test
    void shouldRefuseMetaContextsOfUnknownExport() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(REP_ERR_UNKNOWN, client.optionSingle(OPT_LIST_META_CONTEXT,
                RawNbdClient.metaContextData("nope")).type());
            assertEquals(REP_ERR_UNKNOWN, client.optionSingle(OPT_SET_META_CONTEXT,
                RawNbdClient.metaContextData("nope", CONTEXT_BASE_ALLOCATION)).type());
        }
    }

    @Test
    void shouldForgetMetaContextsWhenASetMetaContextFails() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(2, client.option(OPT_SET_META_CONTEXT,
                RawNbdClient.metaContextData("disk", CONTEXT_BASE_ALLOCATION)).size());
            // "Issuing this command replaces all previously-set metadata contexts (including when this command fails)"
            final byte[] truncated = RawNbdClient.metaContextData("disk", CONTEXT_BASE_ALLOCATION);
            assertEquals(REP_ERR_INVALID, client.optionSingle(OPT_SET_META_CONTEXT,
                Arrays.copyOf(truncated, truncated.length - 1)).type());
            client.info(OPT_GO, "disk");
            assertEquals(EINVAL, client.command(0, CMD_BLOCK_STATUS, 1, 0, 4096).errno(),
                "the failed SET_META_CONTEXT deselected base:allocation");
        }
    }

    @Test
    void shouldNotApplyMetaContextsSelectedForAnotherExport() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(2, client.option(OPT_SET_META_CONTEXT,
                RawNbdClient.metaContextData("holey", CONTEXT_BASE_ALLOCATION)).size());
            client.info(OPT_GO, "disk");
            assertEquals(EINVAL, client.command(0, CMD_BLOCK_STATUS, 1, 0, 4096).errno(),
                "base:allocation was selected for 'holey', not for 'disk'");
        }
    }

    @Test
    void shouldApplyMetaContextsSelectedForTheDefaultExportByEitherName() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(2, client.option(OPT_SET_META_CONTEXT,
                RawNbdClient.metaContextData("", CONTEXT_BASE_ALLOCATION)).size());
            client.info(OPT_GO, "disk");
            assertEquals(0, client.command(0, CMD_BLOCK_STATUS, 1, 0, 4096).errno());
        }
    }

    @Test
    void shouldAnswerUnsupportedOptionsWithErrUnsupAndContinue() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            for (final int option : new int[] {99, OPT_STARTTLS, OPT_EXTENDED_HEADERS, 4, 0, 0x7fffffff, -1})
            {
                final OptionReply reply = client.optionSingle(option, new byte[0]);
                assertEquals(REP_ERR_UNSUP, reply.type(), "option " + option + ": " + reply);
            }
            final OptionReply withData = client.optionSingle(99, new byte[100]);
            assertEquals(REP_ERR_UNSUP, withData.type(), "data of an unknown option is skipped");
            final ExportInfo go = client.info(OPT_GO, "disk");
            assertEquals(TestServer.DISK_SIZE, go.size());
            assertEquals(0, client.read(0, 1, 0, 1).errno());
        }
    }

    @Test
    void shouldAckAbortAndClose() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            final OptionReply ack = client.optionSingle(OPT_ABORT, new byte[0]);
            assertEquals(REP_ACK, ack.type());
            assertTrue(client.awaitClosed(), "server closes after acknowledging ABORT");
        }
        server.awaitConnections(0, 10_000);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldAdvertiseTransmissionFlagsOfEachExport(final boolean structured) throws Exception
    {
        final int df = structured ? TF_SEND_DF : 0;
        final String[] exports = {"disk", "ro", "holey"};
        final int[] expected = {WRITABLE_FLAGS | df, READ_ONLY_FLAGS | df, (WRITABLE_FLAGS & ~TF_SEND_TRIM) | df};
        for (int i = 0; i < exports.length; i++)
        {
            try (RawNbdClient client = server.connect())
            {
                client.start();
                if (structured)
                {
                    client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
                }
                assertEquals(expected[i], client.info(OPT_INFO, exports[i]).flags(), "INFO flags of " + exports[i]);
                assertEquals(expected[i], client.info(OPT_GO, exports[i]).flags(), "GO flags of " + exports[i]);
            }
            try (RawNbdClient client = server.connect())
            {
                client.start();
                if (structured)
                {
                    client.optionSingle(OPT_STRUCTURED_REPLY, new byte[0]);
                }
                assertEquals(expected[i], client.exportName(exports[i]).flags(), "EXPORT_NAME flags of " + exports[i]);
            }
        }
    }

    @Test
    void shouldServeRequestsPipelinedBehindGo() throws Exception
    {
        try (RawNbdClient client = server.connect())
        {
            client.start();
            // GO and two requests in one segment, before the GO reply was read.
            final byte[] go = RawNbdClient.infoData("disk");
            final ByteBuffer bytes = ByteBuffer.allocate(16 + go.length);
            bytes.putLong(IHAVEOPT).putInt(OPT_GO).putInt(go.length).put(go);
            client.queueRaw(bytes.array());
            client.queueRead(0, 1, 8192, 300);
            client.queueRead(0, 2, 0, 10);
            client.flush();
            final List<OptionReply> replies = client.readOptionReplies(OPT_GO);
            assertEquals(REP_ACK, replies.get(replies.size() - 1).type());
            final Reply first = client.readReply();
            final Reply second = client.readReply();
            final Reply one = first.cookie() == 1 ? first : second;
            final Reply two = first.cookie() == 1 ? second : first;
            assertArrayEquals(server.disk.contents(8192, 300), one.data());
            assertArrayEquals(server.disk.contents(0, 10), two.data());
        }
    }

    private static void assertMetaContext(final OptionReply reply, final int expectedId)
    {
        assertEquals(REP_META_CONTEXT, reply.type());
        final ByteBuffer b = ByteBuffer.wrap(reply.data());
        assertEquals(expectedId, b.getInt(), "context id");
        assertEquals(CONTEXT_BASE_ALLOCATION,
            new String(reply.data(), 4, reply.data().length - 4, StandardCharsets.US_ASCII));
    }
}
