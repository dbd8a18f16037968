package io.mirra.node;

import io.mirra.engine.replication.Protocol;
import io.mirra.engine.replication.ReadBalancing;
import io.mirra.engine.replication.ReplicatedResource;
import io.mirra.engine.replication.ReplicationException;
import io.mirra.engine.replication.ResourceSpec;
import io.mirra.engine.replication.ResourceStatus;
import io.mirra.engine.replication.StateEvent;
import io.mirra.engine.storage.BlockStore;
import io.mirra.engine.storage.DiskIoWorkers;
import io.mirra.engine.storage.FileBlockStore;
import io.mirra.engine.storage.StorageException;
import io.mirra.nbd.server.NbdServer;
import io.mirra.nbd.server.NbdServerContext;
import io.mirra.nbd.spi.ExportRegistry;
import io.mirra.nbd.spi.NbdExport;
import io.mirra.node.admin.AdminException;
import io.mirra.node.admin.AdminOps;
import io.mirra.node.admin.AdminServer;
import io.mirra.node.config.ConfigException;
import io.mirra.node.config.ConfigLoader;
import io.mirra.node.config.NodeConfig;
import io.mirra.node.config.ResourceConfig;
import io.mirra.node.config.VolumeConfig;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * A running node ({@code mirra node}): the resources of a configuration directory that name this node, each with its
 * disks, replication links and NBD exports ({@code R/N}, and {@code R} for volume 0), one NBD server for all of
 * them and the admin endpoint.
 */
public final class ReplicationNode implements AdminOps, AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(ReplicationNode.class.getName());
    /** Tests only: disks fail on command ({@link #injectDiskFault}); set by the environment, never by default. */
    static final boolean FAULT_INJECTION = "1".equals(System.getenv("MIRRA_TEST_FAULTS"));
    /** How long an admin role change may take. */
    private static final long ADMIN_TIMEOUT_MS = 15_000;

    private final String nodeName;
    private final Map<String, ResourceConfig> configs = new TreeMap<>();
    private final Map<String, Running> running = new TreeMap<>();
    private final DiskIoWorkers workers;
    /** The node's I/O threads: NBD connections and every resource's peer links share them. */
    private final io.netty.channel.EventLoopGroup ioGroup;
    private final ExportRegistry exports = new ExportRegistry();
    private final List<Consumer<StateEvent>> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private NbdServer nbd;
    private AdminServer admin;
    private NodeConfig self;
    /** Where the configuration was loaded from (adjust reads it again). */
    private Path configDir;

    private ReplicationNode(final String nodeName, final List<ResourceConfig> resources, final int ioThreads)
    {
        this.nodeName = nodeName;
        resources.forEach((r) -> configs.put(r.name(), r));
        final NbdServerContext defaults = new NbdServerContext();
        this.workers = new DiskIoWorkers("mirra-disk", ioThreads,
            defaults.maxConnections() * defaults.maxInFlightRequests() + 65536);
        this.ioGroup = io.mirra.transport.netty.NettyPeerTransport.newIoGroup(defaults.eventLoopThreads(), "mirra-io");
    }

    /**
     * Load the configuration, bring every resource of the node up, and serve NBD and admin requests.
     *
     * @param configDir the configuration directory.
     * @param nodeName  this node.
     * @param ioThreads disk threads.
     * @return the running node.
     * @throws ConfigException      for an invalid configuration (every problem, with file and line).
     * @throws IOException          when a disk, metadata or address cannot be opened.
     * @throws InterruptedException while binding.
     */
    public static ReplicationNode start(final Path configDir, final String nodeName, final int ioThreads)
        throws ConfigException, IOException, InterruptedException
    {
        final List<ResourceConfig> resources = ConfigLoader.forNode(configDir, nodeName);
        final ReplicationNode node = new ReplicationNode(nodeName, resources, ioThreads);
        node.configDir = configDir;
        try
        {
            node.self = resources.get(0).node(nodeName).orElseThrow();
            for (final ResourceConfig r : resources)
            {
                node.bringUp(r);
            }
            final NodeConfig self = node.self;
            node.nbd = new NbdServer(node.exports, new NbdServerContext().host(self.nbd().host())
                .port(self.nbd().port()).eventLoopGroup(node.ioGroup)).start();
            node.admin = AdminServer.start(node, self.admin().host(), self.admin().port());
            LOG.log(Level.INFO, "node {0}: {1} resource(s), NBD on {2}, admin on {3}", nodeName, resources.size(),
                node.nbd.localAddress(), node.admin.address());
            return node;
        }
        catch (final IOException | RuntimeException | InterruptedException ex)
        {
            node.close();
            throw ex;
        }
    }

    private synchronized void bringUp(final ResourceConfig r) throws IOException
    {
        if (running.containsKey(r.name()))
        {
            return;
        }
        final NodeConfig me = r.node(nodeName).orElseThrow();
        final int volumes = r.volumes().size();
        final BlockStore[] stores = new BlockStore[volumes];
        final boolean[] fresh = new boolean[volumes];
        try
        {
            for (final VolumeConfig v : r.volumes())
            {
                final Optional<Path> disk = me.disk(v.number());
                if (disk.isPresent())
                {
                    fresh[v.number()] = !Files.exists(disk.get());
                    if (fresh[v.number()] && disk.get().getParent() != null)
                    {
                        Files.createDirectories(disk.get().getParent());
                    }
                    stores[v.number()] = FileBlockStore.openOrCreate(disk.get(), v.sizeBytes(), false);
                    if (FAULT_INJECTION)
                    {
                        stores[v.number()] = new io.mirra.engine.storage.FaultInjectingStore(stores[v.number()]);
                    }
                    if (stores[v.number()].sizeBytes() < v.sizeBytes())
                    {
                        throw new IOException(disk.get() + ": " + stores[v.number()].sizeBytes() +
                            " bytes, smaller than volume " + v.number() + " of " + r.name() + " (" + v.sizeBytes() +
                            " bytes)");
                    }
                }
            }
            warnAboutSettingsNotEnforced(r);
            final ReplicatedResource resource = new ReplicatedResource(spec(r, me), stores, fresh, workers, ioGroup);
            resource.start();
            final List<AutoCloseable> subscriptions = new ArrayList<>();
            subscriptions.add(resource.subscribe(this::fanOut));
            final List<String> names = new ArrayList<>();
            for (final VolumeConfig v : r.volumes())
            {
                final ReplicatedNbdBackend backend = new ReplicatedNbdBackend(resource, v.number());
                for (final String name : ResourceConfig.exportNames(r.name(), v.number()))
                {
                    exports.add(new NbdExport(name, "volume " + v.number() + " of resource " + r.name(), backend));
                    names.add(name);
                }
            }
            running.put(r.name(), new Running(resource, stores, names, subscriptions));
        }
        catch (final IOException | RuntimeException ex)
        {
            closeStores(stores);
            throw ex;
        }
    }

    /** Settings the configuration accepts but this build does not act on yet: say so rather than pretend. */
    private static void warnAboutSettingsNotEnforced(final ResourceConfig r)
    {
        final List<String> ignored = new ArrayList<>();
        final io.mirra.node.config.ResourceOptions o = r.options();
        final io.mirra.node.config.ResourceOptions d = io.mirra.node.config.ResourceOptions.defaults();
        if (r.connection().compression() != io.mirra.node.config.ConnectionOptions.Compression.NONE)
        {
            ignored.add("connection.compression");
        }
        if (r.connection().tls())
        {
            ignored.add("connection.tls (connections are authenticated, not encrypted)");
        }
        if (!ignored.isEmpty())
        {
            LOG.log(Level.WARNING, "{0}: {1}: accepted but not enforced yet by this version (see docs/roadmap.md): {2}",
                r.file().getFileName(), r.name(), String.join(", ", ignored));
        }
    }

    private void fanOut(final StateEvent event)
    {
        for (final Consumer<StateEvent> listener : listeners)
        {
            listener.accept(event);
        }
    }

    private ResourceSpec spec(final ResourceConfig r, final NodeConfig me)
    {
        final int volumes = r.volumes().size();
        final long[] sizes = new long[volumes];
        for (final VolumeConfig v : r.volumes())
        {
            sizes[v.number()] = v.sizeBytes();
        }
        final List<ResourceSpec.PeerSpec> peers = new ArrayList<>();
        for (final NodeConfig peer : r.peersOf(nodeName))
        {
            peers.add(new ResourceSpec.PeerSpec(peer.name(), peer.nodeId(), peer.address().host(),
                peer.address().port(), disklessFlags(peer, volumes)));
        }
        final byte[] secret = r.connection().secret().map((s) -> s.getBytes(StandardCharsets.UTF_8))
            .orElse(new byte[0]);
        return new ResourceSpec(r.name(), nodeName, me.nodeId(), sizes, disklessFlags(me, volumes), peers,
            Protocol.valueOf(r.connection().protocol().name()), secret, me.stateDir(), me.address().host(),
            me.address().port(), r.options().bitmapBlockSizeBytes(), ReadBalancing.ROUND_ROBIN,
            ResourceSpec.ASYNC_MAX_UNACKED_DEFAULT, r.options().resyncRateMaxBytesPerSec(),
            r.options().alExtents(), policy(r.options().afterSb0Pri()), policy(r.options().afterSb1Pri()),
            r.connection().resyncWithoutReplication(), r.options().resyncRateMinBytesPerSec(),
            r.options().resyncAdaptive(), r.connection().peerTimeoutMs(), r.connection().resyncChecksums(),
            quorumVotes(r.options().quorum()),
            r.options().onNoQuorum() == io.mirra.node.config.ResourceOptions.OnNoQuorum.SUSPEND_IO);
    }

    private static int quorumVotes(final io.mirra.node.config.ResourceOptions.Quorum quorum)
    {
        switch (quorum.kind())
        {
            case OFF:
                return 0;
            case MAJORITY:
                return ResourceSpec.QUORUM_MAJORITY;
            default:
                return quorum.votes();
        }
    }

    private static io.mirra.engine.replication.SplitBrainPolicy policy(
        final io.mirra.node.config.ResourceOptions.AfterSplitBrain configured)
    {
        for (final io.mirra.engine.replication.SplitBrainPolicy p :
            io.mirra.engine.replication.SplitBrainPolicy.values())
        {
            if (p.configName().equals(configured.configName()))
            {
                return p;
            }
        }
        throw new IllegalArgumentException("no split-brain policy " + configured.configName());
    }

    private static boolean[] disklessFlags(final NodeConfig node, final int volumes)
    {
        final boolean[] flags = new boolean[volumes];
        for (int v = 0; v < volumes; v++)
        {
            flags[v] = node.isDiskless(v);
        }
        return flags;
    }

    /** @return the NBD address. */
    public InetSocketAddress nbdAddress()
    {
        return nbd.localAddress();
    }

    /** @return the admin address. */
    public InetSocketAddress adminAddress()
    {
        return admin.address();
    }

    /**
     * @param name a resource.
     * @return the running resource, or null.
     */
    public synchronized ReplicatedResource resource(final String name)
    {
        final Running r = running.get(name);
        return r == null ? null : r.resource;
    }

    // ---- AdminOps -----------------------------------------------------------------------------------------------

    @Override
    public String nodeName()
    {
        return nodeName;
    }

    @Override
    public List<ResourceStatus> status(final Optional<String> resource) throws AdminException
    {
        final List<ResourceStatus> all = new ArrayList<>();
        synchronized (this)
        {
            if (resource.isPresent())
            {
                all.add(require(resource.get()).status());
            }
            else
            {
                running.values().forEach((r) -> all.add(r.resource.status()));
            }
        }
        return all;
    }

    @Override
    public void primary(final String resource, final boolean force) throws AdminException
    {
        awaitRoleChange(require(resource).promote(force), "primary " + resource);
    }

    @Override
    public void secondary(final String resource) throws AdminException
    {
        awaitRoleChange(require(resource).demote(), "secondary " + resource);
    }

    private static void awaitRoleChange(final CompletableFuture<Void> change, final String what) throws AdminException
    {
        try
        {
            change.get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
        catch (final ExecutionException ex)
        {
            final Throwable cause = ex.getCause();
            throw new AdminException(cause instanceof ReplicationException ? cause.getMessage() : cause.toString());
        }
        catch (final TimeoutException ex)
        {
            throw new AdminException(what + " did not finish within " + ADMIN_TIMEOUT_MS + " ms");
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new AdminException(what + " interrupted");
        }
    }

    @Override
    public void up(final String resource) throws AdminException
    {
        final ResourceConfig config = configs.get(resource);
        if (config == null)
        {
            throw new AdminException("unknown resource " + resource + " on " + nodeName + " (resources: " +
                String.join(", ", configs.keySet()) + ")");
        }
        try
        {
            bringUp(config);
        }
        catch (final IOException | RuntimeException ex)
        {
            throw new AdminException("cannot bring " + resource + " up: " + ex.getMessage());
        }
    }

    @Override
    public void down(final String resource) throws AdminException
    {
        if (!configs.containsKey(resource))
        {
            throw new AdminException("unknown resource " + resource + " on " + nodeName);
        }
        final Running r;
        synchronized (this)
        {
            r = running.get(resource);
            if (r == null)
            {
                return;
            }
            if (r.resource.role() == io.mirra.engine.replication.Role.PRIMARY)
            {
                throw new AdminException(nodeName + " is Primary for " + resource + "; make it secondary first");
            }
            running.remove(resource);
            r.exportNames.forEach(exports::remove);
        }
        r.close();
    }

    @Override
    public void connect(final String resource, final Optional<String> peer, final boolean discardMyData)
        throws AdminException
    {
        final ReplicatedResource r = require(resource);
        try
        {
            r.connect(peer.orElse(null), discardMyData);
        }
        catch (final IllegalArgumentException | IllegalStateException ex)
        {
            throw new AdminException(ex.getMessage());
        }
    }

    @Override
    public void disconnect(final String resource, final Optional<String> peer) throws AdminException
    {
        final ReplicatedResource r = require(resource);
        try
        {
            r.disconnect(peer.orElse(null));
        }
        catch (final IllegalArgumentException ex)
        {
            throw new AdminException(ex.getMessage());
        }
    }

    @Override
    public void verify(final String resource, final java.util.OptionalInt volume) throws AdminException
    {
        final ReplicatedResource r = require(resource);
        try
        {
            r.verify(null, volume.orElse(-1)); // runs on; the engine logs the result
        }
        catch (final IllegalArgumentException | IllegalStateException ex)
        {
            throw new AdminException(ex.getMessage());
        }
    }

    @Override
    public void newCurrentUuid(final String resource, final boolean clearBitmap) throws AdminException
    {
        final ReplicatedResource r = require(resource);
        if (!clearBitmap)
        {
            throw new AdminException("new-current-uuid without --clear-bitmap is not offered: a node starts new " +
                "generations by itself when it must; --clear-bitmap declares new copies identical");
        }
        try
        {
            r.newCurrentGenerationClearBitmap();
        }
        catch (final IllegalStateException ex)
        {
            throw new AdminException(ex.getMessage());
        }
    }

    @Override
    public void pauseSync(final String resource, final Optional<String> peer, final boolean pause)
        throws AdminException
    {
        final ReplicatedResource r = require(resource);
        try
        {
            if (pause)
            {
                r.pauseSync(peer.orElse(null));
            }
            else
            {
                r.resumeSync(peer.orElse(null));
            }
        }
        catch (final IllegalArgumentException | IllegalStateException ex)
        {
            throw new AdminException(ex.getMessage());
        }
    }

    @Override
    public void attachDisk(final String resource, final java.util.OptionalInt volume, final boolean attach)
        throws AdminException
    {
        final ReplicatedResource r = require(resource);
        try
        {
            if (attach)
            {
                r.attach(volume.orElse(-1));
            }
            else
            {
                r.detach(volume.orElse(-1));
            }
        }
        catch (final IllegalArgumentException | IllegalStateException ex)
        {
            throw new AdminException(ex.getMessage());
        }
    }

    @Override
    public void injectDiskFault(final String resource, final int volume, final int errno) throws AdminException
    {
        if (!FAULT_INJECTION)
        {
            throw new AdminException("fault injection is off on node " + nodeName + ": it is for tests only, " +
                "enabled by starting the node with MIRRA_TEST_FAULTS=1");
        }
        require(resource);
        final Running r = running.get(resource);
        if (volume < 0 || volume >= r.stores().length || r.stores()[volume] == null)
        {
            throw new AdminException("node " + nodeName + " has no disk for volume " + volume + " of " + resource);
        }
        ((io.mirra.engine.storage.FaultInjectingStore)r.stores()[volume]).failWith(errno);
        LOG.log(errno == 0 ? Level.WARNING : Level.ERROR, "{0}/{1}: test fault injection: the disk {2}", resource,
            volume, errno == 0 ? "is healthy again" : "fails every request with errno " + errno);
    }

    @Override
    public synchronized String adjust(final Optional<String> resource) throws AdminException
    {
        final List<ResourceConfig> fresh;
        try
        {
            fresh = ConfigLoader.forNode(configDir, nodeName);
        }
        catch (final ConfigException ex)
        {
            throw new AdminException("the configuration in " + configDir + " is invalid, nothing changed: " +
                ex.getMessage().lines().findFirst().orElse(""));
        }
        final List<String> applied = new ArrayList<>();
        final List<String> needRestart = new ArrayList<>();
        for (final ResourceConfig now : fresh)
        {
            if (resource.isPresent() && !resource.get().equals(now.name()))
            {
                continue;
            }
            final ResourceConfig before = configs.get(now.name());
            final Running r = running.get(now.name());
            if (before == null || r == null)
            {
                configs.put(now.name(), now);
                continue; // not running here: the next up uses it
            }
            if (before.options().bitmapBlockSizeBytes() != now.options().bitmapBlockSizeBytes())
            {
                try
                {
                    r.resource.changeBitmapBlockSize(now.options().bitmapBlockSizeBytes());
                }
                catch (final IllegalStateException ex)
                {
                    throw new AdminException(now.name() + ": " + ex.getMessage());
                }
                applied.add(now.name() + ": bitmap-block-size " + now.options().bitmapBlockSizeBytes());
            }
            final List<String> other = new ArrayList<>();
            if (!withBitmapBlockSize(before.options(), now.options().bitmapBlockSizeBytes()).equals(now.options()))
            {
                other.add("options");
            }
            if (!before.connection().equals(now.connection()))
            {
                other.add("connection");
            }
            if (!before.volumes().equals(now.volumes()))
            {
                other.add("volumes");
            }
            if (!before.nodes().equals(now.nodes()))
            {
                other.add("nodes");
            }
            if (other.isEmpty())
            {
                configs.put(now.name(), now);
            }
            else
            {
                needRestart.add(now.name() + " (" + String.join(", ", other) + ")");
            }
        }
        if (resource.isPresent() && !configs.containsKey(resource.get()))
        {
            throw new AdminException("unknown resource " + resource.get() + " on " + nodeName);
        }
        if (!needRestart.isEmpty())
        {
            throw new AdminException((applied.isEmpty() ? "" : "applied " + String.join(", ", applied) + "; ") +
                "changed settings that a running resource cannot take need 'down' and 'up' on this node: " +
                String.join(", ", needRestart));
        }
        return applied.isEmpty() ? "" : "applied " + String.join(", ", applied);
    }

    private static io.mirra.node.config.ResourceOptions withBitmapBlockSize(final io.mirra.node.config.ResourceOptions o,
        final int blockSize)
    {
        return new io.mirra.node.config.ResourceOptions(o.quorum(), o.onNoQuorum(), blockSize, o.afterSb0Pri(),
            o.afterSb1Pri(), o.afterSb2Pri(), o.resyncRateMinBytesPerSec(), o.resyncRateMaxBytesPerSec(),
            o.alExtents(), o.resyncAdaptive());
    }

    @Override
    public void invalidate(final String resource, final java.util.OptionalInt volume) throws AdminException
    {
        final ReplicatedResource r = require(resource);
        try
        {
            r.invalidate(volume.orElse(-1));
        }
        catch (final IllegalArgumentException | IllegalStateException ex)
        {
            throw new AdminException(ex.getMessage());
        }
    }

    @Override
    public AutoCloseable subscribe(final Consumer<StateEvent> listener)
    {
        final List<AutoCloseable> subs = new ArrayList<>();
        synchronized (this)
        {
            // The dump of every resource first, then the end marker, then live changes.
            for (final Running r : running.values())
            {
                try
                {
                    r.resource.subscribe(listener).close();
                }
                catch (final Exception ex)
                {
                    // unsubscribing a fresh subscription does not fail
                }
            }
            listener.accept(new StateEvent("exists", "-", new LinkedHashMap<>()));
            listeners.add(listener);
        }
        return () -> listeners.remove(listener);
    }

    private synchronized ReplicatedResource require(final String resource) throws AdminException
    {
        final Running r = running.get(resource);
        if (r == null)
        {
            throw new AdminException(configs.containsKey(resource) ? "resource " + resource + " is down on " +
                nodeName : "unknown resource " + resource + " on " + nodeName);
        }
        return r.resource;
    }

    @Override
    public void close()
    {
        if (admin != null)
        {
            admin.close();
        }
        if (nbd != null)
        {
            nbd.close();
        }
        final List<Running> all;
        synchronized (this)
        {
            all = new ArrayList<>(running.values());
            running.clear();
        }
        all.forEach(Running::close);
        workers.close();
        ioGroup.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).awaitUninterruptibly(5,
            java.util.concurrent.TimeUnit.SECONDS);
    }

    private static void closeStores(final BlockStore[] stores)
    {
        for (final BlockStore store : stores)
        {
            if (store != null)
            {
                try
                {
                    if (!store.isReadOnly())
                    {
                        store.flush();
                    }
                    store.close();
                }
                catch (final StorageException ex)
                {
                    LOG.log(Level.WARNING, "closing a disk failed: {0}", ex.getMessage());
                }
            }
        }
    }

    /** A resource that is up on this node. */
    private record Running(ReplicatedResource resource, BlockStore[] stores, List<String> exportNames,
        List<AutoCloseable> subscriptions)
    {
        void close()
        {
            for (final AutoCloseable s : subscriptions)
            {
                try
                {
                    s.close();
                }
                catch (final Exception ex)
                {
                    // closing anyway
                }
            }
            resource.close();
            closeStores(stores);
        }
    }
}
