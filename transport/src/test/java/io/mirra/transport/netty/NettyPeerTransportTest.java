package io.mirra.transport.netty;

import io.mirra.transport.FrameHandler;
import io.mirra.transport.PeerLink;
import io.mirra.transport.StreamKind;
import io.mirra.transport.protocol.WriteAckFlyweight;
import io.mirra.transport.protocol.WriteFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static io.mirra.transport.protocol.ReplicationProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Peer links between two transports over real loopback sockets: "alpha" dials (its name sorts lower), "bravo"
 * accepts. Reconnect delays are shortened (20 ms doubling to 200 ms); the jitter seed is printed.
 */
@Timeout(120)
class NettyPeerTransportTest
{
    private static final long WAIT_NS = TimeUnit.SECONDS.toNanos(15);
    private static final long[] SIZES = {64L << 20};
    private static final String HOST = "127.0.0.1";

    private final List<NettyPeerTransport> transports = new ArrayList<>();
    private final List<Recorder> recorders = new ArrayList<>();
    private long seed;

    /** Records link events and queues frames (the test releases what it takes; the rest is released after). */
    private static final class Recorder implements FrameHandler
    {
        final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
        final AtomicInteger ups = new AtomicInteger();
        final AtomicInteger downs = new AtomicInteger();
        final List<String> downReasons = new CopyOnWriteArrayList<>();

        @Override
        public void onFrame(final PeerLink link, final Frame frame)
        {
            frames.add(frame);
        }

        @Override
        public void onLinkUp(final PeerLink link)
        {
            ups.incrementAndGet();
        }

        @Override
        public void onLinkDown(final PeerLink link, final String reason)
        {
            downReasons.add(reason);
            downs.incrementAndGet();
        }

        Frame next(final int type) throws InterruptedException
        {
            final Frame frame = frames.poll(WAIT_NS, TimeUnit.NANOSECONDS);
            assertNotNull(frame, "no " + typeName(type) + " in time");
            if (frame.type() != type)
            {
                frame.release();
                fail("expected " + typeName(type) + ", got " + frame);
            }
            return frame;
        }
    }

    @BeforeEach
    void seed()
    {
        seed = Long.getLong("mirra.test.seed", System.nanoTime());
        System.out.println("NettyPeerTransportTest seed " + seed + " (rerun with -Dmirra.test.seed=" + seed + ")");
    }

    @AfterEach
    void closeAll()
    {
        transports.forEach(NettyPeerTransport::close);
        for (final Recorder recorder : recorders)
        {
            Frame frame;
            while ((frame = recorder.frames.poll()) != null)
            {
                frame.release();
            }
        }
    }

    private static PeerHandshakeConfig config(final String self, final String peer, final String secret)
    {
        return PeerHandshakeConfig.of(self, "vm-disk", Set.of(peer), secret.getBytes(StandardCharsets.UTF_8), SIZES);
    }

    private NettyPeerTransport transport(final String self, final String peer, final String secret,
        final Recorder recorder)
    {
        return transport(config(self, peer, secret), recorder);
    }

    private NettyPeerTransport transport(final PeerHandshakeConfig config, final Recorder recorder)
    {
        final NettyPeerTransport transport = new NettyPeerTransport(config, recorder,
            new ReconnectPolicy(TimeUnit.MILLISECONDS.toNanos(20), TimeUnit.MILLISECONDS.toNanos(200),
                seed + transports.size()));
        transports.add(transport);
        recorders.add(recorder);
        return transport;
    }

    private static void await(final String what, final BooleanSupplier condition)
    {
        final long deadline = System.nanoTime() + WAIT_NS;
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadline > 0)
            {
                fail("timed out waiting for: " + what);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
    }

    private static void awaitUp(final PeerLink... links)
    {
        for (final PeerLink link : links)
        {
            await(link + " UP", () -> link.state() == PeerLink.State.UP);
        }
    }

    private static byte[] randomBytes(final long seed, final int length)
    {
        final byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    /** A dialer, an acceptor, both UP. */
    private final class Pair
    {
        final Recorder alphaEvents = new Recorder();
        final Recorder bravoEvents = new Recorder();
        final NettyPeerTransport bravo = transport("bravo", "alpha", "s3cret", bravoEvents);
        final NettyPeerTransport alpha = transport("alpha", "bravo", "s3cret", alphaEvents);
        final InetSocketAddress address = bravo.listen(HOST, 0);
        final PeerLink bravoLink = bravo.link("alpha");
        PeerLink alphaLink;

        Pair connect()
        {
            alphaLink = alpha.connect("bravo", HOST, address.getPort());
            awaitUp(alphaLink, bravoLink);
            // the state turns UP just before onLinkUp runs
            await("onLinkUp on both sides", () -> alphaEvents.ups.get() >= 1 && bravoEvents.ups.get() >= 1);
            return this;
        }
    }

    @Test
    void shouldKeepEveryStreamOfATransportOnItsLoopWhenTheGroupIsShared()
    {
        // A shared group spreads accepted channels over its loops unless the transport pins them: a link whose two
        // streams run on two threads can come UP twice or lose an update.
        final io.netty.channel.EventLoopGroup shared = NettyPeerTransport.newIoGroup(8, "shared-io-test");
        try
        {
            final Recorder bravoEvents = new Recorder();
            final Recorder alphaEvents = new Recorder();
            recorders.add(bravoEvents);
            recorders.add(alphaEvents);
            final ReconnectPolicy policy = new ReconnectPolicy(TimeUnit.MILLISECONDS.toNanos(20),
                TimeUnit.MILLISECONDS.toNanos(200), seed);
            try (NettyPeerTransport bravo = new NettyPeerTransport(config("bravo", "alpha", "s3cret"), bravoEvents,
                policy, shared);
                NettyPeerTransport alpha = new NettyPeerTransport(config("alpha", "bravo", "s3cret"), alphaEvents,
                    policy, shared))
            {
                final InetSocketAddress address = bravo.listen(HOST, 0);
                final PeerLink alphaLink = alpha.connect("bravo", HOST, address.getPort());
                awaitUp(alphaLink, bravo.link("alpha"));
                await("onLinkUp on both sides", () -> alphaEvents.ups.get() >= 1 && bravoEvents.ups.get() >= 1);
                assertTrue(bravo.allChannelsOnLoop(), "accepted streams on another loop than the link's");
                assertTrue(alpha.allChannelsOnLoop(), "dialled streams on another loop than the link's");
                assertEquals(1, bravoEvents.ups.get());
            }
        }
        finally
        {
            shared.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void shouldComeUpWithBothStreamsAndExchangeWriteAndAck() throws InterruptedException
    {
        final Pair pair = new Pair().connect();
        assertEquals(1, pair.alphaEvents.ups.get());
        assertEquals(1, pair.bravoEvents.ups.get());
        assertEquals(PROTOCOL_VERSION, pair.alphaLink.agreedVersion());
        assertEquals(KNOWN_FEATURES, pair.bravoLink.agreedFeatures());
        assertNotNull(((NettyPeerLink)pair.alphaLink).channel(StreamKind.DATA));
        assertNotNull(((NettyPeerLink)pair.alphaLink).channel(StreamKind.CONTROL));
        assertNull(pair.alphaLink.lastRefusal());

        final byte[] payload = randomBytes(seed, 256 * 1024);
        assertTrue(pair.alphaLink.sendWrite(0, 7, 4096, 3, WRITE_FLAG_FUA, Unpooled.wrappedBuffer(payload)));
        final Frame write = pair.bravoEvents.next(WRITE);
        try
        {
            final WriteFlyweight header = new WriteFlyweight().wrap(
                new ByteBufView().wrapForRead(write.content(), write.content().readerIndex(), 32), 0);
            assertEquals(7, header.writeSequence());
            assertEquals(4096, header.byteOffset());
            assertEquals(3, header.epoch());
            assertEquals(WRITE_FLAG_FUA, header.flags());
            assertArrayEquals(payload, ByteBufUtil.getBytes(write.writeData()));
        }
        finally
        {
            write.release();
        }

        assertTrue(pair.bravoLink.sendWriteAck(0, 7, 0, ACK_FLAG_DURABLE));
        final Frame ack = pair.alphaEvents.next(WRITE_ACK);
        try
        {
            final WriteAckFlyweight body = new WriteAckFlyweight().wrap(
                new ByteBufView().wrapForRead(ack.content(), ack.content().readerIndex(), WriteAckFlyweight.LENGTH),
                0);
            assertEquals(7, body.writeSequence());
            assertEquals(0, body.status());
            assertEquals(ACK_FLAG_DURABLE, body.flags());
        }
        finally
        {
            ack.release();
        }
    }

    @Test
    void shouldDeliverAnAckWhileTheDataStreamIsBacklogged() throws InterruptedException
    {
        final Pair pair = new Pair();
        pair.bravoLink.setReceiving(StreamKind.DATA, false); // bravo reads no writes until told
        pair.connect();

        final int writes = 32;
        final byte[] payload = randomBytes(seed, MAX_WRITE_DATA_LENGTH);
        for (int i = 1; i <= writes; i++)
        {
            assertTrue(pair.alphaLink.sendWrite(0, i, (long)i << 20, 1, 0, Unpooled.wrappedBuffer(payload)));
        }
        // 32 MiB cannot fit in the loopback socket buffers: most of it stays queued on alpha's DATA stream.
        await("alpha's DATA stream backlogged", () -> !pair.alphaLink.isWritable(StreamKind.DATA));

        assertTrue(pair.alphaLink.sendWriteAck(0, 99, 0, ACK_FLAG_RECEIVED));
        final Frame ack = pair.bravoEvents.next(WRITE_ACK); // fails if a WRITE came first
        ack.release();
        assertFalse(pair.alphaLink.isWritable(StreamKind.DATA), "the DATA backlog drained before the ack arrived");
        assertTrue(pair.bravoEvents.frames.isEmpty());

        pair.bravoLink.setReceiving(StreamKind.DATA, true);
        for (int i = 1; i <= writes; i++)
        {
            final Frame write = pair.bravoEvents.next(WRITE);
            try
            {
                final WriteFlyweight header = new WriteFlyweight().wrap(
                    new ByteBufView().wrapForRead(write.content(), write.content().readerIndex(), 32), 0);
                assertEquals(i, header.writeSequence());
                // one bulk copy: per-byte access is slow under paranoid leak detection
                assertArrayEquals(payload, ByteBufUtil.getBytes(write.writeData()), "payload of write " + i);
            }
            finally
            {
                write.release();
            }
        }
    }

    @Test
    void shouldReconnectAfterOneStreamIsKilled() throws InterruptedException
    {
        final Pair pair = new Pair().connect();
        ((NettyPeerLink)pair.bravoLink).channel(StreamKind.CONTROL).close();

        await("link down on both sides",
            () -> pair.alphaEvents.downs.get() == 1 && pair.bravoEvents.downs.get() == 1);
        await("link up again on both sides",
            () -> pair.alphaEvents.ups.get() == 2 && pair.bravoEvents.ups.get() == 2);
        awaitUp(pair.alphaLink, pair.bravoLink);
        assertTrue(pair.alphaLink.connectAttempts() >= 2);
        assertEquals("CONTROL stream closed", pair.bravoEvents.downReasons.get(0));

        assertTrue(pair.alphaLink.sendPing(PING, 5, 42));
        pair.bravoEvents.next(PING).release();
    }

    @Test
    void shouldReconnectToAnAcceptorRestartedOnTheSamePort() throws InterruptedException
    {
        final Pair pair = new Pair().connect();
        pair.bravo.close();
        await("alpha down", () -> pair.alphaEvents.downs.get() == 1);
        final long attemptsBefore = pair.alphaLink.connectAttempts();
        await("alpha retrying against a closed port", () -> pair.alphaLink.connectAttempts() >= attemptsBefore + 2);
        assertNotEquals(PeerLink.State.UP, pair.alphaLink.state());

        final Recorder bravoAgain = new Recorder();
        final NettyPeerTransport restarted = transport("bravo", "alpha", "s3cret", bravoAgain);
        assertEquals(pair.address.getPort(), restarted.listen(HOST, pair.address.getPort()).getPort());
        awaitUp(pair.alphaLink, restarted.link("alpha"));
        await("alpha's second onLinkUp", () -> pair.alphaEvents.ups.get() == 2);

        assertTrue(restarted.link("alpha").sendWriteAck(0, 1, 0, ACK_FLAG_DURABLE));
        pair.alphaEvents.next(WRITE_ACK).release();
    }

    @Test
    void shouldStayDownWithAuthFailedOnBothSidesAndKeepRetrying()
    {
        final Recorder alphaEvents = new Recorder();
        final Recorder bravoEvents = new Recorder();
        final NettyPeerTransport bravo = transport("bravo", "alpha", "another secret", bravoEvents);
        final NettyPeerTransport alpha = transport("alpha", "bravo", "s3cret", alphaEvents);
        final InetSocketAddress address = bravo.listen(HOST, 0);
        final PeerLink alphaLink = alpha.connect("bravo", HOST, address.getPort());
        final PeerLink bravoLink = bravo.link("alpha");

        await("refusal seen on both sides", () ->
            "AUTH_FAILED".equals(alphaLink.lastRefusal()) && "AUTH_FAILED".equals(bravoLink.lastRefusal()));
        await("three attempts", () -> alphaLink.connectAttempts() >= 3);
        assertTrue(alphaLink.refusals() >= 2, "refusals " + alphaLink.refusals());
        assertTrue(bravoLink.refusals() >= 1);
        assertTrue(alphaLink.lastDownReason().contains("AUTH_FAILED"), alphaLink.lastDownReason());
        assertNotEquals(PeerLink.State.UP, alphaLink.state());
        assertNotEquals(PeerLink.State.UP, bravoLink.state());
        assertEquals(0, alphaEvents.ups.get());
        assertEquals(0, bravoEvents.ups.get());
        assertFalse(alphaLink.sendWriteAck(0, 1, 0, 0));
    }

    @Test
    void shouldStayDownWithTheExactRefusalOnBothSides()
    {
        final PeerHandshakeConfig alphaConfig = config("alpha", "bravo", "s3cret");
        final PeerHandshakeConfig[] bravoConfigs = {
            PeerHandshakeConfig.of("bravo", "vm-disk", Set.of("alpha"), "s3cret".getBytes(StandardCharsets.UTF_8),
                new long[] {32L << 20}),
            config("bravo", "alpha", "s3cret").withVersions(PROTOCOL_VERSION + 1, PROTOCOL_VERSION + 2),
        };
        final String[] expected = {"VOLUME_SIZE_MISMATCH", "VERSION_MISMATCH"};
        for (int i = 0; i < bravoConfigs.length; i++)
        {
            final Recorder alphaEvents = new Recorder();
            final NettyPeerTransport bravo = transport(bravoConfigs[i], new Recorder());
            final NettyPeerTransport alpha = transport(alphaConfig, alphaEvents);
            final PeerLink alphaLink = alpha.connect("bravo", HOST, bravo.listen(HOST, 0).getPort());
            final PeerLink bravoLink = bravo.link("alpha");
            final String reason = expected[i];
            await(reason + " on both sides", () ->
                reason.equals(alphaLink.lastRefusal()) && reason.equals(bravoLink.lastRefusal()));
            await("a retry", () -> alphaLink.connectAttempts() >= 2);
            assertTrue(alphaLink.lastDownReason().contains(reason), alphaLink.lastDownReason());
            assertEquals(0, alphaEvents.ups.get());
            alpha.close();
            bravo.close();
        }
    }

    @Test
    void shouldApplyTheDialingRule()
    {
        final NettyPeerTransport bravo = transport("bravo", "alpha", "s3cret", new Recorder());
        assertTrue(NettyPeerTransport.dials("alpha", "bravo"));
        assertFalse(NettyPeerTransport.dials("bravo", "alpha"));
        assertThrows(IllegalArgumentException.class, () -> bravo.connect("alpha", HOST, 1));
        assertThrows(IllegalArgumentException.class, () -> bravo.connect("charlie", HOST, 1));
    }

    @Test
    void shouldReleaseEverythingOnClose() throws InterruptedException
    {
        final Pair pair = new Pair().connect();
        assertTrue(pair.alphaLink.sendWrite(0, 1, 0, 1, 0, Unpooled.wrappedBuffer(randomBytes(seed, 4096))));
        pair.bravoEvents.next(WRITE).release();
        final String[] threads = {pair.alpha.threadName(), pair.bravo.threadName()};

        pair.alpha.close();
        pair.bravo.close();

        assertEquals(PeerLink.State.DOWN, pair.alphaLink.state());
        assertEquals(PeerLink.State.DOWN, pair.bravoLink.state());
        assertEquals(1, pair.alphaEvents.downs.get());
        assertEquals("transport closed", pair.alphaEvents.downReasons.get(0));
        final ByteBuf late = Unpooled.directBuffer(16).writeZero(16);
        assertFalse(pair.alphaLink.sendWrite(0, 2, 0, 1, 0, late));
        assertEquals(0, late.refCnt());
        await("event loop threads gone", () -> Thread.getAllStackTraces().keySet().stream()
            .noneMatch(t -> t.isAlive() && (t.getName().equals(threads[0]) || t.getName().equals(threads[1]))));
    }
}
