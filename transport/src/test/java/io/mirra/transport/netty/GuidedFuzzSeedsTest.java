package io.mirra.transport.netty;

import io.mirra.test.FuzzInput;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.mirra.transport.netty.FrameTestSupport.encode;
import static io.mirra.transport.netty.PeerHandshakeFuzzHarness.*;
import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The seed corpus of the guided fuzz tests of this module: streams of real frames, produced by
 * {@link OutboundFrames} and {@link FrameEncoder}, in the input layout of {@link FuzzInput}. The fuzz tests replay
 * them in regression mode (those named {@code valid-} must decode completely) and start fuzzing from them.
 * <p>
 * This test fails when a committed seed is no longer what the encoder produces; then regenerate them:
 * {@code mvn -pl transport -am test -Dtest=GuidedFuzzSeedsTest -Dfuzz.tests=NONE
 * -Dsurefire.failIfNoSpecifiedTests=false -Dmirra.fuzz.writeSeeds=true} (writes into src/test/resources; other
 * files there, such as findings, are kept).
 */
@Timeout(60)
class GuidedFuzzSeedsTest
{
    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

    private final OutboundFrames frames = new OutboundFrames();

    @Test
    void dataStreamSeeds()
    {
        final Map<String, byte[]> seeds = new LinkedHashMap<>();
        seeds.put("valid-all-types-one-read", new FuzzInput.SeedWriter().cuts().stream(encode(dataFrames())));
        seeds.put("valid-all-types-byte-by-byte", new FuzzInput.SeedWriter().cuts(1).stream(encode(dataFrames())));
        seeds.put("valid-all-types-uneven-reads",
            new FuzzInput.SeedWriter().cuts(5, 24, 23, 61, 300).stream(encode(dataFrames())));
        seeds.put("valid-write-in-tiny-pieces", new FuzzInput.SeedWriter().cuts(1, 2, 3).stream(encode(List.of(
            frames.write(ALLOC, 2, 1, 1L << 20, 7, WRITE_FLAG_FLUSH, pattern(300, 4)),
            frames.write(ALLOC, 2, 2, (1L << 20) + 300, 7, 0, pattern(10, 5))))));
        FuzzInput.checkSeeds(FrameDecoderDataGuidedFuzzTest.class, "decode", seeds);
    }

    @Test
    void controlStreamSeeds()
    {
        final Map<String, byte[]> seeds = new LinkedHashMap<>();
        seeds.put("valid-all-types-one-read", new FuzzInput.SeedWriter().cuts().stream(encode(controlFrames())));
        seeds.put("valid-all-types-byte-by-byte",
            new FuzzInput.SeedWriter().cuts(1).stream(encode(controlFrames())));
        seeds.put("valid-all-types-uneven-reads",
            new FuzzInput.SeedWriter().cuts(3, 24, 25, 100).stream(encode(controlFrames())));
        FuzzInput.checkSeeds(FrameDecoderControlGuidedFuzzTest.class, "decode", seeds);
    }

    @Test
    void handshakeSeeds()
    {
        final Map<String, byte[]> seeds = new LinkedHashMap<>();
        seeds.put("valid-alpha-accepts-data", handshakeSeed(ALPHA_ACCEPTS, new int[0],
            handshake(PEER, RESOURCE, STREAM_DATA, new byte[MAC_LENGTH], dataFrames())));
        seeds.put("valid-alpha-accepts-control", handshakeSeed(ALPHA_ACCEPTS, new int[0],
            handshake(PEER, RESOURCE, STREAM_CONTROL, new byte[MAC_LENGTH], controlFrames())));
        seeds.put("valid-alpha-connects-data", handshakeSeed(ALPHA_CONNECTS_DATA, new int[0],
            handshake(PEER, RESOURCE, STREAM_DATA, new byte[MAC_LENGTH], dataFrames())));
        seeds.put("valid-alpha-connects-control-uneven-reads", handshakeSeed(ALPHA_CONNECTS_CONTROL,
            new int[] {7, 24, 50}, handshake(PEER, RESOURCE, STREAM_CONTROL, new byte[MAC_LENGTH], controlFrames())));
        seeds.put("valid-alpha-accepts-byte-by-byte", handshakeSeed(ALPHA_ACCEPTS, new int[] {1},
            handshake(PEER, RESOURCE, STREAM_DATA, new byte[MAC_LENGTH], List.of())));
        final byte[] wrongMac = new byte[MAC_LENGTH];
        Arrays.fill(wrongMac, (byte)1);
        seeds.put("refused-wrong-mac", handshakeSeed(ALPHA_ACCEPTS, new int[0],
            handshake(PEER, RESOURCE, STREAM_DATA, wrongMac, List.of())));
        seeds.put("refused-unknown-peer", handshakeSeed(ALPHA_ACCEPTS, new int[0],
            handshake("mallory", RESOURCE, STREAM_DATA, new byte[MAC_LENGTH], List.of())));
        seeds.put("refused-wrong-resource", handshakeSeed(ALPHA_CONNECTS_DATA, new int[0],
            handshake(PEER, "other", STREAM_DATA, new byte[MAC_LENGTH], List.of())));
        seeds.put("refused-by-peer", handshakeSeed(ALPHA_CONNECTS_CONTROL, new int[0],
            encode(List.of(frames.refuse(ALLOC, REFUSE_VERSION_MISMATCH, "bravo speaks 2..3")))));
        FuzzInput.checkSeeds(PeerHandshakeGuidedFuzzTest.class, "handshake", seeds);
    }

    private static byte[] handshakeSeed(final int role, final int[] cuts, final byte[] stream)
    {
        return new FuzzInput.SeedWriter().integer(role, ALPHA_ACCEPTS, ALPHA_CONNECTS_CONTROL).cuts(cuts)
            .stream(stream);
    }

    /** The peer's side of a handshake (an all-zero MAC is completed by the harness), then frames of the stream. */
    private byte[] handshake(final String peer, final String resource, final int streamKind, final byte[] mac,
        final List<Frame> then)
    {
        final byte[] nonce = new byte[NONCE_LENGTH];
        Arrays.fill(nonce, (byte)0x5A);
        final List<Frame> all = new ArrayList<>();
        all.add(frames.hello(ALLOC, PROTOCOL_VERSION, PROTOCOL_VERSION, streamKind, KNOWN_FEATURES, nonce, SIZES,
            peer, resource));
        all.add(frames.authResponse(ALLOC, mac));
        all.add(frames.authOk());
        all.addAll(then);
        return encode(all);
    }

    /** One frame of every type the DATA stream carries, then a REFUSE. */
    private List<Frame> dataFrames()
    {
        return List.of(
            frames.write(ALLOC, 0, 1, 4096, 1, WRITE_FLAG_FUA, pattern(64, 1)),
            frames.write(ALLOC, 1, 2, 0, 1, 0, Unpooled.EMPTY_BUFFER),
            frames.rangeOp(ALLOC, FLUSH, 0, 3, 0, 0, 1, RANGE_FLAG_FUA),
            frames.rangeOp(ALLOC, TRIM, 1, 4, 8192, 4096, 2, 0),
            frames.rangeOp(ALLOC, WRITE_ZEROES, 1, 5, 0, 65536, 2, RANGE_FLAG_NO_HOLE),
            frames.readRequest(ALLOC, 0, 6, 4096, 512),
            frames.readReply(ALLOC, 0, 6, 0, pattern(32, 2)),
            frames.readReply(ALLOC, 0, 7, 5, null),
            frames.state(ALLOC, STATE_ROLE_PRIMARY, STATE_FLAG_SEEN, 1, 2, new byte[] {4, 2}, new long[] {11, 12},
                new long[][] {{10, 9}, {}}),
            frames.resyncRequest(ALLOC, 0, 11, RESYNC_FLAG_FULL),
            frames.resyncData(ALLOC, 0, 8, 4096, 3, pattern(48, 3)),
            frames.resyncProgress(ALLOC, 0, 4096, 48),
            frames.resyncEnd(ALLOC, 0, 12, 48),
            frames.outOfSync(ALLOC, 0, 0, 4096),
            frames.splitBrain(ALLOC, 0, SPLIT_BRAIN_CHANGES_UNKNOWN, 1_700_000_000_000L, SPLIT_BRAIN_FLAG_PRIMARY),
            frames.verifyRequest(ALLOC, 0, 13, 0, 8192, 4096),
            frames.verifyReply(ALLOC, 0, 13, 0, new long[] {0x1234, 0x5678}, 2),
            frames.refuse(ALLOC, REFUSE_PROTOCOL_ERROR, "bye"));
    }

    /** One frame of every type the CONTROL stream carries, then a REFUSE. */
    private List<Frame> controlFrames()
    {
        return List.of(
            frames.writeAck(ALLOC, 0, 1, 0, ACK_FLAG_RECEIVED | ACK_FLAG_DURABLE),
            frames.writeAck(ALLOC, 3, 2, 5, ACK_FLAG_RECEIVED),
            frames.ping(ALLOC, PING, 1, 123_456_789L),
            frames.ping(ALLOC, PING_ACK, 1, 123_456_789L),
            frames.twoPc(ALLOC, TWOPC_PREPARE, 9, TWOPC_KIND_PROMOTE),
            frames.twoPc(ALLOC, TWOPC_COMMIT, 9, TWOPC_KIND_PROMOTE),
            frames.twoPc(ALLOC, TWOPC_ABORT, 10, TWOPC_KIND_PROMOTE),
            frames.twoPcReply(ALLOC, 9, TWOPC_YES, ""),
            frames.twoPcReply(ALLOC, 10, TWOPC_NO, "bravo is primary"),
            frames.refuse(ALLOC, REFUSE_PROTOCOL_ERROR, "bye"));
    }

    private static ByteBuf pattern(final int length, final int seed)
    {
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(seed * 31 + i * 7);
        }
        return Unpooled.wrappedBuffer(bytes);
    }
}
