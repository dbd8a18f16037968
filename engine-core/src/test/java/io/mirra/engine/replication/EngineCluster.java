package io.mirra.engine.replication;

import io.mirra.engine.storage.BlockStore;
import io.mirra.engine.storage.DiskIoWorkers;
import io.mirra.engine.storage.FileBlockStore;
import io.mirra.test.LinkProxy;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * N nodes of one resource in this JVM, on real loopback sockets: each node has its own disk files, disk threads,
 * transport and metadata directory. With {@link Builder#proxies(boolean)} every link runs through a
 * {@link LinkProxy}, so tests can cut, heal and delay the link between two nodes. Nodes can be stopped (as a crash:
 * no demotion, links drop) and started again on the same disks and metadata.
 */
final class EngineCluster implements AutoCloseable
{
    static final Duration DEADLINE = Duration.ofSeconds(30);

    private final String resource;
    private final Path dir;
    private final List<String> names;
    private final long[] volumeSizes;
    private final Map<String, boolean[]> diskless;
    private final Protocol protocol;
    private final ReadBalancing readBalancing;
    private final long asyncMaxUnacked;
    private final int diskThreads;
    private final long resyncRateMax;
    private final int alExtents;
    private final SplitBrainPolicy afterSb0Pri;
    private final SplitBrainPolicy afterSb1Pri;
    private final boolean resyncWithoutReplication;
    private final long peerTimeoutMs;
    private final boolean resyncChecksums;
    private final int quorum;
    private final boolean quorumSuspendIo;
    private final Map<String, Integer> bitmapBlockSizes;
    private final Map<String, String> secrets;
    private final Map<String, InetSocketAddress> listen = new LinkedHashMap<>();
    private final Map<String, LinkProxy> proxies = new LinkedHashMap<>();
    private final Map<String, Node> nodes = new LinkedHashMap<>();

    private EngineCluster(final Builder b) throws IOException
    {
        this.resource = b.resource;
        this.dir = b.dir;
        this.names = List.copyOf(b.names);
        this.volumeSizes = b.volumeSizes.clone();
        this.diskless = b.diskless;
        this.protocol = b.protocol;
        this.readBalancing = b.readBalancing;
        this.asyncMaxUnacked = b.asyncMaxUnacked;
        this.diskThreads = b.diskThreads;
        this.resyncRateMax = b.resyncRateMax;
        this.alExtents = b.alExtents;
        this.afterSb0Pri = b.afterSb0Pri;
        this.afterSb1Pri = b.afterSb1Pri;
        this.resyncWithoutReplication = b.resyncWithoutReplication;
        this.peerTimeoutMs = b.peerTimeoutMs;
        this.resyncChecksums = b.resyncChecksums;
        this.quorum = b.quorum;
        this.quorumSuspendIo = b.quorumSuspendIo;
        this.bitmapBlockSizes = b.bitmapBlockSizes;
        this.secrets = Map.copyOf(b.secrets);
        final int octet = 1 + (int)(ProcessHandle.current().pid() % 200);
        for (int i = 0; i < names.size(); i++)
        {
            // Distinct loopback addresses per node keep free-port races between nodes away.
            final String host = "127.0." + octet + "." + (i + 1);
            listen.put(names.get(i), new InetSocketAddress(host, freePort(host)));
        }
        if (b.proxies)
        {
            for (int i = 0; i < names.size(); i++)
            {
                for (int j = i + 1; j < names.size(); j++)
                {
                    // names sorted: names[i] dials names[j] (the lower name dials)
                    final String a = names.get(i);
                    final String c = names.get(j);
                    proxies.put(a + ">" + c, new LinkProxy("127.0.0.1", listen.get(c)));
                }
            }
        }
        for (final String name : names)
        {
            if (!b.external.contains(name))
            {
                start(name);
            }
        }
    }

    /** @return the replication address a node listens on (for external test peers). */
    InetSocketAddress listenAddress(final String name)
    {
        return listen.get(name);
    }

    static Builder builder(final String resource, final Path dir)
    {
        return new Builder(resource, dir);
    }

    private static int freePort(final String host) throws IOException
    {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(host)))
        {
            return s.getLocalPort();
        }
    }

    /** The address {@code from} dials to reach {@code to} (through its proxy when there is one). */
    private InetSocketAddress addressFor(final String from, final String to)
    {
        final LinkProxy proxy = proxies.get(from + ">" + to);
        return proxy != null ? proxy.address() : listen.get(to);
    }

    ResourceSpec specOf(final String name)
    {
        final List<ResourceSpec.PeerSpec> peers = new ArrayList<>();
        for (int i = 0; i < names.size(); i++)
        {
            final String peer = names.get(i);
            if (!peer.equals(name))
            {
                final InetSocketAddress a = addressFor(name, peer);
                peers.add(new ResourceSpec.PeerSpec(peer, i, a.getHostString(), a.getPort(), diskless.get(peer)));
            }
        }
        final InetSocketAddress own = listen.get(name);
        return new ResourceSpec(resource, name, names.indexOf(name), volumeSizes, diskless.get(name), peers, protocol,
            secrets.getOrDefault(name, "test-secret-1234").getBytes(StandardCharsets.UTF_8), dir.resolve(name).resolve("meta"),
            own.getHostString(), own.getPort(), bitmapBlockSizes.getOrDefault(name, 4096), readBalancing,
            asyncMaxUnacked, resyncRateMax, alExtents, afterSb0Pri, afterSb1Pri, resyncWithoutReplication, 0, false,
            peerTimeoutMs, resyncChecksums, quorum, quorumSuspendIo);
    }

    /** Start (or restart) a node on its disks and metadata. */
    Node start(final String name) throws IOException
    {
        final ResourceSpec spec = specOf(name);
        final BlockStore[] stores = new BlockStore[volumeSizes.length];
        final boolean[] fresh = new boolean[volumeSizes.length];
        for (int v = 0; v < volumeSizes.length; v++)
        {
            if (!spec.disklessVolumes()[v])
            {
                final Path disk = dir.resolve(name).resolve("disk-" + v + ".img");
                Files.createDirectories(disk.getParent());
                fresh[v] = !Files.exists(disk);
                stores[v] = new HookedStore(FileBlockStore.openOrCreate(disk, volumeSizes[v], false));
            }
        }
        final DiskIoWorkers workers = new DiskIoWorkers("disk-" + name, diskThreads, 4096);
        final ReplicatedResource res = new ReplicatedResource(spec, stores, fresh, workers);
        res.start();
        final Node node = new Node(name, res, stores, workers);
        nodes.put(name, node);
        return node;
    }

    /**
     * Kill a node as {@code kill -9} would: its metadata, bitmaps and activity log stay as they are on disk at
     * this moment (nothing more is written), its links drop.
     */
    void crash(final String name)
    {
        final Node node = nodes.remove(name);
        if (node != null)
        {
            node.resource.crashForTests();
            node.close();
        }
    }

    /** Change a node's bitmap block size for its next start. */
    void bitmapBlockSize(final String name, final int bytes)
    {
        bitmapBlockSizes.put(name, bytes);
    }

    /** Stop a node cleanly (no demotion; its links drop, its bitmaps are written). */
    void stop(final String name)
    {
        final Node node = nodes.remove(name);
        if (node != null)
        {
            node.close();
        }
    }

    Node node(final String name)
    {
        final Node node = nodes.get(name);
        if (node == null)
        {
            throw new IllegalArgumentException(name + " is not running");
        }
        return node;
    }

    List<String> names()
    {
        return names;
    }

    LinkProxy proxy(final String a, final String b)
    {
        final LinkProxy p = a.compareTo(b) < 0 ? proxies.get(a + ">" + b) : proxies.get(b + ">" + a);
        if (p == null)
        {
            throw new IllegalStateException("no proxy between " + a + " and " + b + " (build with proxies(true))");
        }
        return p;
    }

    /** Wait until every running node sees every other running node Connected with states exchanged. */
    void awaitAllConnected()
    {
        awaitCondition("all running nodes connected", () ->
        {
            for (final Node node : nodes.values())
            {
                for (final ResourceStatus.ConnectionStatus c : node.resource.status().connections())
                {
                    if (nodes.containsKey(c.peerName()) && c.connectionState() != ConnectionState.CONNECTED)
                    {
                        return false;
                    }
                }
            }
            return true;
        });
    }

    static void awaitCondition(final String what, final BooleanSupplier condition)
    {
        final long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() > deadline)
            {
                throw new AssertionError("timed out after " + DEADLINE + " waiting for: " + what);
            }
            // Poll the condition until its deadline (the wait synchronizes nothing by itself).
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
            if (Thread.currentThread().isInterrupted())
            {
                throw new AssertionError("interrupted waiting for: " + what);
            }
        }
    }

    @Override
    public void close()
    {
        for (final Node node : new ArrayList<>(nodes.values()))
        {
            node.close();
        }
        nodes.clear();
        proxies.values().forEach(LinkProxy::close);
    }

    /** One running node. */
    static final class Node implements AutoCloseable
    {
        final String name;
        final ReplicatedResource resource;
        final BlockStore[] stores;
        final DiskIoWorkers workers;

        Node(final String name, final ReplicatedResource resource, final BlockStore[] stores,
            final DiskIoWorkers workers)
        {
            this.name = name;
            this.resource = resource;
            this.stores = stores;
            this.workers = workers;
        }

        void promote()
        {
            await(resource.promote(false));
        }

        /** Write through this node and wait for completion; throws with the engine's message on failure. */
        void write(final int volume, final long offset, final byte[] data, final boolean fua)
        {
            final ByteBuf buf = Unpooled.directBuffer(data.length).writeBytes(data);
            try
            {
                final CompletableFuture<Void> done = new CompletableFuture<>();
                resource.write(volume, offset, buf, fua, EngineCluster::complete, done);
                await(done);
            }
            finally
            {
                buf.release();
            }
        }

        CompletableFuture<Void> writeAsync(final int volume, final long offset, final ByteBuf data)
        {
            final CompletableFuture<Void> done = new CompletableFuture<>();
            resource.write(volume, offset, data, false, EngineCluster::complete, done);
            return done;
        }

        void flush(final int volume)
        {
            final CompletableFuture<Void> done = new CompletableFuture<>();
            resource.flush(volume, EngineCluster::complete, done);
            await(done);
        }

        /** Read through this node (local or remote, as the engine decides). */
        byte[] read(final int volume, final long offset, final int length)
        {
            final ByteBuffer target = ByteBuffer.allocateDirect(length);
            final CompletableFuture<Void> done = new CompletableFuture<>();
            resource.read(volume, offset, target, EngineCluster::complete, done);
            await(done);
            final byte[] out = new byte[length];
            target.get(0, out);
            return out;
        }

        /** @return the hooks of this node's disk of a volume. */
        HookedStore disk(final int volume)
        {
            return (HookedStore)stores[volume];
        }

        CompletableFuture<Void> readAsync(final int volume, final long offset, final ByteBuffer target)
        {
            final CompletableFuture<Void> done = new CompletableFuture<>();
            resource.read(volume, offset, target, EngineCluster::complete, done);
            return done;
        }

        /** Read this node's own disk directly, bypassing the engine. */
        byte[] readDisk(final int volume, final long offset, final int length) throws IOException
        {
            final ByteBuffer target = ByteBuffer.allocate(length);
            stores[volume].read(target, offset);
            return target.array();
        }

        @Override
        public void close()
        {
            resource.close();
            workers.close();
            for (final BlockStore store : stores)
            {
                if (store != null)
                {
                    try
                    {
                        store.close();
                    }
                    catch (final Exception ex)
                    {
                        // closing anyway
                    }
                }
            }
        }
    }

    static void complete(final CompletableFuture<Void> done, final int errno, final String message)
    {
        if (errno == 0)
        {
            done.complete(null);
        }
        else
        {
            done.completeExceptionally(new IOException("errno " + errno + ": " + message));
        }
    }

    static <T> T await(final CompletableFuture<T> future)
    {
        try
        {
            return future.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        }
        catch (final ExecutionException ex)
        {
            throw new RuntimeException(ex.getCause().getMessage(), ex.getCause());
        }
        catch (final TimeoutException ex)
        {
            throw new AssertionError("no completion within " + DEADLINE);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted");
        }
    }

    /** Builds a cluster. */
    static final class Builder
    {
        private final String resource;
        private final Path dir;
        private final List<String> names = new ArrayList<>();
        private final Map<String, boolean[]> diskless = new LinkedHashMap<>();
        private long[] volumeSizes = {4L << 20};
        private Protocol protocol = Protocol.C;
        private ReadBalancing readBalancing = ReadBalancing.ROUND_ROBIN;
        private long asyncMaxUnacked = ResourceSpec.ASYNC_MAX_UNACKED_DEFAULT;
        private boolean proxies;
        private int diskThreads = 2;
        private long resyncRateMax;
        private int alExtents = ResourceSpec.ACTIVITY_LOG_EXTENTS_DEFAULT;
        private SplitBrainPolicy afterSb0Pri = SplitBrainPolicy.DISCONNECT;
        private SplitBrainPolicy afterSb1Pri = SplitBrainPolicy.DISCONNECT;
        private boolean resyncWithoutReplication = true;
        private long peerTimeoutMs = ResourceSpec.PEER_TIMEOUT_MS_DEFAULT;
        private boolean resyncChecksums;
        private int quorum;
        private boolean quorumSuspendIo = true;
        private final Map<String, Integer> bitmapBlockSizes = new LinkedHashMap<>();
        private final Map<String, String> secrets = new LinkedHashMap<>();
        private final java.util.Set<String> external = new java.util.HashSet<>();

        Builder(final String resource, final Path dir)
        {
            this.resource = resource;
            this.dir = dir;
        }

        Builder volumes(final long... sizes)
        {
            this.volumeSizes = sizes.clone();
            return this;
        }

        /** Add disk nodes (call after volumes). */
        Builder diskNodes(final String... nodeNames)
        {
            for (final String n : nodeNames)
            {
                names.add(n);
                diskless.put(n, new boolean[volumeSizes.length]);
            }
            return this;
        }

        /** Add nodes diskless for every volume (call after volumes). */
        Builder disklessNodes(final String... nodeNames)
        {
            for (final String n : nodeNames)
            {
                names.add(n);
                final boolean[] all = new boolean[volumeSizes.length];
                java.util.Arrays.fill(all, true);
                diskless.put(n, all);
            }
            return this;
        }

        Builder protocol(final Protocol p)
        {
            this.protocol = p;
            return this;
        }

        Builder readBalancing(final ReadBalancing r)
        {
            this.readBalancing = r;
            return this;
        }

        Builder asyncMaxUnacked(final long bytes)
        {
            this.asyncMaxUnacked = bytes;
            return this;
        }

        /** A disk node in every configuration that the cluster does not start (a test plays it). */
        Builder externalNode(final String name)
        {
            diskNodes(name);
            external.add(name);
            return this;
        }

        Builder secret(final String node, final String secret)
        {
            secrets.put(node, secret);
            return this;
        }

        /** The split-brain policies with no Primary and with one Primary. */
        Builder afterSplitBrain(final SplitBrainPolicy zeroPrimaries, final SplitBrainPolicy onePrimary)
        {
            this.afterSb0Pri = zeroPrimaries;
            this.afterSb1Pri = onePrimary;
            return this;
        }

        /** Quorum (0 off, -1 majority, N votes) and what a Primary without it does with I/O. */
        Builder quorum(final int votes, final boolean suspendIo)
        {
            this.quorum = votes;
            this.quorumSuspendIo = suspendIo;
            return this;
        }

        /** Checksum-based resync: digests first, data only where they differ. */
        Builder resyncChecksums(final boolean on)
        {
            this.resyncChecksums = on;
            return this;
        }

        /** How long a silent peer is waited for before its link goes down. */
        Builder peerTimeoutMs(final long millis)
        {
            this.peerTimeoutMs = millis;
            return this;
        }

        /** Whether writes to a SyncTarget only mark bits until the final pass (default) or are replicated. */
        Builder resyncWithoutReplication(final boolean without)
        {
            this.resyncWithoutReplication = without;
            return this;
        }

        /** Extents in each volume's activity log. */
        Builder alExtents(final int extents)
        {
            this.alExtents = extents;
            return this;
        }

        /** A node's bitmap block size (default 4 KiB). */
        Builder bitmapBlockSize(final String node, final int bytes)
        {
            this.bitmapBlockSizes.put(node, bytes);
            return this;
        }

        Builder resyncRateMax(final long bytesPerSecond)
        {
            this.resyncRateMax = bytesPerSecond;
            return this;
        }

        Builder diskThreads(final int threads)
        {
            this.diskThreads = threads;
            return this;
        }

        Builder proxies(final boolean on)
        {
            this.proxies = on;
            return this;
        }

        EngineCluster build() throws IOException
        {
            names.sort(String::compareTo);
            return new EngineCluster(this);
        }
    }
}
