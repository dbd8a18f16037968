package io.mirra.nbd.server;

import io.mirra.test.FuzzInput;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static io.mirra.nbd.protocol.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The seed corpus of the guided fuzz tests of this module: what real clients send (client flags, every option the
 * server knows, requests of every command), encoded here as the NBD specification lays it out, in the input layout
 * of {@link FuzzInput}. The fuzz tests replay them in regression mode (those named {@code valid-} must get through
 * completely) and start fuzzing from them.
 * <p>
 * This test fails when a committed seed differs from what is generated here; then regenerate them:
 * {@code mvn -pl nbd-frontend -am test -Dtest=NbdGuidedFuzzSeedsTest -Dfuzz.tests=NONE
 * -Dsurefire.failIfNoSpecifiedTests=false -Dmirra.fuzz.writeSeeds=true} (writes into src/test/resources; other
 * files there, such as findings, are kept).
 */
@Timeout(60)
class NbdGuidedFuzzSeedsTest
{

    @Test
    void requestDecoderSeeds()
    {
        final Map<String, byte[]> seeds = new LinkedHashMap<>();
        final int catchUp = NbdRequestDecoderFuzzHarness.CATCH_UP_THEN_CLOSE;
        seeds.put("valid-all-commands-one-read", requestSeed(0, 0, catchUp, new int[0], allCommands()));
        seeds.put("valid-all-commands-byte-by-byte", requestSeed(0, 0, catchUp, new int[] {1}, allCommands()));
        seeds.put("valid-all-commands-uneven-reads",
            requestSeed(0, 0, catchUp, new int[] {27, 29, 3, 100}, allCommands()));
        seeds.put("valid-paused-after-every-request", requestSeed(1, 1, catchUp, new int[] {40}, allCommands()));
        seeds.put("valid-paused-after-every-third-request", requestSeed(3, 0, catchUp, new int[0], allCommands()));
        seeds.put("valid-write-in-tiny-pieces", requestSeed(0, 0, catchUp, new int[] {1, 2},
            concat(request(CMD_FLAG_FUA, CMD_WRITE, 1, 0, pattern(600, 1)), request(0, CMD_FLUSH, 2, 0, 0))));
        seeds.put("oversized-write-header", requestSeed(0, 0, catchUp, new int[0], concat(
            request(0, CMD_WRITE, 3, 0, MAX_PAYLOAD_LENGTH + 1L), pattern(100, 2))));
        seeds.put("closed-while-paused", requestSeed(2, 3, NbdRequestDecoderFuzzHarness.CLOSE_AS_IS,
            new int[] {30}, allCommands()));
        seeds.put("closed-while-resuming", requestSeed(2, 3, NbdRequestDecoderFuzzHarness.RESUME_AND_CLOSE_AT_ONCE,
            new int[] {30}, allCommands()));
        FuzzInput.checkSeeds(NbdRequestDecoderGuidedFuzzTest.class, "decode", seeds);
    }

    @Test
    void handshakeSeeds()
    {
        final Map<String, byte[]> seeds = new LinkedHashMap<>();
        seeds.put("valid-haggle-then-go", handshakeSeed(new int[0], concat(haggleThenGo("disk"), requests())));
        seeds.put("valid-haggle-then-go-byte-by-byte",
            handshakeSeed(new int[] {1}, concat(haggleThenGo("disk"), requests())));
        seeds.put("valid-haggle-then-go-uneven-reads",
            handshakeSeed(new int[] {3, 16, 17, 200}, concat(haggleThenGo("disk"), requests())));
        seeds.put("valid-go-read-only", handshakeSeed(new int[0], concat(haggleThenGo("ro"), requests())));
        seeds.put("valid-export-name-then-requests", handshakeSeed(new int[0], concat(concat(
            clientFlags(FLAG_C_FIXED_NEWSTYLE), option(OPT_EXPORT_NAME, "disk".getBytes(StandardCharsets.UTF_8))),
            requests())));
        seeds.put("abort", handshakeSeed(new int[0], concat(clientFlags(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES),
            option(OPT_ABORT, new byte[0]))));
        seeds.put("unknown-export-and-options", handshakeSeed(new int[0], concat(
            clientFlags(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES), concat(concat(
                option(OPT_GO, info("nope", INFO_NAME)), option(OPT_STARTTLS, new byte[0])),
                option(OPT_EXPORT_NAME, "nope".getBytes(StandardCharsets.UTF_8))))));
        FuzzInput.checkSeeds(NbdHandshakeGuidedFuzzTest.class, "handshake", seeds);
    }

    private static byte[] requestSeed(final int pauseEvery, final int resumeAfter, final int ending,
        final int[] cuts, final byte[] stream)
    {
        return new FuzzInput.SeedWriter()
            .integer(pauseEvery, 0, NbdRequestDecoderFuzzHarness.MAX_PAUSE_EVERY)
            .integer(resumeAfter, 0, NbdRequestDecoderFuzzHarness.MAX_RESUME_AFTER)
            .integer(ending, NbdRequestDecoderFuzzHarness.CATCH_UP_THEN_CLOSE,
                NbdRequestDecoderFuzzHarness.RESUME_AND_CLOSE_AT_ONCE)
            .cuts(cuts).stream(stream);
    }

    private static byte[] handshakeSeed(final int[] cuts, final byte[] stream)
    {
        return new FuzzInput.SeedWriter().cuts(cuts).stream(stream);
    }

    /** Every option the server knows, as a client would send them, ending with NBD_OPT_GO. */
    private static byte[] haggleThenGo(final String export)
    {
        byte[] out = clientFlags(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES);
        out = concat(out, option(OPT_LIST, new byte[0]));
        out = concat(out, option(OPT_STRUCTURED_REPLY, new byte[0]));
        out = concat(out, option(OPT_LIST_META_CONTEXT, meta(export)));
        out = concat(out, option(OPT_LIST_META_CONTEXT, meta(export, "base:")));
        out = concat(out, option(OPT_SET_META_CONTEXT, meta(export, CONTEXT_BASE_ALLOCATION)));
        out = concat(out, option(OPT_INFO, info(export, INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE)));
        return concat(out, option(OPT_GO, info(export, INFO_BLOCK_SIZE)));
    }

    /** One request of every command (the writes are refused on a read-only export), then NBD_CMD_DISC. */
    private static byte[] requests()
    {
        byte[] out = request(CMD_FLAG_FUA, CMD_WRITE, 1, 512, pattern(512, 3));
        out = concat(out, request(0, CMD_READ, 2, 512, 512));
        out = concat(out, request(CMD_FLAG_DF, CMD_READ, 3, 0, 4096));
        out = concat(out, request(0, CMD_FLUSH, 4, 0, 0));
        out = concat(out, request(0, CMD_TRIM, 5, 1024, 512));
        out = concat(out, request(CMD_FLAG_NO_HOLE, CMD_WRITE_ZEROES, 6, 2048, 1024));
        out = concat(out, request(CMD_FLAG_REQ_ONE, CMD_BLOCK_STATUS, 7, 0, 4096));
        out = concat(out, request(0, CMD_CACHE, 8, 0, 512));
        out = concat(out, request(0, CMD_READ, 9, 4000, 512)); // beyond the end: an error reply
        return concat(out, request(0, CMD_DISC, 10, 0, 0));
    }

    /** Requests of every command, and an unknown one, for the decoder alone. */
    private static byte[] allCommands()
    {
        byte[] out = request(0, CMD_READ, 1, 4096, 512);
        out = concat(out, request(CMD_FLAG_FUA, CMD_WRITE, 2, 8192, pattern(100, 4)));
        out = concat(out, request(0, CMD_WRITE, 3, 0, new byte[0]));
        out = concat(out, request(0, CMD_FLUSH, 4, 0, 0));
        out = concat(out, request(0, CMD_TRIM, 5, 0, 1L << 20));
        out = concat(out, request(CMD_FLAG_FAST_ZERO, CMD_WRITE_ZEROES, 6, 1L << 30, 65536));
        out = concat(out, request(CMD_FLAG_REQ_ONE, CMD_BLOCK_STATUS, 7, 0, 0xFFFFFFFFL));
        out = concat(out, request(0, CMD_CACHE, 8, 0, 4096));
        out = concat(out, request(0xFFFF, 42, -1, -1, 0xFFFFFFFFL));
        return concat(out, request(0, CMD_DISC, 10, 0, 0));
    }

    private static byte[] clientFlags(final int flags)
    {
        return ByteBuffer.allocate(4).putInt(flags).array();
    }

    private static byte[] option(final int option, final byte[] data)
    {
        return ByteBuffer.allocate(OPTION_HEADER_LENGTH + data.length).putLong(IHAVEOPT).putInt(option)
            .putInt(data.length).put(data).array();
    }

    /** NBD_OPT_INFO / NBD_OPT_GO data: name, then the information requests. */
    private static byte[] info(final String export, final int... infos)
    {
        final byte[] name = export.getBytes(StandardCharsets.UTF_8);
        final ByteBuffer data = ByteBuffer.allocate(4 + name.length + 2 + 2 * infos.length);
        data.putInt(name.length).put(name).putShort((short)infos.length);
        for (final int info : infos)
        {
            data.putShort((short)info);
        }
        return data.array();
    }

    /** NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data: name, then the queries. */
    private static byte[] meta(final String export, final String... queries)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final byte[] name = export.getBytes(StandardCharsets.UTF_8);
        out.writeBytes(ByteBuffer.allocate(4).putInt(name.length).array());
        out.writeBytes(name);
        out.writeBytes(ByteBuffer.allocate(4).putInt(queries.length).array());
        for (final String query : queries)
        {
            final byte[] bytes = query.getBytes(StandardCharsets.UTF_8);
            out.writeBytes(ByteBuffer.allocate(4).putInt(bytes.length).array());
            out.writeBytes(bytes);
        }
        return out.toByteArray();
    }

    private static byte[] request(final int flags, final int type, final long cookie, final long offset,
        final long length)
    {
        return ByteBuffer.allocate(REQUEST_HEADER_LENGTH).putInt(REQUEST_MAGIC).putShort((short)flags)
            .putShort((short)type).putLong(cookie).putLong(offset).putInt((int)length).array();
    }

    private static byte[] request(final int flags, final int type, final long cookie, final long offset,
        final byte[] payload)
    {
        return concat(request(flags, type, cookie, offset, payload.length), payload);
    }

    private static byte[] pattern(final int length, final int seed)
    {
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(seed * 31 + i * 7);
        }
        return bytes;
    }

    private static byte[] concat(final byte[] a, final byte[] b)
    {
        final byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
