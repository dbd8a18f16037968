package io.mirra.transport.netty;

import io.mirra.transport.protocol.WriteFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static io.mirra.transport.netty.FrameTestSupport.EventRecorder;
import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Two ends of one stream as EmbeddedChannels, with bytes pumped between them until both are quiet.
 */
@Timeout(30)
class PeerHandshakeTest
{
    private static final byte[] SECRET = "correct horse battery staple".getBytes(StandardCharsets.UTF_8);
    private static final long[] SIZES = {1L << 30, 1L << 20};

    private final EventRecorder connectorEvents = new EventRecorder();
    private final EventRecorder acceptorEvents = new EventRecorder();
    private final FrameDecoder connectorDecoder = new FrameDecoder();
    private final FrameDecoder acceptorDecoder = new FrameDecoder();
    private EmbeddedChannel connector;
    private EmbeddedChannel acceptor;

    static PeerHandshakeConfig alpha()
    {
        return PeerHandshakeConfig.of("alpha", "demo", Set.of("bravo", "charlie"), SECRET, SIZES);
    }

    static PeerHandshakeConfig bravo()
    {
        return PeerHandshakeConfig.of("bravo", "demo", Set.of("alpha"), SECRET, SIZES);
    }

    @AfterEach
    void releaseAll()
    {
        if (connector != null)
        {
            connector.finishAndReleaseAll();
        }
        if (acceptor != null)
        {
            acceptor.finishAndReleaseAll();
        }
    }

    private void start(final PeerHandshakeConfig connectorConfig, final int streamKind,
        final PeerHandshakeConfig acceptorConfig)
    {
        acceptor = new EmbeddedChannel(acceptorDecoder, new FrameEncoder(),
            PeerHandshakeHandler.acceptor(acceptorConfig), acceptorEvents);
        connector = new EmbeddedChannel(connectorDecoder, new FrameEncoder(),
            PeerHandshakeHandler.connector(connectorConfig, streamKind), connectorEvents);
        pump();
    }

    /** Move bytes both ways until neither side has anything to send. */
    private void pump()
    {
        boolean moved = true;
        for (int rounds = 0; moved; rounds++)
        {
            assertTrue(rounds < 100, "handshake does not converge");
            moved = transfer(connector, acceptor) | transfer(acceptor, connector);
        }
    }

    private static boolean transfer(final EmbeddedChannel from, final EmbeddedChannel to)
    {
        boolean moved = false;
        Object msg;
        while ((msg = from.readOutbound()) != null)
        {
            moved = true;
            if (to.isOpen())
            {
                to.writeInbound(msg);
            }
            else
            {
                ReferenceCountUtil.release(msg);
            }
        }
        return moved;
    }

    private static PeerHandshakeFailed onlyFailure(final EventRecorder events)
    {
        assertTrue(events.eventsOf(PeerHandshakeCompleted.class).isEmpty(), "not completed: " + events.events);
        final List<PeerHandshakeFailed> failures = events.eventsOf(PeerHandshakeFailed.class);
        assertEquals(1, failures.size(), String.valueOf(events.events));
        return failures.get(0);
    }

    private void assertRefused(final int reason, final String detail)
    {
        assertFalse(connector.isOpen());
        assertFalse(acceptor.isOpen());
        final PeerHandshakeFailed atConnector = onlyFailure(connectorEvents);
        final PeerHandshakeFailed atAcceptor = onlyFailure(acceptorEvents);
        assertEquals(reason, atConnector.reason(), atConnector.toString());
        assertEquals(reason, atAcceptor.reason(), atAcceptor.toString());
        assertTrue(atConnector.message().contains(detail), atConnector.message());
        assertTrue(atAcceptor.message().contains(detail), atAcceptor.message());
    }

    @Test
    void shouldCompleteAndAgreeOnVersionAndFeatures()
    {
        start(alpha().withFeatures(FEATURE_LZ4 | FEATURE_CHECKSUM_RESYNC), STREAM_CONTROL,
            bravo().withFeatures(FEATURE_CHECKSUM_RESYNC | FEATURE_RESYNC_WITHOUT_REPLICATION));

        assertEquals(List.of(new PeerHandshakeCompleted("bravo", PROTOCOL_VERSION, FEATURE_CHECKSUM_RESYNC,
            STREAM_CONTROL)), connectorEvents.eventsOf(PeerHandshakeCompleted.class));
        assertEquals(List.of(new PeerHandshakeCompleted("alpha", PROTOCOL_VERSION, FEATURE_CHECKSUM_RESYNC,
            STREAM_CONTROL)), acceptorEvents.eventsOf(PeerHandshakeCompleted.class));
        assertNull(connector.pipeline().get(PeerHandshakeHandler.class), "removed itself");
        assertNull(acceptor.pipeline().get(PeerHandshakeHandler.class), "removed itself");
        assertTrue(connector.isOpen());
        assertTrue(acceptor.isOpen());

        final OutboundFrames frames = new OutboundFrames();
        connector.writeOutbound(frames.ping(connector.alloc(), PING, 7, 8));
        acceptor.writeOutbound(frames.writeAck(acceptor.alloc(), 1, 42, 0, ACK_FLAG_DURABLE));
        pump();
        final Frame ping = acceptor.readInbound();
        final Frame ack = connector.readInbound();
        assertEquals(PING, ping.type());
        assertEquals(WRITE_ACK, ack.type());
        assertEquals(1, ack.volume());
        ping.release();
        ack.release();
    }

    @Test
    void shouldCarryWritesOnTheDataStreamAfterTheHandshake()
    {
        start(alpha(), STREAM_DATA, bravo());
        assertEquals(1, acceptorEvents.eventsOf(PeerHandshakeCompleted.class).size());

        final byte[] data = new byte[4096];
        data[0] = 1;
        data[4095] = 2;
        final OutboundFrames frames = new OutboundFrames();
        connector.writeOutbound(frames.write(ByteBufAllocator.DEFAULT, 1, 5, 8192, 3, WRITE_FLAG_FUA,
            Unpooled.wrappedBuffer(data)));
        pump();
        final Frame write = acceptor.readInbound();
        final WriteFlyweight header = new WriteFlyweight().wrap(
            new ByteBufView().wrapForRead(write.content(), write.content().readerIndex(), WriteFlyweight.HEADER_LENGTH),
            0);
        assertEquals(5, header.writeSequence());
        assertEquals(8192, header.byteOffset());
        assertEquals(WRITE_FLAG_FUA, header.flags());
        assertArrayEquals(data, ByteBufUtil.getBytes(write.writeData()));
        write.release();
    }

    @Test
    void shouldRefuseAWrongSecretOnBothSides()
    {
        start(alpha(), STREAM_DATA, new PeerHandshakeConfig("bravo", "demo", Set.of("alpha"),
            "another secret".getBytes(StandardCharsets.UTF_8), SIZES, 1, 1, 0, PeerHandshakeConfig.DEFAULT_TIMEOUT_NS));
        assertRefused(REFUSE_AUTH_FAILED, "failed authentication for resource 'demo'");
        assertFalse(onlyFailure(connectorEvents).refusedByPeer());
        assertTrue(onlyFailure(connectorEvents).message().contains("peer bravo"));
        assertTrue(onlyFailure(acceptorEvents).message().contains("peer alpha"));
    }

    @Test
    void shouldRefuseAnotherResource()
    {
        start(PeerHandshakeConfig.of("alpha", "other", Set.of("bravo"), SECRET, SIZES), STREAM_DATA, bravo());
        assertRefused(REFUSE_WRONG_RESOURCE, "peer alpha asks for resource 'other', this is resource 'demo'");
        assertTrue(onlyFailure(connectorEvents).refusedByPeer(), "the connector logs the REFUSE it received");
        assertFalse(onlyFailure(acceptorEvents).refusedByPeer());
    }

    @Test
    void shouldRefuseAVersionMismatch()
    {
        start(alpha().withVersions(2, 3), STREAM_CONTROL, bravo());
        assertRefused(REFUSE_VERSION_MISMATCH, "peer alpha speaks protocol versions 2..3, bravo speaks 1..1");
    }

    @Test
    void shouldAgreeOnTheHighestCommonVersion()
    {
        start(alpha().withVersions(1, 5), STREAM_CONTROL, bravo().withVersions(1, 1));
        assertEquals(1, connectorEvents.eventsOf(PeerHandshakeCompleted.class).get(0).agreedVersion());
        assertEquals(1, acceptorEvents.eventsOf(PeerHandshakeCompleted.class).get(0).agreedVersion());
    }

    @Test
    void shouldRefuseDifferentVolumeSizes()
    {
        start(PeerHandshakeConfig.of("alpha", "demo", Set.of("bravo"), SECRET, new long[]{1L << 30, 1L << 21}),
            STREAM_DATA, bravo());
        assertRefused(REFUSE_VOLUME_SIZE_MISMATCH, "volume 1 is 2097152 bytes, on bravo 1048576 bytes");
    }

    @Test
    void shouldRefuseADifferentVolumeCount()
    {
        start(PeerHandshakeConfig.of("alpha", "demo", Set.of("bravo"), SECRET, new long[]{1L << 30}),
            STREAM_DATA, bravo());
        assertRefused(REFUSE_VOLUME_SIZE_MISMATCH, "1 volumes, bravo has 2");
    }

    @Test
    void shouldRefuseAnUnknownPeer()
    {
        start(PeerHandshakeConfig.of("mallory", "demo", Set.of("bravo"), SECRET, SIZES), STREAM_DATA, bravo());
        assertRefused(REFUSE_UNKNOWN_PEER, "node 'mallory' is not a peer of resource 'demo' on bravo");
    }

    @Test
    void shouldRefuseWhenTheAcceptorIsNotWhoTheConnectorDialled()
    {
        start(PeerHandshakeConfig.of("alpha", "demo", Set.of("charlie"), SECRET, SIZES), STREAM_DATA, bravo());
        assertRefused(REFUSE_UNKNOWN_PEER, "node 'bravo' is not a peer of resource 'demo' on alpha");
        assertTrue(onlyFailure(acceptorEvents).refusedByPeer());
    }

    @Test
    void shouldRefuseWhenTheDeadlinePasses()
    {
        acceptor = new EmbeddedChannel();
        acceptor.freezeTime();
        acceptor.pipeline().addLast(acceptorDecoder, new FrameEncoder(),
            PeerHandshakeHandler.acceptor(bravo().withTimeoutNs(TimeUnit.SECONDS.toNanos(2))), acceptorEvents);
        acceptor.advanceTimeBy(1, TimeUnit.SECONDS);
        acceptor.runScheduledPendingTasks();
        assertTrue(acceptor.isOpen(), "not yet");
        assertNull(acceptor.readOutbound(), "an acceptor sends nothing to a silent stranger");
        acceptor.advanceTimeBy(2, TimeUnit.SECONDS);
        acceptor.runScheduledPendingTasks();
        assertFalse(acceptor.isOpen());
        final PeerHandshakeFailed failure = onlyFailure(acceptorEvents);
        assertEquals(REFUSE_HANDSHAKE_TIMEOUT, failure.reason());
        assertEquals("handshake not completed within 2000 ms", failure.message());
        final ByteBuf refuse = acceptor.readOutbound();
        assertNotNull(refuse, "REFUSE sent before closing");
        assertEquals(REFUSE, refuse.getUnsignedShortLE(TYPE_OFFSET));
        refuse.release();
    }

    @Test
    void shouldRefuseMalformedTrafficDuringTheHandshake()
    {
        acceptor = new EmbeddedChannel(acceptorDecoder, new FrameEncoder(), PeerHandshakeHandler.acceptor(bravo()),
            acceptorEvents);
        acceptor.writeInbound(Unpooled.wrappedBuffer(
            "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".getBytes(StandardCharsets.US_ASCII)));
        assertFalse(acceptor.isOpen());
        final PeerHandshakeFailed failure = onlyFailure(acceptorEvents);
        assertEquals(REFUSE_PROTOCOL_ERROR, failure.reason());
        assertTrue(failure.message().startsWith("BAD_MAGIC"), failure.message());
    }

    @Test
    void shouldRefuseAuthOkBeforeAuthentication()
    {
        acceptor = new EmbeddedChannel(acceptorDecoder, new FrameEncoder(), PeerHandshakeHandler.acceptor(bravo()),
            acceptorEvents);
        acceptor.writeInbound(Unpooled.wrappedBuffer(
            FrameTestSupport.rawFrame(HANDSHAKE_VERSION, AUTH_OK, 0, 0, 0, 1, new byte[0])));
        assertFalse(acceptor.isOpen());
        assertEquals("AUTH_OK before a verified AUTH_RESPONSE", onlyFailure(acceptorEvents).message());
    }

    @Test
    void shouldReportAPeerThatHangsUpDuringTheHandshake()
    {
        start(alpha(), STREAM_DATA, bravo());
        assertEquals(1, connectorEvents.eventsOf(PeerHandshakeCompleted.class).size());

        final EventRecorder events = new EventRecorder();
        final EmbeddedChannel lonely = new EmbeddedChannel(new FrameDecoder(), new FrameEncoder(),
            PeerHandshakeHandler.connector(alpha(), STREAM_DATA), events);
        final ByteBuf hello = lonely.readOutbound();
        assertEquals(HELLO, hello.getUnsignedShortLE(TYPE_OFFSET));
        hello.release();
        lonely.close();
        assertEquals(REFUSE_PROTOCOL_ERROR, onlyFailure(events).reason());
        assertEquals("connection closed during the handshake", onlyFailure(events).message());
        lonely.finishAndReleaseAll();
    }

    @Test
    void shouldNeverSendTheSecret()
    {
        acceptor = new EmbeddedChannel(acceptorDecoder, new FrameEncoder(), PeerHandshakeHandler.acceptor(bravo()),
            acceptorEvents);
        connector = new EmbeddedChannel(connectorDecoder, new FrameEncoder(),
            PeerHandshakeHandler.connector(alpha(), STREAM_DATA), connectorEvents);
        final StringBuilder wire = new StringBuilder();
        boolean moved = true;
        while (moved)
        {
            moved = false;
            for (final EmbeddedChannel[] pair : new EmbeddedChannel[][]{{connector, acceptor}, {acceptor, connector}})
            {
                ByteBuf buf;
                while ((buf = pair[0].readOutbound()) != null)
                {
                    moved = true;
                    wire.append(ByteBufUtil.hexDump(buf));
                    pair[1].writeInbound(buf);
                }
            }
        }
        assertEquals(1, connectorEvents.eventsOf(PeerHandshakeCompleted.class).size());
        assertFalse(wire.toString().contains(ByteBufUtil.hexDump(SECRET)));
        assertFalse(wire.toString().contains(ByteBufUtil.hexDump("correct horse".getBytes(StandardCharsets.UTF_8))));
    }
}
