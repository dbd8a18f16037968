package io.mirra.engine.replication;

import io.mirra.transport.FrameHandler;
import io.mirra.transport.PeerLink;
import io.mirra.transport.StreamKind;
import io.mirra.transport.netty.Frame;
import io.mirra.transport.netty.NettyPeerTransport;
import io.mirra.transport.netty.OutboundFrames;
import io.mirra.transport.netty.PeerHandshakeConfig;
import io.mirra.transport.netty.ReconnectPolicy;
import io.mirra.transport.protocol.ReplicationProtocol;
import io.mirra.transport.protocol.WriteAckFlyweight;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static io.mirra.engine.replication.EngineCluster.awaitCondition;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * A peer that authenticates but does not play by the rules: it writes without being Primary. The node refuses the
 * write (a negative acknowledgement), leaves its disk untouched and keeps working (SPEC §2.6).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RoguePeerTest
{
    @TempDir
    Path dir;

    @Test
    void shouldRefuseWritesFromAPeerThatIsNotPrimary() throws Exception
    {
        try (EngineCluster cluster = EngineCluster.builder("r", dir).volumes(1L << 20).diskNodes("a")
            .externalNode("z").build())
        {
            final LinkedBlockingQueue<long[]> acks = new LinkedBlockingQueue<>();
            final FrameHandler handler = new FrameHandler()
            {
                @Override
                public void onFrame(final PeerLink link, final Frame frame)
                {
                    try
                    {
                        if (frame.type() == ReplicationProtocol.WRITE_ACK)
                        {
                            final int base = frame.content().readerIndex();
                            acks.add(new long[] {
                                frame.content().getLongLE(base + WriteAckFlyweight.WRITE_SEQUENCE_OFFSET),
                                frame.content().getIntLE(base + WriteAckFlyweight.STATUS_OFFSET)});
                        }
                    }
                    finally
                    {
                        frame.release();
                    }
                }

                @Override
                public void onLinkUp(final PeerLink link)
                {
                }

                @Override
                public void onLinkDown(final PeerLink link, final String reason)
                {
                }
            };
            final PeerHandshakeConfig config = PeerHandshakeConfig.of("z", "r", Set.of("a"),
                "test-secret-1234".getBytes(StandardCharsets.UTF_8), new long[] {1L << 20});
            try (NettyPeerTransport rogue = new NettyPeerTransport(config, handler, ReconnectPolicy.defaults(1)))
            {
                // "a" < "z": a dials z, so z listens where a expects it.
                final InetSocketAddress at = cluster.listenAddress("z");
                rogue.listen(at.getHostString(), at.getPort());
                final PeerLink link = rogue.link("a");
                awaitCondition("link up", () -> link.state() == PeerLink.State.UP);
                final OutboundFrames frames = new OutboundFrames();
                link.send(StreamKind.DATA, frames.state(ByteBufAllocator.DEFAULT,
                    ReplicationProtocol.STATE_ROLE_SECONDARY, 1, 1, new byte[] {(byte)DiskState.UP_TO_DATE.ordinal()},
                    new long[] {VolumeMeta.GEN_JUST_CREATED}, new long[][] {new long[0]}));
                link.sendWrite(0, 1, 0, 1, 0, Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4}));
                final long[] ack = acks.poll(30, TimeUnit.SECONDS);
                assertNotNull(ack, "no acknowledgement");
                assertEquals(1, ack[0]);
                assertEquals(5, ack[1], "EIO: refused");
                assertArrayEquals(new byte[4], cluster.node("a").readDisk(0, 0, 4));
            }
            // a keeps working once the rogue is gone.
            awaitCondition("a lost z", () -> cluster.node("a").resource.otherPrimary() == null &&
                cluster.node("a").resource.status().connections().get(0).connectionState() !=
                ConnectionState.CONNECTED);
            cluster.node("a").promote();
            cluster.node("a").write(0, 0, new byte[] {9}, false);
        }
    }
}
