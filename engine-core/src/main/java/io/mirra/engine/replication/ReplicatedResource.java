package io.mirra.engine.replication;

import io.mirra.bitmap.BitmapGeometry;
import io.mirra.bitmap.DirtyBitmap;
import io.mirra.engine.storage.BlockStore;
import io.mirra.engine.storage.DiskIoWorkers;
import io.mirra.engine.storage.StorageException;
import io.mirra.transport.FrameHandler;
import io.mirra.transport.PeerLink;
import io.mirra.transport.StreamKind;
import io.mirra.transport.netty.ByteBufView;
import io.mirra.transport.netty.Frame;
import io.mirra.transport.netty.NettyPeerTransport;
import io.mirra.transport.netty.OutboundFrames;
import io.mirra.transport.netty.PeerHandshakeConfig;
import io.mirra.transport.netty.ReconnectPolicy;
import io.mirra.transport.protocol.RangeOpFlyweight;
import io.mirra.transport.protocol.ReplicationProtocol;
import io.mirra.transport.protocol.ResyncRequestFlyweight;
import io.mirra.transport.protocol.ResyncProgressFlyweight;
import io.mirra.transport.protocol.SplitBrainFlyweight;
import io.mirra.transport.protocol.VerifyReplyFlyweight;
import io.mirra.transport.protocol.StateFlyweight;
import io.mirra.transport.protocol.TwoPcFlyweight;
import io.mirra.transport.protocol.TwoPcReplyFlyweight;
import io.mirra.transport.protocol.WriteAckFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import org.agrona.collections.Long2ObjectHashMap;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static io.mirra.transport.protocol.ReplicationProtocol.ACK_FLAG_DURABLE;
import static io.mirra.transport.protocol.ReplicationProtocol.ACK_FLAG_RECEIVED;

/**
 * One replicated resource on this node: its volumes (local disks or none), its peers and their links, its role, and
 * the write path (SPEC §1-§2). This is the engine; the node gives it NBD requests through the volume methods
 * ({@link #read}, {@link #write}, {@link #flush}, {@link #trim}, {@link #zero}) and admin commands through
 * {@link #promote}, {@link #demote}, {@link #status}.
 * <p>
 * <b>Write path (Primary).</b> A write is admitted under the lock: if it overlaps a write still in flight, it waits
 * for that one to complete (so the local disk and every peer see overlapping writes in one order). When it can go,
 * it gets the next sequence number and the current <em>epoch</em>, and is sent to every peer that replicates the
 * volume while its local part starts on a disk thread. Sending happens under the lock, so the data stream carries
 * operations in sequence order with non-decreasing epochs. The epoch advances at the first dispatch after any
 * operation completed: a write that completed before another was submitted therefore always has a lower epoch than
 * it, and peers start an operation of a new epoch only after every earlier write they received is on their disk
 * (SPEC §2.2, DRBD's barriers). Completion waits, per peer, for what the protocol needs: C the peer's durable
 * acknowledgement, B its receipt, A nothing (unless more than {@link ResourceSpec#asyncMaxUnackedBytes()} is
 * outstanding to it: the bounded send queue). A peer that does not replicate a write (down, outdated, failed) gets its
 * blocks marked out of sync instead.
 * <p>
 * <b>Generations.</b> Each local copy has a generation identifier ({@link VolumeMeta}); a Primary starts a new one
 * whenever a peer with a disk is not receiving its writes (at promotion, or when the peer drops), so on reconnect
 * the older copy is recognised and marked Outdated, and unrelated histories are reported as split brain.
 * <p>
 * <b>Threading.</b> One lock (this object) guards all state; it is held only for bookkeeping and for handing frames
 * to links and tasks to disk threads, never for I/O (metadata updates on role and connection changes excepted).
 * Frame callbacks run on the transport's event loop, disk completions on disk threads; caller callbacks run on
 * either, never under a caller's lock.
 */
public final class ReplicatedResource implements FrameHandler, AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(ReplicatedResource.class.getName());
    private static final ThreadLocal<OutboundFrames> FRAMES = ThreadLocal.withInitial(OutboundFrames::new);
    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;
    /** How long a promotion waits for the peers' answers. */
    static final long PROMOTE_TIMEOUT_MS = 10_000;
    /** How often a promotion that met a concurrent one is tried. */
    static final int PROMOTE_ATTEMPTS = 8;
    private static final int MAX_FRAME_DATA = ReplicationProtocol.MAX_WRITE_DATA_LENGTH;

    private final ResourceSpec spec;
    private final DiskIoWorkers workers;
    private final io.netty.channel.EventLoopGroup ioGroup;
    private final BlockStore[] stores;
    private final boolean[] freshDisks;
    private final VolumeMeta[] metas;
    private final DiskState[] diskStates;
    private final PeerState[] peers;
    private final Map<String, PeerState> peersByName = new LinkedHashMap<>();
    private final List<ArrayList<PrimaryOp>> active = new ArrayList<>();
    private final Long2ObjectHashMap<PrimaryOp> inflight = new Long2ObjectHashMap<>();
    /** Online verify: ranges whose peer digests are awaited, by request id; sessions per peer index and volume. */
    private final Long2ObjectHashMap<PrimaryOp> verifyInflight = new Long2ObjectHashMap<>();
    private final VerifySession[][] verifySessions;
    private long nextVerifyId = 1;
    private final BlockDigest digest = new BlockDigest(); // under the lock
    /** Checksum-based resync: ranges read and waiting for the target's digests, by request id. */
    private final Long2ObjectHashMap<PrimaryOp> checksumInflight = new Long2ObjectHashMap<>();
    /** RESYNC_DATA frames sent and not yet acknowledged, by sequence. */
    private final Long2ObjectHashMap<PrimaryOp> resyncInflight = new Long2ObjectHashMap<>();
    /** SyncTarget side, per volume: the peer this node resyncs from, or null. */
    private PeerState[] syncSource;
    /** Per volume: the node crashed as Primary (its copy may hold unacknowledged writes no peer has). */
    private boolean[] crashedPrimary;
    /** Per volume: ... and its activity log could not say where: only a full resync makes it a copy again. */
    private boolean[] crashFull;
    /** Per volume with a disk and a peer with a disk: the activity log, its waiting writes, a transaction running. */
    private final ActivityLog[] activityLogs;
    private final java.util.ArrayDeque<PrimaryOp>[] alWaiting;
    private final boolean[] alTxRunning;
    /** Per volume with a disk: the persisted out-of-sync bitmaps of the peers. */
    private final BitmapFile[] bitmapFiles;
    /** Activity log transactions and bitmap writes: one thread, created at start when a volume needs it. */
    private java.util.concurrent.ExecutorService metaThread;
    /** I/O held while this Primary has no quorum (on-no-quorum suspend-io), in arrival order. */
    private final java.util.ArrayDeque<Runnable> suspendedIo = new java.util.ArrayDeque<>();
    /** Demotions waiting until every connected peer has processed the Secondary STATE (STATE_FLAG_ACK). */
    private final List<CompletableFuture<Void>> demotions = new ArrayList<>();
    /**
     * The ranges of the last writes received from the Primary (a ring of {@link #RECENT_WRITES} entries): when that
     * Primary is lost, the Secondaries may each hold a different prefix of its last writes, so these ranges are
     * resynced from whichever node becomes Primary next (see {@link #onPrimaryLost}).
     */
    static final int RECENT_WRITES = 32768;
    private final int[] recentVolumes = new int[RECENT_WRITES];
    private final long[] recentOffsets = new long[RECENT_WRITES];
    private final long[] recentLengths = new long[RECENT_WRITES];
    private long recentCount;
    /** Per volume, after the Primary was lost: the blocks its last writes touched here; null when none pending. */
    private DirtyBitmap[] unstable;
    private String lostPrimary;
    /** Bytes per out-of-sync bit now: the configured size, or the one {@link #changeBitmapBlockSize} set. */
    private int bitmapBlockSize;
    /** The resource is closing cleanly: STATE shows our UpToDate copies as Outdated (see close). */
    private boolean leaving;
    /** This Primary lost quorum and has not regained it. */
    private boolean quorumLost;
    /** A simulated kill -9 (tests): nothing more is persisted. */
    private boolean crashed;
    private final RemoteReads remoteReads;
    private final PeerApplier applier;
    private final List<Consumer<StateEvent>> listeners = new CopyOnWriteArrayList<>();
    private final long[] readBytes;
    private final long[] writtenBytes;
    private final ByteBufView view = new ByteBufView(); // transport event loop only
    private final StateFlyweight stateFlyweight = new StateFlyweight(); // transport event loop only
    private final TwoPcReplyFlyweight twoPcReply = new TwoPcReplyFlyweight(); // transport event loop only
    private Map<String, StateEvent> published = new LinkedHashMap<>();
    private NettyPeerTransport transport;
    private InetSocketAddress boundAddress;

    private Role role = Role.SECONDARY;
    private long nextSeq = 1;
    private long epoch = 1;
    private boolean newEpochPending;
    private int upperPending;
    private int lowerPending;
    private int writers;
    private boolean autoPromoted;
    private Promotion promotion;
    private PeerState grantedTo;
    private long grantedTx;
    private boolean closed;

    /**
     * @param spec       the resource as this node runs it.
     * @param stores     per volume the local disk, or null where this node is diskless; not closed by this class.
     * @param freshDisks per volume: true when the node just created the disk empty.
     * @param workers    the disk threads.
     */
    public ReplicatedResource(final ResourceSpec spec, final BlockStore[] stores, final boolean[] freshDisks,
        final DiskIoWorkers workers)
    {
        this(spec, stores, freshDisks, workers, null);
    }

    /**
     * @param spec       the resource as this node runs it.
     * @param stores     per volume the local disk, or null where this node is diskless; not closed by this class.
     * @param freshDisks per volume: true when the node just created the disk empty.
     * @param workers    the disk threads.
     * @param ioGroup    the node's shared I/O event loops for the peer links (see
     *                   {@link NettyPeerTransport#newIoGroup(int, String)}), or null for a thread of the resource's own.
     */
    public ReplicatedResource(final ResourceSpec spec, final BlockStore[] stores, final boolean[] freshDisks,
        final DiskIoWorkers workers, final io.netty.channel.EventLoopGroup ioGroup)
    {
        this.ioGroup = ioGroup;
        if (stores.length != spec.volumeCount() || freshDisks.length != spec.volumeCount())
        {
            throw new IllegalArgumentException("one store and one fresh flag per volume");
        }
        this.spec = spec;
        this.workers = workers;
        this.stores = stores.clone();
        this.freshDisks = freshDisks.clone();
        final int volumes = spec.volumeCount();
        this.metas = new VolumeMeta[volumes];
        this.activityLogs = new ActivityLog[volumes];
        @SuppressWarnings("unchecked")
        final java.util.ArrayDeque<PrimaryOp>[] waiting = new java.util.ArrayDeque[volumes];
        this.alWaiting = waiting;
        this.alTxRunning = new boolean[volumes];
        this.bitmapFiles = new BitmapFile[volumes];
        this.detachedStores = new BlockStore[volumes];
        this.bitmapBlockSize = spec.bitmapBlockSize();
        this.diskStates = new DiskState[volumes];
        this.readBytes = new long[volumes];
        this.writtenBytes = new long[volumes];
        for (int v = 0; v < volumes; v++)
        {
            if ((stores[v] == null) != spec.disklessVolumes()[v])
            {
                throw new IllegalArgumentException("volume " + v + ": a store exactly where the node has a disk");
            }
            if (stores[v] != null && stores[v].sizeBytes() < spec.volumeSizes()[v])
            {
                throw new IllegalArgumentException("volume " + v + ": disk of " + stores[v].sizeBytes() +
                    " bytes is smaller than the volume (" + spec.volumeSizes()[v] + " bytes)");
            }
            diskStates[v] = stores[v] == null ? DiskState.DISKLESS : DiskState.ATTACHING;
            active.add(new ArrayList<>());
        }
        final List<ResourceSpec.PeerSpec> sorted = new ArrayList<>(spec.peers());
        sorted.sort((a, b) -> a.name().compareTo(b.name()));
        this.peers = new PeerState[sorted.size()];
        for (int i = 0; i < peers.length; i++)
        {
            peers[i] = new PeerState(sorted.get(i), i, spec);
            peersByName.put(peers[i].name(), peers[i]);
        }
        this.remoteReads = new RemoteReads(spec, peers);
        this.verifySessions = new VerifySession[peers.length][spec.volumeCount()];
        this.syncSource = new PeerState[spec.volumeCount()];
        this.crashedPrimary = new boolean[spec.volumeCount()];
        this.crashFull = new boolean[spec.volumeCount()];
        for (int v = 0; v < volumes; v++)
        {
            alWaiting[v] = new java.util.ArrayDeque<>();
        }
        this.applier = new PeerApplier(this);
    }

    // ---- lifecycle ----------------------------------------------------------------------------------------------

    /**
     * Read the metadata, listen for peers and start dialing those this node dials.
     *
     * @return the replication address bound.
     * @throws IOException when metadata cannot be read or created.
     */
    public InetSocketAddress start() throws IOException
    {
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            if (stores[v] != null)
            {
                loadVolume(v);
            }
            else
            {
                metas[v] = VolumeMeta.pointer();
            }
        }
        if (peers.length == 0)
        {
            publish();
            return null;
        }
        final Set<String> names = new HashSet<>(peersByName.keySet());
        final byte[] secret = spec.secret().length > 0 ? spec.secret() :
            spec.name().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        final PeerHandshakeConfig handshake = PeerHandshakeConfig.of(spec.nodeName(), spec.name(), names, secret,
            spec.volumeSizes());
        final NettyPeerTransport t = new NettyPeerTransport(handshake, this,
            ReconnectPolicy.defaults(spec.nodeId() * 7919L + spec.name().hashCode())
                .withPeerTimeout(TimeUnit.MILLISECONDS.toNanos(spec.peerTimeoutMs())), ioGroup);
        synchronized (this)
        {
            transport = t;
            for (final PeerState peer : peers)
            {
                peer.link = t.link(peer.name());
            }
        }
        boundAddress = t.listen(spec.listenHost(), spec.listenPort());
        for (final PeerState peer : peers)
        {
            if (NettyPeerTransport.dials(spec.nodeName(), peer.name()))
            {
                t.connect(peer.name(), peer.spec.host(), peer.spec.port());
            }
        }
        publish();
        return boundAddress;
    }

    /**
     * Load a volume's metadata, the peers' bitmaps and the activity log; after a crash, mark the extents of the log
     * out of sync for every peer and persist the bitmaps before any new transaction can drop those extents.
     */
    private void loadVolume(final int v) throws IOException
    {
        final Path dir = spec.metaDir();
        final String base = spec.name() + "-" + v;
        final String[] names = new String[peers.length];
        for (int i = 0; i < peers.length; i++)
        {
            names[i] = peers[i].name();
        }
        final VolumeMeta meta = VolumeMeta.loadOrCreate(dir.resolve(base + ".meta"), freshDisks[v],
            spec.volumeSizes()[v], spec.bitmapBlockSize(), names);
        if (meta.loadNote() != null)
        {
            LOG.log(Level.WARNING, "{0}/{1}: metadata: {2}", spec.name(), v, meta.loadNote());
        }
        final BitmapGeometry geometry = new BitmapGeometry(spec.volumeSizes()[v], spec.bitmapBlockSize());
        final BitmapFile bitmaps = BitmapFile.open(dir.resolve(base + ".bitmap"), geometry, peers.length);
        final BitmapGeometry stored = bitmaps.storedGeometry();
        boolean rewrite = false;
        boolean anyDiskPeer = false;
        for (final PeerState peer : peers)
        {
            if (peer.outOfSync[v] == null)
            {
                continue;
            }
            anyDiskPeer = true;
            long gen = meta.peerBitmapGen(peer.index);
            if (stored == null || (meta.peerFlags(peer.index) & VolumeMeta.PEER_BITMAP_UNTRUSTED) != 0)
            {
                gen = 0; // what the peer lacks is unknown: a resync to it will be full
            }
            else if (stored.equals(geometry))
            {
                bitmaps.read(peer.index, peer.outOfSync[v]);
            }
            else
            {
                // The block size changed: widen or split the bits, never losing one (no full resync needed).
                final DirtyBitmap old = new DirtyBitmap(stored);
                bitmaps.read(peer.index, old);
                final long[] words = new long[geometry.wordCount()];
                old.resize(geometry.blockSize()).copyTo(words, 0);
                peer.outOfSync[v].copyFrom(words, 0);
                rewrite = true;
            }
            peer.bitmapBaseGen[v] = gen;
            peer.sameGen[v] = gen == 0; // a known bitmap generation: the peer was behind when this node stopped
            meta.setPeer(peer.index, gen, 0);
        }
        if (stored != null && !stored.equals(geometry))
        {
            LOG.log(Level.INFO, "{0}/{1}: bitmap block size changed from {2} to {3} bytes; bits converted",
                spec.name(), v, stored.blockSize(), geometry.blockSize());
            bitmaps.recreate(geometry);
        }
        final ActivityLog log = anyDiskPeer ? new ActivityLog(dir.resolve(base + ".al"), spec.activityLogExtents(),
            spec.volumeSizes()[v]) : null;
        synchronized (this)
        {
            metas[v] = meta;
            bitmapFiles[v] = bitmaps;
            activityLogs[v] = log;
            diskStates[v] = meta.diskState();
            crashedPrimary[v] = meta.wasPrimary();
            if (!meta.wasClean() && log != null)
            {
                final long[] extents = log.loadedExtents();
                if (log.loadNote() != null)
                {
                    LOG.log(Level.WARNING, "{0}/{1}: {2}", spec.name(), v, log.loadNote());
                }
                for (final PeerState peer : peers)
                {
                    if (peer.outOfSync[v] == null)
                    {
                        continue;
                    }
                    if (extents == null)
                    {
                        peer.outOfSync[v].setAll();
                        continue;
                    }
                    for (final long extent : extents)
                    {
                        final long offset = extent << ActivityLog.EXTENT_SHIFT;
                        if (offset < spec.volumeSizes()[v])
                        {
                            peer.markOutOfSync(v, offset, Math.min(ActivityLog.EXTENT_SIZE,
                                spec.volumeSizes()[v] - offset));
                        }
                    }
                }
                crashFull[v] = crashedPrimary[v] && extents == null;
                LOG.log(Level.WARNING, "{0}/{1}: this node did not stop cleanly; {2} marked out of sync for every " +
                    "peer", spec.name(), v, extents == null ? "the whole volume" : extents.length +
                    " activity-log extents");
                rewrite = true;
            }
            else if (!meta.wasClean() && crashedPrimary[v])
            {
                crashFull[v] = true; // no peer with a disk, no log: nothing to bound it
            }
            if (rewrite)
            {
                for (final PeerState peer : peers)
                {
                    if (peer.outOfSync[v] != null)
                    {
                        bitmaps.writeAll(peer.index, peer.outOfSync[v]);
                    }
                }
                bitmaps.force();
            }
            meta.bitmapBlockSize(geometry.blockSize());
            meta.setClean(false);
            meta.store();
            if (crashedPrimary[v])
            {
                LOG.log(Level.WARNING, "{0}/{1}: this node crashed as Primary: its copy may hold writes that were " +
                    "never acknowledged; it resyncs {2} from an UpToDate peer", spec.name(), v,
                    crashFull[v] ? "fully" : "the extents of its activity log");
            }
        }
        if (log != null && metaThread == null)
        {
            metaThread = java.util.concurrent.Executors.newSingleThreadExecutor((r) ->
            {
                final Thread t = new Thread(r, "mirra-meta-" + spec.name() + "-" + spec.nodeName());
                t.setDaemon(true);
                return t;
            });
        }
    }

    /** @return the replication address bound by {@link #start()}, or null. */
    public InetSocketAddress replicationAddress()
    {
        return boundAddress;
    }

    /** @return the resource as configured. */
    public ResourceSpec spec()
    {
        return spec;
    }

    /**
     * Close the links (peers see this node go away) and fail what is still in flight. The stores are the caller's.
     */
    @Override
    public void close()
    {
        final NettyPeerTransport t;
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            if (spec.quorum() != 0 && role != Role.PRIMARY && !crashed)
            {
                // Leaving cleanly: the peers learn, before the links close, that our copies are Outdated from now
                // on (they will miss writes), so they do not count this node against their quorum. Our metadata
                // keeps its state: the generations tell on reconnect whether anything was written meanwhile.
                leaving = true;
                broadcastState();
            }
            closed = true;
            t = transport;
            checkQuorum(); // held requests are released and refused
        }
        completeDemotions(); // closed: nothing more to wait for
        if (t != null)
        {
            t.close();
        }
        final java.util.concurrent.ExecutorService meta;
        synchronized (this)
        {
            for (final PeerState peer : peers)
            {
                dropPeerOps(peer, "resource closed");
            }
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                PrimaryOp op;
                while ((op = alWaiting[v].poll()) != null)
                {
                    op.errno = StorageException.EIO;
                    op.message = "resource " + spec.name() + " is down on " + spec.nodeName();
                    maybeComplete(op);
                }
            }
            if (role == Role.PRIMARY && upperPending == 0)
            {
                // A clean stop, nothing in flight: not a crash as Primary.
                persistPrimaryFlag(false);
            }
            meta = metaThread;
        }
        if (meta != null)
        {
            meta.shutdown();
            try
            {
                if (!meta.awaitTermination(30, TimeUnit.SECONDS))
                {
                    LOG.log(Level.WARNING, "{0}: the metadata thread did not finish in 30 s", spec.name());
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this)
        {
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                persistStop(v);
            }
        }
    }

    /**
     * Under the lock, at close: write every peer's bitmap and the metadata with the clean flag (unless writes were
     * still in flight: then the activity log must still bound them at the next start).
     */
    private void persistStop(final int v)
    {
        if (bitmapFiles[v] == null)
        {
            return;
        }
        try
        {
            if (!crashed && upperPending == 0)
            {
                for (final PeerState peer : peers)
                {
                    if (peer.outOfSync[v] != null)
                    {
                        bitmapFiles[v].writeAll(peer.index, peer.outOfSync[v]);
                    }
                }
                bitmapFiles[v].force();
                metas[v].setClean(true);
            }
        }
        catch (final IOException ex)
        {
            LOG.log(Level.ERROR, spec.name() + "/" + v + ": cannot persist the bitmaps at stop; the next start " +
                "counts as after a crash", ex);
        }
        finally
        {
            bitmapFiles[v].close();
            if (activityLogs[v] != null)
            {
                activityLogs[v].close();
            }
        }
    }

    /**
     * Tests: behave from now on as if the process had been killed: nothing more reaches the metadata, the bitmaps
     * or the activity log on disk. Follow with {@link #close()} to release the resources.
     */
    void crashForTests()
    {
        synchronized (this)
        {
            crashed = true;
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                if (metas[v] != null)
                {
                    metas[v].freeze();
                }
                if (bitmapFiles[v] != null)
                {
                    bitmapFiles[v].freeze();
                }
                if (activityLogs[v] != null)
                {
                    activityLogs[v].freeze();
                }
            }
        }
    }

    // ---- volume I/O ---------------------------------------------------------------------------------------------

    /**
     * Read from the volume: from the local disk when it is UpToDate (or Consistent while no peer is connected),
     * otherwise from an UpToDate peer.
     *
     * @param volume   volume number.
     * @param offset   byte offset.
     * @param target   filled with exactly its remaining bytes; must stay valid until completion.
     * @param callback completion.
     * @param context  passed to the callback.
     * @param <T>      context type.
     */
    public <T> void read(final int volume, final long offset, final ByteBuffer target, final IoCallback<T> callback,
        final T context)
    {
        final int length = target.remaining();
        final String refusal;
        synchronized (this)
        {
            // The link may be down before its onLinkDown has run: decide on what the links say now, so no request
            // issued after a peer was seen gone slips through without quorum.
            checkQuorum();
            if (quorumLost && role == Role.PRIMARY && !closed)
            {
                if (spec.quorumSuspendIo())
                {
                    suspendedIo.add(() -> read(volume, offset, target, callback, context));
                    return;
                }
                refusal = noQuorumMessage();
            }
            else
            {
                refusal = null;
            }
        }
        if (refusal != null)
        {
            callback.onComplete(context, StorageException.EIO, refusal);
            return;
        }
        readLocallyOrRemotely(volume, offset, target, callback, context, length);
    }

    private <T> void readLocallyOrRemotely(final int volume, final long offset, final ByteBuffer target,
        final IoCallback<T> callback, final T context, final int length)
    {
        final String refusal;
        synchronized (this)
        {
            readBytes[volume] += length;
            if (readsLocally(volume))
            {
                lowerPending++;
                final BlockStore store = stores[volume];
                final int position = target.position();
                final boolean offered = workers.offer(() ->
                {
                    int err = 0;
                    String msg = null;
                    try
                    {
                        store.read(target, offset);
                    }
                    catch (final StorageException ex)
                    {
                        err = ex.errno();
                        msg = ex.getMessage();
                    }
                    String retry = null;
                    synchronized (this)
                    {
                        lowerPending--;
                        if (err != 0)
                        {
                            // SPEC §2.7: the disk is given up, the read is served by a peer if one can.
                            LOG.log(Level.ERROR, "{0}/{1}: local read at {2} failed: {3}", spec.name(), volume, offset,
                                msg);
                            detachFailedDisk(volume, msg);
                            target.position(position);
                            retry = remoteReads.read(volume, offset, target, callback, context);
                        }
                    }
                    if (err == 0 || retry != null)
                    {
                        callback.onComplete(context, err, retry == null ? msg : msg + "; " + retry);
                    }
                });
                if (offered)
                {
                    return;
                }
                lowerPending--;
                refusal = "disk queue full";
            }
            else
            {
                refusal = remoteReads.read(volume, offset, target, callback, context);
                if (refusal == null)
                {
                    return;
                }
            }
        }
        callback.onComplete(context, StorageException.EIO, refusal);
    }

    boolean isClosed()
    {
        return closed;
    }

    BlockStore store(final int volume)
    {
        return stores[volume];
    }

    DiskState diskState(final int volume)
    {
        return diskStates[volume];
    }

    DiskIoWorkers workers()
    {
        return workers;
    }

    /** Under the lock. */
    void lowerPendingDelta(final int delta)
    {
        lowerPending += delta;
    }

    /** Under the lock. */
    boolean readsLocally(final int volume)
    {
        return stores[volume] != null &&
            (diskStates[volume] == DiskState.UP_TO_DATE || diskStates[volume] == DiskState.CONSISTENT);
    }

    /**
     * Write to the volume (this node must be Primary).
     *
     * @param volume   volume number.
     * @param offset   byte offset.
     * @param data     the data; not taken over: it must stay valid until completion, and is not released.
     * @param fua      durable on every disk the protocol waits for before completion.
     * @param callback completion.
     * @param context  passed to the callback.
     * @param <T>      context type.
     */
    public <T> void write(final int volume, final long offset, final ByteBuf data, final boolean fua,
        final IoCallback<T> callback, final T context)
    {
        submit(new PrimaryOp(this, PrimaryOp.WRITE, volume, offset, data.readableBytes(),
            fua ? PrimaryOp.FLAG_FUA : 0, data, callback, context, peers.length));
    }

    /**
     * Discard a range on every copy.
     *
     * @param volume   volume number.
     * @param offset   byte offset.
     * @param length   bytes.
     * @param fua      durable before completion.
     * @param callback completion.
     * @param context  passed to the callback.
     * @param <T>      context type.
     */
    public <T> void trim(final int volume, final long offset, final long length, final boolean fua,
        final IoCallback<T> callback, final T context)
    {
        submit(new PrimaryOp(this, PrimaryOp.TRIM, volume, offset, length, fua ? PrimaryOp.FLAG_FUA : 0, null,
            callback, context, peers.length));
    }

    /**
     * Zero a range on every copy.
     *
     * @param volume   volume number.
     * @param offset   byte offset.
     * @param length   bytes.
     * @param noHole   keep the range allocated.
     * @param fua      durable before completion.
     * @param callback completion.
     * @param context  passed to the callback.
     * @param <T>      context type.
     */
    public <T> void zero(final int volume, final long offset, final long length, final boolean noHole,
        final boolean fua, final IoCallback<T> callback, final T context)
    {
        submit(new PrimaryOp(this, PrimaryOp.ZERO, volume, offset, length,
            (fua ? PrimaryOp.FLAG_FUA : 0) | (noHole ? PrimaryOp.FLAG_NO_HOLE : 0), null, callback, context,
            peers.length));
    }

    /**
     * Make every write completed before this call durable on the local disk and on every peer the protocol waits
     * for (SPEC §2.3).
     *
     * @param volume   volume number (a flush covers the whole resource's disks of that volume).
     * @param callback completion.
     * @param context  passed to the callback.
     * @param <T>      context type.
     */
    public <T> void flush(final int volume, final IoCallback<T> callback, final T context)
    {
        submit(new PrimaryOp(this, PrimaryOp.FLUSH, volume, 0, 0, 0, null, callback, context, peers.length));
    }

    private void submit(final PrimaryOp op)
    {
        final String refusal;
        synchronized (this)
        {
            // The link may be down before its onLinkDown has run: decide on what the links say now, so no request
            // issued after a peer was seen gone slips through without quorum.
            checkQuorum();
            if (quorumLost && role == Role.PRIMARY && !closed)
            {
                if (spec.quorumSuspendIo())
                {
                    suspendedIo.add(() -> submit(op)); // resumed in order when quorum returns
                    return;
                }
                op.callback.onComplete(op.context, StorageException.EIO, noQuorumMessage());
                return;
            }
            refusal = writeRefusal();
            if (refusal == null)
            {
                upperPending++;
                if (op.kind == PrimaryOp.WRITE)
                {
                    writtenBytes[op.volume] += op.length;
                }
                // Overlapping writes in flight: this one waits, so every copy applies them in one order.
                if (op.kind != PrimaryOp.FLUSH)
                {
                    for (final PrimaryOp other : active.get(op.volume))
                    {
                        if (op.overlaps(other))
                        {
                            if (other.waiters == null)
                            {
                                other.waiters = new ArrayList<>(2);
                            }
                            other.waiters.add(op);
                            op.blockedBy++;
                        }
                    }
                    active.get(op.volume).add(op);
                }
                if (op.blockedBy == 0)
                {
                    admit(op);
                }
                return;
            }
        }
        op.callback.onComplete(op.context, StorageException.EROFS, refusal);
    }

    /** Under the lock. @return why writes are refused now, or null. */
    private String writeRefusal()
    {
        if (closed)
        {
            return "resource " + spec.name() + " is down on " + spec.nodeName();
        }
        if (role != Role.PRIMARY)
        {
            return spec.nodeName() + " is Secondary for resource " + spec.name();
        }
        return null;
    }

    // ---- activity log -------------------------------------------------------------------------------------------

    /**
     * Under the lock: a write may start once every extent it touches is in the activity log on disk; otherwise it
     * waits for the transaction that adds them (its place among overlapping writes is already taken).
     */
    private void admit(final PrimaryOp op)
    {
        final ActivityLog log = op.kind == PrimaryOp.FLUSH || stores[op.volume] == null ? null :
            activityLogs[op.volume];
        if (log == null || log.tryAcquire(op.offset, op.length))
        {
            op.alHeld = log != null;
            dispatch(op);
            return;
        }
        alWaiting[op.volume].add(op);
        kickActivityLog(op.volume);
    }

    /**
     * Under the lock: start a transaction that adds the extents waiting writes need, unless one runs. Extents it
     * evicts have their bitmap words written first (captured now: no write can touch an extent once it left the
     * set), then the new set is written; the metadata thread does both.
     */
    private void kickActivityLog(final int v)
    {
        final ActivityLog log = activityLogs[v];
        if (alTxRunning[v] || closed || log == null)
        {
            return;
        }
        for (final PrimaryOp op : alWaiting[v])
        {
            if (!log.planAdd(op.offset, op.length))
            {
                break; // every extent is held by writes in flight: wait for one to complete
            }
        }
        if (!log.hasPlan())
        {
            return;
        }
        final long[] set = log.plannedSet();
        final long[] evicted = log.plannedEvictions();
        final List<long[]> words = new ArrayList<>(); // per eviction and peer: slot, first word, words...
        for (final long extent : evicted)
        {
            for (final PeerState peer : peers)
            {
                final DirtyBitmap bits = peer.outOfSync[v];
                if (bits == null)
                {
                    continue;
                }
                final int shift = bits.geometry().blockShift();
                final long fromBit = (extent << ActivityLog.EXTENT_SHIFT) >>> shift;
                final long toBit = Math.min(bits.bitCount(), ((extent + 1) << ActivityLog.EXTENT_SHIFT) >>> shift);
                if (fromBit >= toBit)
                {
                    continue;
                }
                final int fromWord = (int)(fromBit >>> 6);
                final int toWord = (int)((toBit + 63) >>> 6);
                final long[] record = new long[2 + toWord - fromWord];
                record[0] = peer.index;
                record[1] = fromWord;
                for (int w = fromWord; w < toWord; w++)
                {
                    record[2 + w - fromWord] = bits.word(w);
                }
                words.add(record);
            }
        }
        alTxRunning[v] = true;
        final BitmapFile bitmaps = bitmapFiles[v];
        metaThread.execute(() ->
        {
            IOException failure = null;
            try
            {
                if (!words.isEmpty())
                {
                    for (final long[] record : words)
                    {
                        final long[] w = java.util.Arrays.copyOfRange(record, 2, record.length);
                        bitmaps.writeWords((int)record[0], (int)record[1], w, w.length);
                    }
                    bitmaps.force(); // the bits of evicted extents are durable before the log forgets them
                }
                log.writeTransaction(set);
            }
            catch (final IOException | RuntimeException ex)
            {
                failure = ex instanceof IOException io ? io : new IOException(ex);
            }
            onActivityLogWritten(v, failure);
        });
    }

    /** A transaction is on disk (or failed): admit the writes it covers. */
    private void onActivityLogWritten(final int v, final IOException failure)
    {
        synchronized (this)
        {
            alTxRunning[v] = false;
            final ActivityLog log = activityLogs[v];
            if (failure != null)
            {
                log.abandonPlan();
                LOG.log(Level.ERROR, spec.name() + "/" + v + ": cannot write the activity log; failing the writes " +
                    "that wait for it", failure);
                PrimaryOp op;
                while ((op = alWaiting[v].poll()) != null)
                {
                    op.errno = StorageException.EIO;
                    op.message = "activity log write failed: " + failure.getMessage();
                    maybeComplete(op);
                }
                return;
            }
            log.commitPlan();
            final int waiting = alWaiting[v].size();
            for (int i = 0; i < waiting; i++)
            {
                final PrimaryOp op = alWaiting[v].poll();
                if (closed)
                {
                    op.errno = StorageException.EIO;
                    op.message = "resource " + spec.name() + " is down on " + spec.nodeName();
                    maybeComplete(op);
                }
                else if (log.tryAcquire(op.offset, op.length))
                {
                    op.alHeld = true;
                    final String refusal = writeRefusal();
                    if (refusal == null)
                    {
                        dispatch(op);
                    }
                    else
                    {
                        op.errno = StorageException.EROFS;
                        op.message = refusal;
                        maybeComplete(op);
                    }
                }
                else
                {
                    alWaiting[v].add(op);
                }
            }
            if (!alWaiting[v].isEmpty())
            {
                kickActivityLog(v);
            }
        }
    }

    /** Under the lock: sequence, epoch, sends and the local part. */
    private void dispatch(final PrimaryOp op)
    {
        op.dispatched = true;
        if (op.kind != PrimaryOp.FLUSH && missesInSyncPeer(op.volume) &&
            (stores[op.volume] != null || replicatingPeers(op.volume) > 0))
        {
            // A copy that had our data is about to miss a write: start a new generation first (its STATE precedes
            // the write on every data stream), so that copy is told apart when it comes back. Not earlier: a copy
            // that missed nothing stays in sync.
            rotateForAbsentPeers("writing while a peer with a copy is away");
        }
        if (newEpochPending)
        {
            epoch++;
            newEpochPending = false;
        }
        op.epoch = epoch;
        op.frames = op.kind == PrimaryOp.WRITE ? Math.max(1, (int)((op.length + MAX_FRAME_DATA - 1) / MAX_FRAME_DATA))
            : 1;
        op.firstSeq = nextSeq;
        nextSeq += op.frames;
        for (int f = 0; f < op.frames; f++)
        {
            inflight.put(op.firstSeq + f, op);
        }
        int copies = 0;
        for (final PeerState peer : peers)
        {
            if (peer.isDiskless(op.volume))
            {
                continue;
            }
            if (!peer.replicates(op.volume))
            {
                if (op.kind != PrimaryOp.FLUSH)
                {
                    peer.markOutOfSync(op.volume, op.offset, op.length);
                }
                continue;
            }
            final byte wait = waitLevel(peer, op);
            if (op.kind == PrimaryOp.FLUSH && wait == PrimaryOp.WAIT_NONE)
            {
                continue; // SPEC §2.3: only peers the protocol waits for
            }
            if (!sendTo(peer, op, wait))
            {
                peer.markOutOfSync(op.volume, op.offset, op.length);
                continue;
            }
            copies++;
        }
        op.peerCopies = copies;
        final BlockStore store = stores[op.volume];
        if (store != null && readsLocally(op.volume))
        {
            op.store = store;
            op.localPending = true;
            lowerPending++;
            copies++;
            if (!workers.offer(op))
            {
                lowerPending--;
                op.localPending = false;
                op.errno = StorageException.EIO;
                op.message = "disk queue full";
            }
        }
        if (copies == 0 && op.kind != PrimaryOp.FLUSH && op.errno == 0)
        {
            op.errno = StorageException.EIO;
            op.message = "no UpToDate copy of volume " + op.volume + " is reachable from " + spec.nodeName();
        }
        maybeComplete(op);
    }

    /**
     * Under the lock: peers with a copy that had our generation miss writes from now on (or just missed some): their
     * bits count from our current generation, and a new one starts, so on reconnect they are recognised as older and
     * resync exactly their bits.
     */
    private void rotateForAbsentPeers(final String why)
    {
        rotateForAbsentPeers(why, false);
    }

    /** Under the lock: as {@link #rotateForAbsentPeers(String)}; with {@code always}, a new generation regardless. */
    private void rotateForAbsentPeers(final String why, final boolean always)
    {
        boolean any = false;
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            for (final PeerState peer : peers)
            {
                if (!peer.isDiskless(v) && peer.sameGen[v] && !peer.replicates(v))
                {
                    // Its bits count from here: they are exactly what it lacks while it has this generation.
                    setBitmapBase(peer, v, metas[v].currentGen(), 0); // stored with the new generation
                    peer.sameGen[v] = false;
                    any = true;
                }
            }
        }
        if (any || always)
        {
            newGenerations(why);
        }
    }

    /**
     * Under the lock: the generation a peer's bits count from, and whether they can be trusted after a crash;
     * persisted with the next store of the volume's metadata.
     */
    private void setBitmapBase(final PeerState peer, final int v, final long gen, final long flags)
    {
        peer.bitmapBaseGen[v] = gen;
        if (stores[v] != null)
        {
            metas[v].setPeer(peer.index, gen, flags);
        }
    }

    /** Under the lock: persist the volume's metadata now (peer records changed); a failure is logged. */
    private void storeMeta(final int v)
    {
        try
        {
            metas[v].store();
        }
        catch (final IOException ex)
        {
            LOG.log(Level.ERROR, spec.name() + "/" + v + ": cannot persist the metadata", ex);
        }
    }

    /** Under the lock. @return true when a peer whose copy has our generation would not receive a write. */
    private boolean missesInSyncPeer(final int volume)
    {
        for (final PeerState peer : peers)
        {
            if (!peer.isDiskless(volume) && peer.sameGen[volume] && !peer.replicates(volume))
            {
                return true;
            }
        }
        return false;
    }

    private int replicatingPeers(final int volume)
    {
        int n = 0;
        for (final PeerState peer : peers)
        {
            if (peer.replicates(volume))
            {
                n++;
            }
        }
        return n;
    }

    private byte waitLevel(final PeerState peer, final PrimaryOp op)
    {
        switch (spec.protocol())
        {
            case C:
                return PrimaryOp.WAIT_DURABLE;
            case B:
                return PrimaryOp.WAIT_RECEIVED;
            default:
                // Protocol A with a bounded queue: past the bound, this write waits for the peer's disk.
                return peer.unackedBytes > spec.asyncMaxUnackedBytes() || op.kind == PrimaryOp.FLUSH ?
                    (op.kind == PrimaryOp.FLUSH ? PrimaryOp.WAIT_NONE : PrimaryOp.WAIT_DURABLE) :
                    PrimaryOp.WAIT_NONE;
        }
    }

    /** Under the lock. @return false when the link is not up. */
    private boolean sendTo(final PeerState peer, final PrimaryOp op, final byte wait)
    {
        final PeerLink link = peer.link;
        final int ackFlag = wait == PrimaryOp.WAIT_RECEIVED ? ReplicationProtocol.WRITE_FLAG_ACK_RECEIVED : 0;
        switch (op.kind)
        {
            case PrimaryOp.WRITE:
            {
                final ByteBuf data = op.data;
                final int base = data.readerIndex();
                for (int f = 0; f < op.frames; f++)
                {
                    final int pos = f * MAX_FRAME_DATA;
                    final int len = (int)Math.min(MAX_FRAME_DATA, op.length - pos);
                    final int flags = ackFlag | (op.hasFlag(PrimaryOp.FLAG_FUA) ? ReplicationProtocol.WRITE_FLAG_FUA : 0);
                    if (!link.sendWrite(op.volume, op.firstSeq + f, op.offset + pos, op.epoch, flags,
                        data.retainedSlice(base + pos, len)))
                    {
                        if (f == 0)
                        {
                            return false;
                        }
                        // Part went out: account for the part, the rest is marked out of sync with the whole.
                        peer.markOutOfSync(op.volume, op.offset, op.length);
                        break;
                    }
                    account(peer, op, wait, len);
                }
                return true;
            }
            case PrimaryOp.TRIM:
            case PrimaryOp.ZERO:
            case PrimaryOp.FLUSH:
            {
                final int type = op.kind == PrimaryOp.TRIM ? ReplicationProtocol.TRIM :
                    op.kind == PrimaryOp.ZERO ? ReplicationProtocol.WRITE_ZEROES : ReplicationProtocol.FLUSH;
                int flags = op.hasFlag(PrimaryOp.FLAG_FUA) ? ReplicationProtocol.RANGE_FLAG_FUA : 0;
                if (op.hasFlag(PrimaryOp.FLAG_NO_HOLE))
                {
                    flags |= ReplicationProtocol.RANGE_FLAG_NO_HOLE;
                }
                // Range ops have no "received" ack: B waits for the durable one.
                final byte rangeWait = wait == PrimaryOp.WAIT_RECEIVED ? PrimaryOp.WAIT_DURABLE : wait;
                final Frame frame = FRAMES.get().rangeOp(ALLOC, type, op.volume, op.firstSeq, op.offset, op.length,
                    op.epoch, flags);
                if (!link.send(StreamKind.DATA, frame))
                {
                    return false;
                }
                account(peer, op, rangeWait, 0);
                return true;
            }
            default:
                throw new IllegalStateException("kind " + op.kind);
        }
    }

    private void account(final PeerState peer, final PrimaryOp op, final byte wait, final int bytes)
    {
        final int i = peer.index;
        op.waitLevel[i] = wait;
        if (wait != PrimaryOp.WAIT_NONE)
        {
            if (op.acksNeeded[i] == 0)
            {
                op.peersPending++;
            }
            op.acksNeeded[i]++;
        }
        op.durableByPeer[i]++;
        op.durableOutstanding++;
        peer.unackedBytes += bytes;
        peer.unackedRequests++;
        peer.sentBytes[op.volume] += bytes;
    }

    /** A disk thread finished the local part. */
    void onLocalDone(final PrimaryOp op)
    {
        synchronized (this)
        {
            lowerPending--;
            op.localPending = false;
            if (op.kind == PrimaryOp.RESYNC)
            {
                onResyncRead(op);
                return;
            }
            if (op.kind == PrimaryOp.VERIFY)
            {
                onVerifyRead(op);
                return;
            }
            if (op.localErrno() != 0 && op.errno == 0)
            {
                LOG.log(Level.ERROR, "{0}: local {1} failed: {2}", spec.name(), op, op.localMessage());
                detachFailedDisk(op.volume, op.localMessage());
                if (op.peerCopies == 0)
                {
                    // No peer has it either: the client must know.
                    op.errno = op.localErrno();
                    op.message = op.localMessage();
                }
            }
            maybeComplete(op);
        }
    }

    /** Under the lock. */
    private void maybeComplete(final PrimaryOp op)
    {
        if (!op.completed && !op.localPending && op.peersPending == 0)
        {
            op.completed = true;
            upperPending--;
            newEpochPending = true;
            if (op.kind != PrimaryOp.FLUSH)
            {
                active.get(op.volume).remove(op);
            }
            if (op.alHeld)
            {
                op.alHeld = false;
                activityLogs[op.volume].release(op.offset, op.length);
                if (!alWaiting[op.volume].isEmpty())
                {
                    kickActivityLog(op.volume); // an extent may be free to evict now
                }
            }
            op.data = null; // the caller's buffer is only valid until completion
            op.callback.onComplete(op.context, op.errno, op.message);
            releaseWaiters(op);
        }
        maybeRetire(op);
    }

    /** Under the lock: ops that waited for this one may go now. */
    private void releaseWaiters(final PrimaryOp op)
    {
        if (op.waiters == null)
        {
            return;
        }
        final List<PrimaryOp> waiters = op.waiters;
        op.waiters = null;
        for (final PrimaryOp waiter : waiters)
        {
            if (--waiter.blockedBy == 0)
            {
                if (waiter.kind == PrimaryOp.RESYNC)
                {
                    startResyncRead(waiter);
                }
                else if (waiter.kind == PrimaryOp.VERIFY)
                {
                    startVerifyRange(waiter);
                }
                else
                {
                    dispatchOrFail(waiter);
                }
            }
        }
    }

    private void dispatchOrFail(final PrimaryOp op)
    {
        final String refusal = writeRefusal();
        if (refusal == null)
        {
            admit(op);
            return;
        }
        op.errno = StorageException.EROFS;
        op.message = refusal;
        maybeComplete(op);
    }

    private void maybeRetire(final PrimaryOp op)
    {
        if (op.completed && op.durableOutstanding == 0 && op.dispatched)
        {
            for (int f = 0; f < op.frames; f++)
            {
                inflight.remove(op.firstSeq + f);
            }
            op.dispatched = false;
        }
    }

    private void onWriteAck(final PeerState peer, final Frame frame)
    {
        final ByteBuf body = frame.content();
        final int base = body.readerIndex();
        final long seq = body.getLongLE(base + WriteAckFlyweight.WRITE_SEQUENCE_OFFSET);
        final int status = body.getIntLE(base + WriteAckFlyweight.STATUS_OFFSET);
        final int flags = body.getUnsignedShortLE(base + WriteAckFlyweight.FLAGS_OFFSET);
        synchronized (this)
        {
            final PrimaryOp resync = resyncInflight.remove(seq);
            if (resync != null)
            {
                onResyncAck(peer, resync, status);
                return;
            }
            final PrimaryOp op = inflight.get(seq);
            if (op == null || op.durableByPeer[peer.index] == 0)
            {
                LOG.log(Level.WARNING, "{0}: acknowledgement of unknown write {1} from {2}; ignored", spec.name(), seq,
                    peer);
                return;
            }
            final int i = peer.index;
            final boolean durable = (flags & ACK_FLAG_DURABLE) != 0 || status != 0;
            final boolean received = (flags & ACK_FLAG_RECEIVED) != 0;
            if (status != 0)
            {
                LOG.log(Level.WARNING, "{0}: {1} could not apply {2} (errno {3}); marked out of sync", spec.name(),
                    peer, op, status);
                peer.markOutOfSync(op.volume, op.offset, op.length);
                onPeerCopyLost(op, peer, peer.name() + " failed it (errno " + status + ")");
            }
            if (op.acksNeeded[i] > 0 && (status != 0 ||
                op.waitLevel[i] == PrimaryOp.WAIT_DURABLE && durable ||
                op.waitLevel[i] == PrimaryOp.WAIT_RECEIVED && received))
            {
                if (--op.acksNeeded[i] == 0)
                {
                    op.peersPending--;
                }
            }
            if (durable)
            {
                op.durableByPeer[i]--;
                op.durableOutstanding--;
                peer.unackedRequests--;
                if (op.kind == PrimaryOp.WRITE)
                {
                    final long frameBytes = Math.min(MAX_FRAME_DATA, op.length - (seq - op.firstSeq) * MAX_FRAME_DATA);
                    peer.unackedBytes = Math.max(0, peer.unackedBytes - frameBytes);
                }
            }
            maybeComplete(op);
        }
    }

    /**
     * Under the lock: a peer the op was sent to, and whose acknowledgement it waits for, will not confirm it. When no
     * copy is left (no local disk took it, no other peer will confirm it), the op fails: a write is never reported
     * done that no disk is known to hold. It may still be on the peer (only its answer was lost): the client treats
     * the block as unknown, as with any failed write.
     */
    private void onPeerCopyLost(final PrimaryOp op, final PeerState peer, final String why)
    {
        final long bit = 1L << peer.index;
        if (op.kind == PrimaryOp.FLUSH || (op.lostPeers & bit) != 0)
        {
            return;
        }
        op.lostPeers |= bit;
        op.peerCopies--;
        final boolean noLocalCopy = op.store == null || !op.localPending && op.localErrno() != 0;
        if (op.peerCopies <= 0 && noLocalCopy && op.errno == 0)
        {
            op.errno = StorageException.EIO;
            op.message = "no copy of volume " + op.volume + " is known to hold " + op + ": " + why;
            LOG.log(Level.ERROR, "{0}: {1}", spec.name(), op.message);
        }
    }

    /** Under the lock: the peer's link is gone; nothing sent to it will be acknowledged. */
    private void dropPeerOps(final PeerState peer, final String why)
    {
        final int i = peer.index;
        final List<PrimaryOp> touched = new ArrayList<>();
        inflight.forEach((seq, op) ->
        {
            if (op.durableByPeer[i] > 0 && !touched.contains(op))
            {
                touched.add(op);
            }
        });
        boolean missed = false;
        for (final PrimaryOp op : touched)
        {
            if (op.kind != PrimaryOp.FLUSH)
            {
                peer.markOutOfSync(op.volume, op.offset, op.length);
                missed |= !peer.isDiskless(op.volume) && peer.sameGen[op.volume];
            }
            if (op.acksNeeded[i] > 0)
            {
                op.acksNeeded[i] = 0;
                op.peersPending--;
                onPeerCopyLost(op, peer, "the link to " + peer.name() + " went down (" + why + ")");
            }
            op.durableOutstanding -= op.durableByPeer[i];
            op.durableByPeer[i] = 0;
            maybeComplete(op);
        }
        for (int v = 0; v < spec.volumeCount() && role == Role.PRIMARY; v++)
        {
            // Blocks known to differ (an online verify found them): the same generation would hide them too.
            missed |= !peer.isDiskless(v) && peer.sameGen[v] && peer.outOfSync[v] != null &&
                !peer.outOfSync[v].isEmpty();
        }
        if (missed)
        {
            // Writes it may not have received completed without it: the same generation would hide them.
            rotateForAbsentPeers("writes in flight to " + peer.name() + " when its link went down");
        }
        peer.unackedBytes = 0;
        peer.unackedRequests = 0;
        failVerifies(peer, "the link to " + peer.name() + " went down (" + why + ")");
        final List<Long> waitingForDigests = new ArrayList<>();
        checksumInflight.forEach((id, op) ->
        {
            if (op.resyncPeer == peer)
            {
                waitingForDigests.add(id);
            }
        });
        for (final Long id : waitingForDigests)
        {
            onChecksumsArrived(checksumInflight.remove((long)id), null); // not current any more: marks it again
        }
        remoteReads.onPeerDown(peer, why, closed);
        // Resync frames it will not acknowledge: their blocks are out of sync again.
        final List<Long> lost = new ArrayList<>();
        resyncInflight.forEach((seq, op) ->
        {
            if (op.resyncPeer == peer)
            {
                lost.add(seq);
            }
        });
        for (final Long seq : lost)
        {
            final PrimaryOp op = resyncInflight.remove((long)seq);
            op.resyncPeer.outOfSync[op.volume].setRange(op.resyncFromBit, op.resyncToBit);
        }
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            if (syncSource[v] == peer)
            {
                syncSource[v] = null; // our copy stays Inconsistent until a resync completes
            }
        }
        applier.onPeerDown(peer);
    }

    // ---- resync: the SyncSource side ---------------------------------------------------------------------------

    /** Largest range one RESYNC_DATA carries. */
    static final int RESYNC_CHUNK = ReplicationProtocol.MAX_WRITE_DATA_LENGTH;
    /**
     * Resync reads and frames in flight per peer and volume: up to 8 MiB, in up to 256 ranges, so scattered 4 KiB
     * blocks keep the pipeline as full as large ranges do.
     */
    static final int RESYNC_MAX_IN_FLIGHT = 256;
    static final long RESYNC_MAX_IN_FLIGHT_BYTES = 8L << 20;
    private static final IoCallback<Object> NO_CALLBACK = (context, errno, message) ->
    {
    };

    private void onResyncRequest(final PeerState peer, final Frame frame)
    {
        final int v = frame.volume();
        final ByteBuf body = frame.content();
        final long targetGen = body.getLongLE(body.readerIndex() + ResyncRequestFlyweight.TARGET_GEN_OFFSET);
        final long flags = body.getUnsignedIntLE(body.readerIndex() + ResyncRequestFlyweight.FLAGS_OFFSET);
        synchronized (this)
        {
            final String refusal = resyncSourceRefusal(peer, v);
            final DirtyBitmap requested = v < spec.volumeCount() ? peer.requestedOutOfSync[v] : null;
            if (requested != null)
            {
                peer.requestedOutOfSync[v] = null;
                if (refusal == null)
                {
                    peer.outOfSync[v].or(requested);
                }
            }
            if (refusal != null)
            {
                LOG.log(Level.WARNING, "{0}/{1}: not resyncing {2}: {3}", spec.name(), v, peer.name(), refusal);
                if (v < spec.volumeCount() && peer.replication[v] != ReplicationState.ESTABLISHED)
                {
                    peer.replicationReason[v] = "resync refused: " + refusal;
                }
                // When that Primary is gone, our next STATE tells the peer to ask again.
                peer.refusedForPrimary |= otherConnectedPrimary() != null;
                if (v < spec.volumeCount())
                {
                    // A RESYNC_END with generation 0 says "no": the peer looks for another source.
                    peer.link.send(StreamKind.DATA, FRAMES.get().resyncEnd(ALLOC, v, 0, 0));
                }
                return;
            }
            // Our bits say what the peer lacks when they count from the generation it has; with the same generation,
            // the two copies differ only where either side's bits (sent ahead as OUT_OF_SYNC) say so.
            // A peer that replicated from us all along may ask with a generation we left since (it had not yet
            // taken our new one): it has every write of the newer ones, so its bits are still exact.
            final boolean followedUs = peer.replicates(v) && peer.replicatingSince[v] == targetGen && targetGen != 0;
            final boolean full = (flags & ReplicationProtocol.RESYNC_FLAG_FULL) != 0 ||
                peer.bitmapBaseGen[v] != targetGen && targetGen != metas[v].currentGen() && !followedUs;
            if (full)
            {
                // We cannot tell which blocks differ: all of them.
                peer.outOfSync[v].setAll();
            }
            // From now on the bits say exactly what the peer lacks; until the resync ends they are not all on disk
            // (cleared as sent), so a crash meanwhile makes the next resync full.
            setBitmapBase(peer, v, targetGen, VolumeMeta.PEER_BITMAP_UNTRUSTED);
            storeMeta(v);
            peer.replication[v] = ReplicationState.SYNC_SOURCE;
            peer.replicationReason[v] = null;
            peer.sameGen[v] = false;
            peer.resyncActive[v] = true;
            // Without "resync without replication" new writes go to the target from the start; with it, from the
            // final pass on (below), so the resync cannot be outrun by the writes it would otherwise have to chase.
            peer.replicateDuringResync[v] = !spec.resyncWithoutReplication();
            peer.resyncSession[v]++;
            peer.resyncCursor[v] = 0;
            peer.resyncInFlight[v] = 0;
            peer.resyncInFlightBytes[v] = 0;
            peer.resyncSent[v] = 0;
            peer.resyncSkipped[v] = 0;
            peer.resyncLimiter[v] = spec.resyncAdaptive() && spec.resyncRateMaxBytesPerSec() > 0 ?
                new ResyncRateLimiter(new ResyncRateLimiter.Controller(spec.resyncRateMinBytesPerSec(),
                    spec.resyncRateMaxBytesPerSec(), System::nanoTime, () -> writtenBytes[v]), System::nanoTime) :
                new ResyncRateLimiter(spec.resyncRateMaxBytesPerSec(), System::nanoTime);
            peer.resyncStartNs[v] = System.nanoTime();
            LOG.log(Level.INFO, "{0}/{1}: resync to {2} starts: {3} bytes out of sync ({4})", spec.name(), v,
                peer.name(), peer.outOfSync[v].outOfSyncBytes(), full ? "full" : "bitmap");
            sendResyncProgress(peer, v);
            pumpResync(peer, v);
        }
        publish();
    }

    /** The peer's bits against us, ahead of its RESYNC_REQUEST: they join ours for it. */
    private void onOutOfSync(final PeerState peer, final Frame frame)
    {
        final int v = frame.volume();
        final ByteBuf body = frame.content();
        final long offset = body.getLongLE(body.readerIndex() + RangeOpFlyweight.BYTE_OFFSET_OFFSET);
        final long length = body.getLongLE(body.readerIndex() + RangeOpFlyweight.LENGTH_OFFSET);
        synchronized (this)
        {
            if (v >= spec.volumeCount() || peer.outOfSync[v] == null || offset >= spec.volumeSizes()[v])
            {
                LOG.log(Level.WARNING, "{0}/{1}: OUT_OF_SYNC from {2} for a range this node holds no bits for; " +
                    "ignored", spec.name(), v, peer.name());
                return;
            }
            final long len = Math.min(length, spec.volumeSizes()[v] - offset);
            if (peer.role != Role.PRIMARY || role == Role.PRIMARY)
            {
                // Ahead of the peer's RESYNC_REQUEST: they join our bits for it only if we accept it.
                if (peer.requestedOutOfSync[v] == null)
                {
                    peer.requestedOutOfSync[v] = new DirtyBitmap(peer.outOfSync[v].geometry());
                }
                peer.requestedOutOfSync[v].markByteRange(offset, len);
                return;
            }
            peer.markOutOfSync(v, offset, len);
            if (syncSource[v] == null && stores[v] != null && peer.replication[v] == ReplicationState.ESTABLISHED)
            {
                // Our Primary says these blocks may differ here (a lost Primary's last writes): ask it for them.
                peer.replication[v] = ReplicationState.OFF;
                requestResync(peer, v, false, "the Primary's ranges of a lost Primary's last writes");
            }
        }
    }

    /** Under the lock. @return why this node cannot be the peer's SyncSource for the volume, or null. */
    private String resyncSourceRefusal(final PeerState peer, final int v)
    {
        if (closed || v >= spec.volumeCount())
        {
            return "no such volume or resource closed";
        }
        if (peer.outOfSync[v] == null)
        {
            return peer.name() + " is diskless for volume " + v;
        }
        if (stores[v] == null)
        {
            // A Primary without a disk resyncs through an UpToDate peer's copy (see startRemoteResyncRead).
            if (role != Role.PRIMARY)
            {
                return "this node has no disk for volume " + v + " and is not Primary";
            }
            if (metas[v].currentGen() == 0 || remoteReads.pickExcept(v, peer, null) == null)
            {
                return "no UpToDate copy of volume " + v + " is reachable to read the resync data from";
            }
            return null;
        }
        if (diskStates[v] != DiskState.UP_TO_DATE)
        {
            return "local disk is " + diskStates[v].displayName();
        }
        if (role != Role.PRIMARY)
        {
            for (final PeerState other : peers)
            {
                if (other.isUp() && other.role == Role.PRIMARY)
                {
                    // Writes arrive through the Primary: only it knows every block the target still lacks.
                    return other.name() + " is Primary: the resync must come from it";
                }
            }
        }
        return null;
    }

    /** Under the lock: start resync reads while there are dirty blocks and room in flight. */
    private void pumpResync(final PeerState peer, final int v)
    {
        final io.mirra.bitmap.DirtyBitmap bits = peer.outOfSync[v];
        final int shift = bits.geometry().blockShift();
        final long maxBits = Math.max(1, RESYNC_CHUNK >> shift);
        while (peer.resyncActive[v] && !peer.resyncUserPaused && peer.resyncInFlight[v] < RESYNC_MAX_IN_FLIGHT &&
            peer.resyncInFlightBytes[v] < RESYNC_MAX_IN_FLIGHT_BYTES)
        {
            long bit = peer.resyncCursor[v] < bits.bitCount() ? bits.nextSetBit(peer.resyncCursor[v]) : -1;
            if (bit < 0 && peer.resyncCursor[v] > 0)
            {
                if (!peer.replicateDuringResync[v])
                {
                    // The final pass: from here on writes go to the target, so only what is left needs sending.
                    peer.replicateDuringResync[v] = true;
                    LOG.log(Level.INFO, "{0}/{1}: resync to {2}: final pass over {3} bytes written meanwhile; " +
                        "replicating to it again", spec.name(), v, peer.name(), bits.outOfSyncBytes());
                }
                peer.resyncCursor[v] = 0; // blocks written behind the cursor meanwhile
                bit = bits.nextSetBit(0);
            }
            if (bit < 0)
            {
                if (peer.resyncInFlight[v] == 0)
                {
                    finishResync(peer, v);
                }
                return;
            }
            long end = bit + 1;
            while (end < bits.bitCount() && end - bit < maxBits && bits.test(end))
            {
                end++;
            }
            final long waitNs = peer.resyncLimiter[v].tryAcquire(
                Math.min(end << shift, spec.volumeSizes()[v]) - (bit << shift));
            if (waitNs > 0)
            {
                // resync-rate-max: come back when the bucket holds this chunk.
                if (!peer.resyncPumpScheduled[v])
                {
                    peer.resyncPumpScheduled[v] = true;
                    final long session = peer.resyncSession[v];
                    CompletableFuture.delayedExecutor(waitNs, TimeUnit.NANOSECONDS).execute(() ->
                    {
                        synchronized (this)
                        {
                            peer.resyncPumpScheduled[v] = false;
                            if (peer.resyncActive[v] && peer.resyncSession[v] == session)
                            {
                                pumpResync(peer, v);
                            }
                        }
                    });
                }
                return;
            }
            peer.resyncCursor[v] = end;
            // Cleared now; a write to the range from here on marks it again (it waits for this read to be sent).
            bits.clearRange(bit, end);
            final long offset = bit << shift;
            final long length = Math.min(end << shift, spec.volumeSizes()[v]) - offset;
            final PrimaryOp op = new PrimaryOp(this, PrimaryOp.RESYNC, v, offset, length, 0, null, NO_CALLBACK, null,
                peers.length);
            op.resyncPeer = peer;
            op.resyncFromBit = bit;
            op.resyncToBit = end;
            op.resyncSession = peer.resyncSession[v];
            peer.resyncInFlight[v]++;
            peer.resyncInFlightBytes[v] += length;
            if (enterActive(op))
            {
                startResyncRead(op);
            }
        }
    }

    /** Under the lock. */
    private void startResyncRead(final PrimaryOp op)
    {
        if (stores[op.volume] == null)
        {
            startRemoteResyncRead(op);
        }
        else if (!startLocalRead(op))
        {
            onResyncRead(op);
        }
    }

    /**
     * Under the lock: a Primary without a disk of its own resyncs a copy with data it reads from an UpToDate peer.
     * It is the one node that knows which blocks the target missed (its bits) and orders them against new writes
     * (the overlap list), exactly as a Primary with a disk does; only the data comes over the network.
     */
    private void startRemoteResyncRead(final PrimaryOp op)
    {
        final int length = (int)op.length;
        op.readBuf = ALLOC.directBuffer(length, length);
        final IoCallback<PrimaryOp> done = (read, errno, message) ->
        {
            if (errno == 0)
            {
                read.readBuf.writerIndex(length);
            }
            else
            {
                read.errno = errno;
                read.message = message;
            }
            onResyncRead(read);
        };
        final String refusal = remoteReads.read(op.volume, op.offset, op.readBuf.nioBuffer(0, length), done, op,
            op.resyncPeer);
        if (refusal != null)
        {
            op.errno = StorageException.EIO;
            op.message = refusal;
            onResyncRead(op);
        }
    }

    /**
     * Under the lock: read the op's range of the local disk into a new buffer on a disk thread (RESYNC, VERIFY).
     *
     * @return false when the disk threads' queue is full (the op then carries EIO and no read runs).
     */
    private boolean startLocalRead(final PrimaryOp op)
    {
        op.store = stores[op.volume];
        op.readBuf = ALLOC.directBuffer((int)op.length, (int)op.length);
        op.localPending = true;
        lowerPending++;
        if (!workers.offer(op))
        {
            lowerPending--;
            op.localPending = false;
            op.errno = StorageException.EIO;
            op.message = "disk queue full";
            return false;
        }
        return true;
    }

    /**
     * Under the lock: put a range op (RESYNC, VERIFY) in the overlap list of its volume behind the ops it overlaps.
     *
     * @return true when nothing is in its way: it may start now (else it starts when the last one completes).
     */
    private boolean enterActive(final PrimaryOp op)
    {
        for (final PrimaryOp other : active.get(op.volume))
        {
            if (op.overlaps(other))
            {
                if (other.waiters == null)
                {
                    other.waiters = new ArrayList<>(2);
                }
                other.waiters.add(op);
                op.blockedBy++;
            }
        }
        active.get(op.volume).add(op);
        return op.blockedBy == 0;
    }

    /** Under the lock: a resync read is done: send it, unless the resync it belongs to was abandoned. */
    private void onResyncRead(final PrimaryOp op)
    {
        final PeerState peer = op.resyncPeer;
        final int v = op.volume;
        final boolean current = peer.resyncActive[v] && op.resyncSession == peer.resyncSession[v];
        final int err = op.errno != 0 ? op.errno : op.localErrno();
        if (!current || err != 0)
        {
            peer.outOfSync[v].setRange(op.resyncFromBit, op.resyncToBit);
            op.readBuf.release();
            op.readBuf = null;
            if (current)
            {
                LOG.log(Level.ERROR, "{0}/{1}: resync read of {2} failed: {3}; resync to {4} stops", spec.name(), v,
                    op, op.message != null ? op.message : op.localMessage(), peer.name());
                peer.resyncActive[v] = false;
                peer.replication[v] = ReplicationState.OFF;
                peer.replicationReason[v] = "resync stopped: local read error";
            }
        }
        else if (spec.resyncChecksums())
        {
            // Digests first: the range stays in the overlap list (writes to it wait) until the data that differs
            // is sent, so a newer write never reaches the target before older resync data of its blocks.
            final long id = nextVerifyId++;
            checksumInflight.put(id, op);
            op.firstSeq = id;
            peer.link.send(StreamKind.DATA, FRAMES.get().verifyRequest(ALLOC, v, id, op.offset, (int)op.length,
                VerifySession.BLOCK_SIZE));
            return;
        }
        else
        {
            if (newEpochPending)
            {
                epoch++;
                newEpochPending = false;
            }
            final long seq = nextSeq++;
            resyncInflight.put(seq, op);
            final ByteBuf data = op.readBuf;
            op.readBuf = null;
            if (peer.link.send(StreamKind.DATA, FRAMES.get().resyncData(ALLOC, v, seq, op.offset, epoch, data)))
            {
                peer.resyncSent[v] += op.length;
                peer.sentBytes[v] += op.length;
            }
            // (not sent: the link is going down; dropPeerOps marks the range again)
        }
        // Done as an op: writes that waited for it may go, in a later epoch than its data.
        op.completed = true;
        newEpochPending = true;
        active.get(v).remove(op);
        releaseWaiters(op);
        if (current && err != 0)
        {
            publish();
        }
        // Otherwise in flight until acknowledged: the next read starts then, which bounds memory at the target.
    }

    /**
     * Under the lock: the target's digests of a range to resync arrived (null: none, so send it all): send the runs
     * of blocks that differ, then release the range.
     */
    private void onChecksumsArrived(final PrimaryOp op, final long[] remote)
    {
        final PeerState peer = op.resyncPeer;
        final int v = op.volume;
        final boolean current = peer.resyncActive[v] && op.resyncSession == peer.resyncSession[v] && peer.isUp();
        if (current)
        {
            peer.resyncInFlight[v]--;
            peer.resyncInFlightBytes[v] -= op.length;
        }
        if (!current)
        {
            peer.outOfSync[v].setRange(op.resyncFromBit, op.resyncToBit);
        }
        else
        {
            final int blocks = BlockDigest.count(op.length, VerifySession.BLOCK_SIZE);
            final long[] local = new long[blocks];
            digest.digests(op.readBuf.nioBuffer(0, (int)op.length), VerifySession.BLOCK_SIZE, local);
            if (newEpochPending)
            {
                epoch++;
                newEpochPending = false;
            }
            final int shift = peer.outOfSync[v].geometry().blockShift();
            int i = 0;
            while (i < blocks)
            {
                if (remote != null && local[i] == remote[i])
                {
                    i++;
                    continue;
                }
                int j = i + 1;
                while (j < blocks && (remote == null || local[j] != remote[j]))
                {
                    j++;
                }
                final int from = i * VerifySession.BLOCK_SIZE;
                final int length = (int)Math.min((long)j * VerifySession.BLOCK_SIZE, op.length) - from;
                final PrimaryOp part = new PrimaryOp(this, PrimaryOp.RESYNC, v, op.offset + from, length, 0, null,
                    NO_CALLBACK, null, peers.length);
                part.resyncPeer = peer;
                part.resyncSession = op.resyncSession;
                part.resyncFromBit = (op.offset + from) >>> shift;
                part.resyncToBit = ((op.offset + from + length - 1) >>> shift) + 1;
                final long seq = nextSeq++;
                resyncInflight.put(seq, part);
                peer.resyncInFlight[v]++;
                peer.resyncInFlightBytes[v] += length;
                if (peer.link.send(StreamKind.DATA, FRAMES.get().resyncData(ALLOC, v, seq, part.offset, epoch,
                    op.readBuf.retainedSlice(from, length))))
                {
                    peer.resyncSent[v] += length;
                    peer.sentBytes[v] += length;
                }
                i = j;
            }
            peer.resyncSkipped[v] += op.length - sumDiffering(local, remote, op.length);
        }
        op.readBuf.release();
        op.readBuf = null;
        op.completed = true;
        newEpochPending = true;
        active.get(v).remove(op);
        releaseWaiters(op);
        if (current)
        {
            pumpResync(peer, v);
        }
    }

    private static long sumDiffering(final long[] local, final long[] remote, final long length)
    {
        if (remote == null)
        {
            return length;
        }
        long bytes = 0;
        for (int i = 0; i < local.length; i++)
        {
            if (local[i] != remote[i])
            {
                bytes += Math.min((long)(i + 1) * VerifySession.BLOCK_SIZE, length) - (long)i * VerifySession.BLOCK_SIZE;
            }
        }
        return bytes;
    }

    /** Under the lock: the target has a resync range on its disk (or failed it). */
    private void onResyncAck(final PeerState peer, final PrimaryOp op, final int status)
    {
        final int v = op.volume;
        if (op.resyncSession != peer.resyncSession[v] || !peer.resyncActive[v])
        {
            return;
        }
        peer.resyncInFlight[v]--;
        peer.resyncInFlightBytes[v] -= op.length;
        if (System.nanoTime() - peer.resyncProgressSentNs[v] >= RESYNC_PROGRESS_INTERVAL_NS)
        {
            sendResyncProgress(peer, v);
        }
        if (status != 0)
        {
            LOG.log(Level.WARNING, "{0}/{1}: {2} could not write resync range {3} (errno {4}); it stays out of sync",
                spec.name(), v, peer.name(), op, status);
            peer.outOfSync[v].setRange(op.resyncFromBit, op.resyncToBit);
        }
        pumpResync(peer, v);
    }

    /** How often a running resync tells its target where it stands. */
    static final long RESYNC_PROGRESS_INTERVAL_NS = 1_000_000_000L;

    /** Under the lock: tell the target where its resync stands (for its status). */
    private void sendResyncProgress(final PeerState peer, final int v)
    {
        peer.resyncProgressSentNs[v] = System.nanoTime();
        peer.link.send(StreamKind.DATA, FRAMES.get().resyncProgress(ALLOC, v, peer.outOfSync[v].outOfSyncBytes(),
            peer.resyncSent[v]));
    }

    /** The source's RESYNC_PROGRESS: kept for status on this, the target's, side. */
    private void onResyncProgress(final PeerState peer, final Frame frame)
    {
        final int v = frame.volume();
        final ByteBuf body = frame.content();
        final int at = body.readerIndex();
        synchronized (this)
        {
            if (v >= spec.volumeCount() || syncSource[v] != peer)
            {
                return; // a resync that ended or was never ours: nothing to show
            }
            peer.targetOutOfSync[v] = body.getLongLE(at + ResyncProgressFlyweight.OUT_OF_SYNC_OFFSET);
            peer.targetSent[v] = body.getLongLE(at + ResyncProgressFlyweight.SENT_OFFSET);
            if (peer.targetFirstNs[v] == 0)
            {
                peer.targetFirstNs[v] = System.nanoTime();
                peer.targetFirstSent[v] = peer.targetSent[v];
            }
        }
    }

    /** Under the lock: nothing is out of sync and nothing in flight: the peer has our data. */
    private void finishResync(final PeerState peer, final int v)
    {
        peer.resyncActive[v] = false;
        peer.replicateDuringResync[v] = false;
        // From here on writes go to the peer again; they follow RESYNC_END on the data stream.
        peer.replication[v] = ReplicationState.ESTABLISHED;
        peer.sameGen[v] = true;
        peer.replicatingSince[v] = role == Role.PRIMARY ? metas[v].currentGen() : 0;
        setBitmapBase(peer, v, 0, 0);
        storeMeta(v);
        peer.link.send(StreamKind.DATA, FRAMES.get().resyncEnd(ALLOC, v, metas[v].currentGen(),
            peer.resyncSent[v]));
        LOG.log(Level.INFO, "{0}/{1}: resync to {2} done: {3} bytes sent{4}", spec.name(), v, peer.name(),
            peer.resyncSent[v], spec.resyncChecksums() ? ", " + peer.resyncSkipped[v] +
            " bytes found equal by checksum and not sent" : "");
        publish();
    }

    // ---- resync: the SyncTarget side ---------------------------------------------------------------------------

    /** Under the lock: our copy of the volume is older than the peer's (or unknown): ask it for what differs. */
    private void requestResync(final PeerState source, final int v, final boolean full, final String why)
    {
        requestResync(source, v, full, why, metas[v].currentGen());
    }

    /**
     * Under the lock: ask a source for what differs.
     *
     * @param targetGen the generation the source's bits must count from for a bitmap resync: ours, or after a split
     *                  brain the generation both copies last had.
     */
    private void requestResync(final PeerState source, final int v, final boolean full, final String why,
        final long targetGen)
    {
        if (syncSource[v] != null && syncSource[v] != source)
        {
            source.replication[v] = ReplicationState.OFF;
            source.replicationReason[v] = "resync from " + syncSource[v].name() + " in progress";
            return;
        }
        syncSource[v] = source;
        source.targetFirstNs[v] = 0;
        source.targetOutOfSync[v] = 0;
        source.replication[v] = ReplicationState.SYNC_TARGET;
        source.replicationReason[v] = null;
        final boolean wholeVolume = full || crashFull[v] || diskStates[v] == DiskState.INCONSISTENT;
        LOG.log(Level.INFO, "{0}/{1}: resync from {2} ({3}, {4})", spec.name(), v, source.name(),
            wholeVolume ? "full" : "bitmap", why);
        outdateLocal(v); // Inconsistent only once resync data lands
        final DirtyBitmap mine = source.outOfSync[v];
        if (mine != null && unstable != null && unstable[v] != null)
        {
            // The ranges of a lost Primary's last writes, not yet reconciled: this resync covers them, unless it
            // comes from that Primary itself, whose bits already hold whatever of them it sent and we lack.
            if (source.role != Role.PRIMARY || !source.name().equals(lostPrimary))
            {
                mine.or(unstable[v].resize(mine.geometry().blockSize()));
            }
            unstable[v] = null;
        }
        if (!wholeVolume && mine != null && !mine.isEmpty())
        {
            // Where our copy may differ from the source by our own account (after a crash as Primary: the
            // activity log's extents): the source resyncs these too.
            sendOutOfSync(source, v, mine);
        }
        source.link.send(StreamKind.DATA, FRAMES.get().resyncRequest(ALLOC, v, targetGen,
            wholeVolume ? ReplicationProtocol.RESYNC_FLAG_FULL : 0));
    }

    /** Under the lock: the set runs of {@code bits} as OUT_OF_SYNC ranges to the peer. */
    private void sendOutOfSync(final PeerState peer, final int v, final DirtyBitmap bits)
    {
        final int shift = bits.geometry().blockShift();
        final long size = spec.volumeSizes()[v];
        long bit = bits.isEmpty() ? -1 : bits.nextSetBit(0);
        while (bit >= 0)
        {
            final long end = bits.nextClearBit(bit);
            final long offset = bit << shift;
            peer.link.send(StreamKind.DATA, FRAMES.get().outOfSync(ALLOC, v, offset,
                Math.min(end << shift, size) - offset));
            bit = end < bits.bitCount() ? bits.nextSetBit(end) : -1;
        }
    }

    /** @return true while the volume resyncs from this peer (for the applier). */
    boolean isSyncSource(final PeerState peer, final int v)
    {
        return syncSource[v] == peer;
    }

    /** Under the lock: RESYNC_END arrived from the source: writes from it are accepted from here on. */
    void onResyncEndArrived(final PeerState source, final int v)
    {
        source.replication[v] = ReplicationState.ESTABLISHED;
    }

    /** Under the lock: the first resync data is about to land: the copy is a mix until the resync ends. */
    void onResyncDataArrived(final int v)
    {
        if (diskStates[v] != DiskState.INCONSISTENT)
        {
            setLocalDisk(v, DiskState.INCONSISTENT); // persisted before the data is written
        }
    }

    /** Under the lock: the source refused or abandoned the resync (RESYNC_END with generation 0). */
    void onResyncRefused(final PeerState source, final int v)
    {
        if (syncSource[v] != source)
        {
            return;
        }
        syncSource[v] = null;
        source.replication[v] = ReplicationState.OFF;
        source.resyncRefused[v] = true; // until its next STATE: no asking it again and again meanwhile
        source.replicationReason[v] = "resync needed: " + source.name() + " cannot be the source now";
        LOG.log(Level.INFO, "{0}/{1}: {2} does not resync this node now; looking for another source", spec.name(), v,
            source.name());
        retryResync(v);
        publish();
    }

    /** Under the lock: look again, among connected peers, for a source of volume v. */
    private void retryResync(final int v)
    {
        for (final PeerState peer : peers)
        {
            if (syncSource[v] != null)
            {
                return;
            }
            if (peer.isUp() && redecide(peer, v) && (!peer.isDiskless(v) || primaryWithoutDisk(peer, v)) &&
                stores[v] != null && !peer.resyncRefused[v])
            {
                decideReplication(peer, v);
                peer.sameGen[v] = peer.replication[v] == ReplicationState.ESTABLISHED;
            }
        }
    }

    /** Under the lock: another node became Primary: a resync this Secondary runs must come from it instead. */
    private void abandonResyncsAsSecondary(final PeerState newPrimary)
    {
        if (role == Role.PRIMARY)
        {
            return;
        }
        for (final PeerState peer : peers)
        {
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                if (peer.resyncActive[v] && peer != newPrimary)
                {
                    peer.resyncActive[v] = false;
                    peer.replication[v] = ReplicationState.OFF;
                    peer.replicationReason[v] = "resync handed to " + newPrimary.name();
                    peer.link.send(StreamKind.DATA, FRAMES.get().resyncEnd(ALLOC, v, 0, 0));
                }
            }
        }
    }

    /** Under the lock: everything the source sent before RESYNC_END is on our disk: our copy is its data. */
    void onResyncEndApplied(final PeerState source, final int v, final long sourceGen)
    {
        if (syncSource[v] != source)
        {
            return;
        }
        syncSource[v] = null;
        if (source.outOfSync[v] != null)
        {
            source.outOfSync[v].clearAll(); // what we held against the source was part of this resync
            setBitmapBase(source, v, 0, 0);
        }
        try
        {
            metas[v].adopt(sourceGen, source.histories[v]);
            if (crashedPrimary[v])
            {
                crashedPrimary[v] = false;
                crashFull[v] = false;
                metas[v].setPrimary(false);
            }
            metas[v].store();
        }
        catch (final IOException ex)
        {
            LOG.log(Level.ERROR, spec.name() + "/" + v + ": cannot persist the generation after resync", ex);
        }
        source.sameGen[v] = true;
        LOG.log(Level.INFO, "{0}/{1}: resync from {2} done; UpToDate", spec.name(), v, source.name());
        setLocalDisk(v, DiskState.UP_TO_DATE);
        redecideOthers(source, v);
        publish();
    }

    /**
     * Under the lock: our copy changed (a resync ended, a Primary came or went): connections to other peers that
     * neither replicate nor resync are compared again, so none stays Off on a reason that no longer holds.
     */
    private void redecideOthers(final PeerState except, final int v)
    {
        for (final PeerState other : peers)
        {
            if (other != except && other.isUp() && redecide(other, v))
            {
                decideReplication(other, v);
                other.sameGen[v] = other.replication[v] == ReplicationState.ESTABLISHED;
            }
        }
    }

    // ---- links and states ---------------------------------------------------------------------------------------

    @Override
    public void onFrame(final PeerLink link, final Frame frame)
    {
        final PeerState peer = peersByName.get(link.peerName());
        if (peer == null)
        {
            frame.release();
            return;
        }
        switch (frame.type())
        {
            case ReplicationProtocol.WRITE:
            case ReplicationProtocol.TRIM:
            case ReplicationProtocol.WRITE_ZEROES:
            case ReplicationProtocol.FLUSH:
            case ReplicationProtocol.READ_REQUEST:
            case ReplicationProtocol.VERIFY_REQUEST:
            case ReplicationProtocol.RESYNC_DATA:
            case ReplicationProtocol.RESYNC_END:
                applier.onPeerOp(peer, frame);
                return;
            default:
                break;
        }
        try
        {
            switch (frame.type())
            {
                case ReplicationProtocol.WRITE_ACK:
                    onWriteAck(peer, frame);
                    break;
                case ReplicationProtocol.READ_REPLY:
                    synchronized (this)
                    {
                        remoteReads.onReply(peer, frame);
                    }
                    break;
                case ReplicationProtocol.STATE:
                    onState(peer, frame);
                    break;
                case ReplicationProtocol.TWOPC_PREPARE:
                case ReplicationProtocol.TWOPC_COMMIT:
                case ReplicationProtocol.TWOPC_ABORT:
                    onTwoPc(peer, frame);
                    break;
                case ReplicationProtocol.TWOPC_REPLY:
                    onTwoPcReply(peer, frame);
                    break;
                case ReplicationProtocol.RESYNC_REQUEST:
                    onResyncRequest(peer, frame);
                    break;
                case ReplicationProtocol.OUT_OF_SYNC:
                    onOutOfSync(peer, frame);
                    break;
                case ReplicationProtocol.SPLIT_BRAIN:
                    onSplitBrainReport(peer, frame);
                    break;
                case ReplicationProtocol.VERIFY_REPLY:
                    onVerifyReply(peer, frame);
                    break;
                case ReplicationProtocol.RESYNC_PROGRESS:
                    onResyncProgress(peer, frame);
                    break;
                case ReplicationProtocol.PING:
                    link.sendPing(ReplicationProtocol.PING_ACK, 0, 0);
                    break;
                default:
                    break;
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
        final PeerState peer = peersByName.get(link.peerName());
        if (peer == null)
        {
            return;
        }
        synchronized (this)
        {
            peer.resetConnection();
            peer.gateEpoch = 0;
            peer.leftCleanly = false;
            sendState(peer);
            checkQuorum();
        }
        LOG.log(Level.INFO, "{0}: link to {1} is up", spec.name(), peer.name());
        publish();
    }

    @Override
    public void onLinkDown(final PeerLink link, final String reason)
    {
        final PeerState peer = peersByName.get(link.peerName());
        if (peer == null)
        {
            return;
        }
        synchronized (this)
        {
            dropPeerOps(peer, reason);
            final boolean wasPrimary = peer.role == Role.PRIMARY;
            if (wasPrimary)
            {
                onPrimaryLost(peer);
            }
            peer.leftCleanly = leftCleanly(peer);
            peer.resetConnection();
            if (peer.splitBrain && !peer.standAlone)
            {
                // We found split brain on this connection and the peer dropped it first (it had found it too).
                peer.standAlone = true;
                peer.link.setEnabled(false);
            }
            if (grantedTo == peer)
            {
                grantedTo = null;
            }
            if (promotion != null)
            {
                promotion.onPeerGone(peer);
                maybeFinishPromotion();
            }
            checkQuorum();
            if (wasPrimary)
            {
                onPrimaryGone();
            }
        }
        LOG.log(Level.INFO, "{0}: link to {1} is down: {2}", spec.name(), peer.name(), reason);
        publish();
        completeDemotions(); // a peer gone cannot answer; it learns our role when it connects again
    }

    /**
     * Under the lock: a Secondary we are connected to took a newer generation from a Primary we do not hear (a cut
     * link, or it is gone): our copy missed those writes. Never offer it as current again (no promotion from it), and
     * resync from that peer when it can be a source (no Primary in the way). While we hear a Primary, its own STATE
     * tells us about its generations (the Secondary's may just arrive first).
     */
    private void outdateIfSecondaryIsNewer(final PeerState peer, final int v)
    {
        if (peer.role != Role.PRIMARY && role != Role.PRIMARY && stores[v] != null && !peer.isDiskless(v) &&
            peer.isUp() && peer.diskStates[v] == DiskState.UP_TO_DATE &&
            (diskStates[v] == DiskState.UP_TO_DATE || diskStates[v] == DiskState.OUTDATED) &&
            syncSource[v] == null && otherConnectedPrimary() == null && peer.currentGens[v] != metas[v].currentGen() &&
            contains(peer.histories[v], metas[v].currentGen()))
        {
            LOG.log(Level.WARNING, "{0}/{1}: {2} has newer data (generation {3}) than this copy: Outdated",
                spec.name(), v, peer.name(), VolumeMeta.hex(peer.currentGens[v]));
            peer.replication[v] = ReplicationState.OFF;
            peer.sameGen[v] = false;
            outdateLocal(v);
            decideReplication(peer, v);
        }
    }

    /**
     * Under the lock: a connected Primary demoted or went away. Peers we refused to resync because of it may ask
     * again (our STATE says so); our own copy may resync from a Secondary now; connections left Off while it was
     * Primary are compared again.
     */
    private void onPrimaryGone()
    {
        if (otherConnectedPrimary() != null)
        {
            return;
        }
        for (final PeerState other : peers)
        {
            if (other.refusedForPrimary && other.isUp())
            {
                other.refusedForPrimary = false;
                sendState(other);
            }
        }
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            for (final PeerState other : peers)
            {
                outdateIfSecondaryIsNewer(other, v);
            }
            if (stores[v] != null && syncSource[v] == null)
            {
                redecideOthers(null, v);
            }
        }
    }

    /** Under the lock: start a new generation on every local UpToDate copy and tell the connected peers. */
    private void newGenerations(final String why)
    {
        boolean changed = false;
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            // Without a disk, only while a copy that has our data takes the new generation with us: a generation
            // no disk holds would make every copy look older than the data this node claims to use.
            final boolean current = stores[v] != null ? diskStates[v] == DiskState.UP_TO_DATE :
                metas[v].currentGen() != 0 && replicatingPeers(v) > 0;
            if (current)
            {
                try
                {
                    final long gen = metas[v].newGeneration();
                    LOG.log(Level.INFO, "{0}/{1}: new generation {2} ({3})", spec.name(), v, VolumeMeta.hex(gen),
                        why);
                    changed = true;
                }
                catch (final IOException ex)
                {
                    LOG.log(Level.ERROR, spec.name() + "/" + v + ": cannot persist a new generation", ex);
                }
            }
        }
        if (changed)
        {
            broadcastState();
        }
    }

    private void broadcastState()
    {
        for (final PeerState peer : peers)
        {
            if (peer.link != null && peer.link.state() == PeerLink.State.UP)
            {
                sendState(peer);
            }
        }
    }

    /** Under the lock. */
    private void sendState(final PeerState peer)
    {
        sendState(peer, 0);
    }

    /** Under the lock: our STATE, with extra flags (STATE_FLAG_ACK_REQUESTED, STATE_FLAG_ACK). */
    private void sendState(final PeerState peer, final int extraFlags)
    {
        final int volumes = spec.volumeCount();
        final byte[] disks = new byte[volumes];
        final long[] gens = new long[volumes];
        final long[][] histories = new long[volumes][];
        for (int v = 0; v < volumes; v++)
        {
            disks[v] = (byte)(leaving && diskStates[v] == DiskState.UP_TO_DATE ? DiskState.OUTDATED :
                diskStates[v]).ordinal();
            gens[v] = metas[v].currentGen();
            histories[v] = metas[v].historyCopy();
        }
        final int wireRole = role == Role.PRIMARY ? ReplicationProtocol.STATE_ROLE_PRIMARY :
            ReplicationProtocol.STATE_ROLE_SECONDARY;
        final int flags = (peer.stateKnown ? ReplicationProtocol.STATE_FLAG_SEEN : 0) |
            (peer.sendClearBitmap ? ReplicationProtocol.STATE_FLAG_CLEAR_BITMAP : 0) | extraFlags;
        peer.sendClearBitmap = false;
        peer.sentSeen |= peer.stateKnown;
        peer.link.send(StreamKind.DATA, FRAMES.get().state(ALLOC, wireRole, flags, spec.nodeId(), volumes, disks,
            gens, histories));
    }

    private void onState(final PeerState peer, final Frame frame)
    {
        final ByteBuf body = frame.content();
        final StateFlyweight state = stateFlyweight.wrap(view.wrapForRead(body, body.readerIndex(),
            frame.bodyLength()), 0);
        if (state.volumeCount() != spec.volumeCount())
        {
            LOG.log(Level.ERROR, "{0}: {1} sent a state for {2} volumes, the resource has {3}; ignored", spec.name(),
                peer, state.volumeCount(), spec.volumeCount());
            return;
        }
        synchronized (this)
        {
            final Role oldRole = peer.role;
            peer.role = state.role() == ReplicationProtocol.STATE_ROLE_PRIMARY ? Role.PRIMARY : Role.SECONDARY;
            final boolean first = !peer.stateKnown;
            peer.stateKnown = true;
            if (first)
            {
                checkQuorum(); // the peer counts from its first STATE on
            }
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                final DiskState peerDisk = DiskState.ofCode(state.diskState(v));
                final long[] history = new long[state.historyCount(v)];
                for (int s = 0; s < history.length; s++)
                {
                    history[s] = state.history(v, s);
                }
                final long oldGen = peer.currentGens[v];
                final DiskState oldDisk = peer.diskStates[v];
                peer.resyncRefused[v] = false; // a new STATE: it may be a source now
                peer.diskStates[v] = peerDisk == null ? DiskState.D_UNKNOWN : peerDisk;
                peer.currentGens[v] = state.currentGen(v);
                peer.histories[v] = history;
                if (!first && oldDisk != DiskState.UP_TO_DATE && peer.diskStates[v] == DiskState.UP_TO_DATE &&
                    role != Role.PRIMARY && peer.outOfSync[v] != null && stores[v] != null &&
                    diskStates[v] == DiskState.UP_TO_DATE && peer.currentGens[v] == metas[v].currentGen() &&
                    !peer.resyncActive[v])
                {
                    // The peer finished a resync from a copy with our generation (so our data): bits we held against
                    // it, from an earlier term as Primary, are settled. (A Primary's bits are the reference: kept.)
                    peer.outOfSync[v].clearAll();
                    setBitmapBase(peer, v, 0, 0);
                }
                if ((state.flags() & ReplicationProtocol.STATE_FLAG_CLEAR_BITMAP) != 0 && takeDeclaredIdentical(peer, v))
                {
                    decideReplication(peer, v);
                    peer.sameGen[v] = peer.replication[v] == ReplicationState.ESTABLISHED;
                    continue;
                }
                if (first || redecide(peer, v))
                {
                    decideReplication(peer, v);
                    peer.sameGen[v] = peer.replication[v] == ReplicationState.ESTABLISHED;
                }
                else if (peer.role == Role.PRIMARY && role != Role.PRIMARY && oldGen != peer.currentGens[v])
                {
                    followGeneration(peer, v);
                }
                else if (oldGen != peer.currentGens[v])
                {
                    outdateIfSecondaryIsNewer(peer, v);
                }
                if (role == Role.PRIMARY && !peer.isDiskless(v) && (peer.diskStates[v] == DiskState.DISKLESS ||
                    peer.diskStates[v] == DiskState.FAILED) && peer.replication[v] != ReplicationState.OFF)
                {
                    // The peer detached its disk (a failure, or the operator): nothing to replicate to; its blocks
                    // are marked from here on, and a disk it attaches again is resynced in full.
                    peer.replication[v] = ReplicationState.OFF;
                    peer.replicationReason[v] = "peer disk is " + peer.diskStates[v].displayName();
                    peer.sameGen[v] = false;
                }
            }
            if (oldRole != peer.role)
            {
                LOG.log(Level.INFO, "{0}: {1} is {2}", spec.name(), peer.name(), peer.role.displayName());
                if (oldRole == Role.PRIMARY)
                {
                    onPrimaryGone();
                }
                if (peer.role == Role.PRIMARY)
                {
                    abandonResyncsAsSecondary(peer);
                    if (role != Role.PRIMARY)
                    {
                        reconcileAfterLostPrimary(peer);
                    }
                }
            }
            if ((state.flags() & ReplicationProtocol.STATE_FLAG_SEEN) != 0)
            {
                peer.peerSawOurs = true;
            }
            if ((state.flags() & ReplicationProtocol.STATE_FLAG_ACK_REQUESTED) != 0)
            {
                sendState(peer, ReplicationProtocol.STATE_FLAG_ACK); // processed: its demotion may complete
            }
            else if (!peer.sentSeen)
            {
                sendState(peer); // tells the peer we have its state: it can act on the comparison
            }
            if ((state.flags() & ReplicationProtocol.STATE_FLAG_ACK) != 0 && peer.stateAcksPending > 0)
            {
                peer.stateAcksPending--;
            }
        }
        publish();
        completeDemotions();
    }

    /**
     * Under the lock: a later STATE may change what the two copies are to each other (the peer finished a resync,
     * became Primary, ...): look again at volumes that neither replicate nor resync.
     */
    private boolean redecide(final PeerState peer, final int v)
    {
        return peer.replication[v] == ReplicationState.OFF && !peer.splitBrain && syncSource[v] == null &&
            !peer.resyncActive[v];
    }

    /** Under the lock: the Primary started a new generation while we receive its writes: ours follows. */
    private void followGeneration(final PeerState primary, final int v)
    {
        if (primary.replication[v] != ReplicationState.ESTABLISHED ||
            stores[v] != null && diskStates[v] != DiskState.UP_TO_DATE)
        {
            return;
        }
        try
        {
            metas[v].adopt(primary.currentGens[v], primary.histories[v]);
        }
        catch (final IOException ex)
        {
            LOG.log(Level.ERROR, spec.name() + "/" + v + ": cannot persist the Primary's generation", ex);
        }
        // Diskless peers pick their read sources by generation: tell them ours moved on.
        broadcastState();
    }

    /** Under the lock: on connect, compare the two copies of volume v (DRBD's UUID comparison, simplified). */
    private void decideReplication(final PeerState peer, final int v)
    {
        peer.replicationReason[v] = null; // each outcome below that is not Established says why
        final boolean mineDiskless = stores[v] == null;
        final boolean peerDiskless = peer.isDiskless(v) || peer.diskStates[v] == DiskState.DISKLESS;
        if (mineDiskless && peerDiskless)
        {
            peer.replication[v] = ReplicationState.ESTABLISHED; // no data flows between them
            return;
        }
        if (mineDiskless)
        {
            decideAsDiskless(peer, v);
            return;
        }
        if (peerDiskless)
        {
            decideWithDisklessPeer(peer, v);
            return;
        }
        final VolumeMeta mine = metas[v];
        final DiskState my = diskStates[v];
        final DiskState theirs = peer.diskStates[v];
        final long peerGen = peer.currentGens[v];
        if (mine.currentGen() == peerGen && my == DiskState.UP_TO_DATE && theirs == DiskState.UP_TO_DATE &&
            !crashedPrimary[v])
        {
            peer.replication[v] = ReplicationState.ESTABLISHED;
            peer.replicatingSince[v] = role == Role.PRIMARY ? peerGen : 0;
            peer.outOfSync[v].clearAll();
            if (peer.bitmapBaseGen[v] != 0 || metas[v].peerFlags(peer.index) != 0)
            {
                setBitmapBase(peer, v, 0, 0);
                storeMeta(v);
            }
            return;
        }
        peer.replication[v] = ReplicationState.OFF;
        final boolean peerIsSource = theirs == DiskState.UP_TO_DATE && role != Role.PRIMARY &&
            (peer.role == Role.PRIMARY || otherConnectedPrimary() == null);
        if (mine.currentGen() == peerGen && my == DiskState.OUTDATED && theirs == DiskState.UP_TO_DATE &&
            !crashedPrimary[v] && syncSource[v] == null)
        {
            // We left cleanly (Outdated) and nothing was written since (same generation): the same data.
            LOG.log(Level.INFO, "{0}/{1}: {2} has the generation this Outdated copy has: UpToDate again, no resync",
                spec.name(), v, peer.name());
            setLocalDisk(v, DiskState.UP_TO_DATE);
            peer.replication[v] = ReplicationState.ESTABLISHED;
            peer.outOfSync[v].clearAll();
            return;
        }
        if (mine.currentGen() == peerGen)
        {
            if (my != DiskState.UP_TO_DATE && peerIsSource)
            {
                requestResync(peer, v, true, "local disk is " + my.displayName());
                return;
            }
            if (crashedPrimary[v] && my == DiskState.UP_TO_DATE && theirs == DiskState.UP_TO_DATE)
            {
                // Same generation, but we crashed as Primary: our copy may hold writes the peer never got.
                if (peerIsSource)
                {
                    requestResync(peer, v, crashFull[v], "this node crashed as Primary");
                    return;
                }
            }
            peer.replicationReason[v] = "resync needed: " + (my == DiskState.UP_TO_DATE ? "peer" : "local") +
                " disk is " + (my == DiskState.UP_TO_DATE ? theirs : my).displayName();
            return;
        }
        if (contains(peer.histories[v], mine.currentGen()))
        {
            if (peerIsSource)
            {
                requestResync(peer, v, false, peer.name() + " has newer data");
                return;
            }
            peer.replicationReason[v] = "resync needed: " + peer.name() + " has newer data";
            outdateLocal(v);
            return;
        }
        if (mine.inHistory(peerGen))
        {
            peer.replicationReason[v] = "resync needed: " + peer.name() + " has older data";
            return;
        }
        if (my == DiskState.INCONSISTENT || theirs == DiskState.INCONSISTENT)
        {
            if (my == DiskState.INCONSISTENT && peerIsSource)
            {
                requestResync(peer, v, true, "initial sync");
                return;
            }
            peer.replicationReason[v] = "initial sync needed";
            return;
        }
        peer.replicationReason[v] = "SplitBrain";
        peer.splitBrain = true;
        peer.sbDetected[v] = true;
        LOG.log(Level.WARNING, "{0}/{1}: split brain with {2}: generations {3} and {4} are unrelated; applying the " +
            "after-split-brain policy", spec.name(), v, peer.name(), VolumeMeta.hex(mine.currentGen()),
            VolumeMeta.hex(peerGen));
        if (!peer.sbSent[v])
        {
            peer.sbSent[v] = true;
            final long changes = peer.bitmapBaseGen[v] == 0 ? ReplicationProtocol.SPLIT_BRAIN_CHANGES_UNKNOWN :
                peer.outOfSync[v].outOfSyncBytes();
            final int flags = (peer.discardMyData ? ReplicationProtocol.SPLIT_BRAIN_FLAG_DISCARD_MY_DATA : 0) |
                (role == Role.PRIMARY ? ReplicationProtocol.SPLIT_BRAIN_FLAG_PRIMARY : 0);
            peer.link.send(StreamKind.DATA, FRAMES.get().splitBrain(ALLOC, v, changes, metas[v].primarySince(),
                flags));
        }
        resolveSplitBrain(peer);
    }

    /** The peer's side of a split brain it found on a volume. */
    private void onSplitBrainReport(final PeerState peer, final Frame frame)
    {
        final int v = frame.volume();
        final ByteBuf body = frame.content();
        final int at = body.readerIndex();
        synchronized (this)
        {
            if (v >= spec.volumeCount())
            {
                return;
            }
            peer.sbChanges[v] = body.getLongLE(at + SplitBrainFlyweight.CHANGED_BYTES_OFFSET);
            peer.sbPrimarySince[v] = body.getLongLE(at + SplitBrainFlyweight.PRIMARY_SINCE_OFFSET);
            peer.sbFlags[v] = body.getIntLE(at + SplitBrainFlyweight.FLAGS_OFFSET);
            peer.sbReceived[v] = true;
            resolveSplitBrain(peer);
        }
        publish();
    }

    /**
     * Under the lock: once both reports of every split volume are known, apply the policy. Both sides compute the same
     * verdict from the same facts (the two sides are named by node id, not by "me" and "peer"): one side becomes a
     * copy of the other, or both stay StandAlone.
     */
    private void resolveSplitBrain(final PeerState peer)
    {
        long myChanges = 0;
        long peerChanges = 0;
        long mySince = 0;
        long peerSince = 0;
        boolean any = false;
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            if (!peer.sbDetected[v])
            {
                continue;
            }
            if (!peer.sbSent[v] || !peer.sbReceived[v])
            {
                return; // the peer's report is on its way
            }
            any = true;
            final long mine = peer.bitmapBaseGen[v] == 0 ? -1 : peer.outOfSync[v].outOfSyncBytes();
            myChanges = myChanges < 0 || mine < 0 ? -1 : myChanges + mine;
            peerChanges = peerChanges < 0 || peer.sbChanges[v] < 0 ? -1 : peerChanges + peer.sbChanges[v];
            mySince = Math.max(mySince, metas[v].primarySince());
            peerSince = Math.max(peerSince, peer.sbPrimarySince[v]);
        }
        if (!any || peer.standAlone)
        {
            return;
        }
        final int peerFlags = peer.sbFlags[firstSplitVolume(peer)];
        final SplitBrainVerdict.Side me = new SplitBrainVerdict.Side(spec.nodeName(), spec.nodeId(),
            role == Role.PRIMARY, peer.discardMyData, myChanges, mySince);
        final SplitBrainVerdict.Side them = new SplitBrainVerdict.Side(peer.name(), peer.spec.nodeId(),
            (peerFlags & ReplicationProtocol.SPLIT_BRAIN_FLAG_PRIMARY) != 0,
            (peerFlags & ReplicationProtocol.SPLIT_BRAIN_FLAG_DISCARD_MY_DATA) != 0, peerChanges, peerSince);
        final SplitBrainVerdict verdict = SplitBrainVerdict.decide(me, them, spec.afterSplitBrain0Pri(),
            spec.afterSplitBrain1Pri());
        peer.discardMyData = false; // used once
        if (verdict.victim() == null)
        {
            LOG.log(Level.ERROR, "{0}: split brain with {1} not resolved: {2}; the connection stays down " +
                "(StandAlone) until an operator decides (connect --discard-my-data on the side to lose)", spec.name(),
                peer.name(), verdict.reason());
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                if (peer.sbDetected[v])
                {
                    peer.replicationReason[v] = "SplitBrain: " + verdict.reason();
                }
            }
            peer.standAlone = true;
            peer.link.setEnabled(false);
            return;
        }
        peer.splitBrain = false;
        final boolean iLose = verdict.victim() == me;
        LOG.log(Level.WARNING, "{0}: split brain with {1} resolved: {2}; {3}", spec.name(), peer.name(),
            verdict.reason(), iLose ? "this node discards its changes since the split and resyncs from " + peer.name() :
            peer.name() + " discards its changes since the split and resyncs from this node");
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            if (!peer.sbDetected[v])
            {
                continue;
            }
            peer.sbDetected[v] = false;
            if (iLose)
            {
                // Our bits against the peer (our changes) and its bits against us (its changes) since the generation
                // both had: the source resyncs their union; without that generation, everything.
                final long shared = peer.bitmapBaseGen[v];
                requestResync(peer, v, shared == 0, "split brain resolved: " + verdict.reason(),
                    shared == 0 ? metas[v].currentGen() : shared);
            }
            else
            {
                peer.replication[v] = ReplicationState.SYNC_SOURCE; // its RESYNC_REQUEST follows
                peer.replicationReason[v] = null;
            }
        }
    }

    private static int firstSplitVolume(final PeerState peer)
    {
        for (int v = 0; v < peer.sbReceived.length; v++)
        {
            if (peer.sbDetected[v])
            {
                return v;
            }
        }
        return 0;
    }

    /** Under the lock. @return a connected peer that is Primary, or null. */
    private PeerState otherConnectedPrimary()
    {
        for (final PeerState other : peers)
        {
            if (other.isUp() && other.role == Role.PRIMARY)
            {
                return other;
            }
        }
        return null;
    }

    /** Under the lock: our copy is older than data another node knows; never serve it as current again. */
    private void outdateLocal(final int v)
    {
        if (diskStates[v] == DiskState.UP_TO_DATE || diskStates[v] == DiskState.CONSISTENT)
        {
            setLocalDisk(v, DiskState.OUTDATED);
        }
    }

    /**
     * Under the lock: this node keeps no copy of volume v. Its generation says which data it reads and writes: the
     * first UpToDate copy it meets defines it, a Primary moves it on, and a peer whose copy is not that data is
     * neither read from nor written to.
     */
    private void decideAsDiskless(final PeerState peer, final int v)
    {
        final VolumeMeta mine = metas[v];
        final long peerGen = peer.currentGens[v];
        peer.replication[v] = ReplicationState.OFF;
        if (peer.diskStates[v] != DiskState.UP_TO_DATE)
        {
            peer.replicationReason[v] = "peer disk is " + peer.diskStates[v].displayName();
            return;
        }
        if (mine.currentGen() == 0 || mine.currentGen() == peerGen ||
            contains(peer.histories[v], mine.currentGen()) && role != Role.PRIMARY)
        {
            if (mine.currentGen() != peerGen)
            {
                adoptPointer(v, peerGen, peer.histories[v]);
            }
            peer.replication[v] = ReplicationState.ESTABLISHED;
            // Its copy is the data we use: what we counted against it (as Primary) is in it.
            peer.outOfSync[v].clearAll();
            setBitmapBase(peer, v, 0, 0);
            return;
        }
        if (mine.inHistory(peerGen))
        {
            peer.replicationReason[v] = "resync needed: " + peer.name() + " has older data";
            return;
        }
        peer.replicationReason[v] = role == Role.PRIMARY && contains(peer.histories[v], mine.currentGen()) ?
            "SplitBrain: " + peer.name() + " has data written without this Primary" :
            "SplitBrain: " + peer.name() + "'s data is not the data this node uses";
        LOG.log(Level.ERROR, "{0}/{1}: not using {2}: {3}", spec.name(), v, peer.name(), peer.replicationReason[v]);
    }

    /** Under the lock: the diskless generation moves to newer data; peers that hold other data stop serving it. */
    private void adoptPointer(final int v, final long gen, final long[] history)
    {
        try
        {
            metas[v].adopt(gen, history);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("in-memory generation cannot fail", ex);
        }
        for (final PeerState other : peers)
        {
            if (other.stateKnown && !other.isDiskless(v) && other.replication[v] == ReplicationState.ESTABLISHED &&
                other.currentGens[v] != gen)
            {
                other.replication[v] = ReplicationState.OFF;
                other.sameGen[v] = false;
                other.replicationReason[v] = "resync needed: " + other.name() + " has older data";
            }
        }
        broadcastState();
    }

    /** Under the lock: a diskless peer follows some generation; if it is newer than our copy, ours is outdated. */
    private void decideWithDisklessPeer(final PeerState peer, final int v)
    {
        final VolumeMeta mine = metas[v];
        final long peerGen = peer.currentGens[v];
        if (diskStates[v] == DiskState.INCONSISTENT && primaryWithoutDisk(peer, v))
        {
            // An attached (or never synced) disk, and no Primary with a disk to fill it: this one does.
            peer.replication[v] = ReplicationState.OFF;
            requestResync(peer, v, true, "local disk is Inconsistent");
            return;
        }
        if (peerGen == 0 || peerGen == mine.currentGen() || mine.inHistory(peerGen))
        {
            peer.replication[v] = ReplicationState.ESTABLISHED;
            return;
        }
        peer.replication[v] = ReplicationState.OFF;
        if (contains(peer.histories[v], mine.currentGen()))
        {
            if (primaryWithoutDisk(peer, v))
            {
                // No Primary with a disk to resync from: this one resyncs us through a copy it reads.
                requestResync(peer, v, false, peer.name() + " (Primary without a disk) uses newer data");
                return;
            }
            peer.replicationReason[v] = "resync needed: " + peer.name() + " uses newer data";
            outdateLocal(v);
            return;
        }
        peer.replicationReason[v] = "SplitBrain: " + peer.name() + " uses data unrelated to this copy";
    }

    /** Under the lock. @return true when the peer is the Primary and has no disk for the volume: our source. */
    private boolean primaryWithoutDisk(final PeerState peer, final int v)
    {
        return peer.role == Role.PRIMARY && role != Role.PRIMARY && syncSource[v] == null &&
            peer.currentGens[v] != 0;
    }

    private static boolean contains(final long[] values, final long value)
    {
        for (final long v : values)
        {
            if (v == value)
            {
                return true;
            }
        }
        return false;
    }

    /** Under the lock. */
    private void setLocalDisk(final int v, final DiskState state)
    {
        try
        {
            metas[v].setDiskState(state);
        }
        catch (final IOException ex)
        {
            LOG.log(Level.ERROR, spec.name() + "/" + v + ": cannot persist disk state " + state.displayName(), ex);
        }
        diskStates[v] = state;
        broadcastState();
    }

    /**
     * Connect to a peer again after {@link #disconnect}, or to every peer.
     *
     * @param peerName a peer, or null for all.
     * @throws IllegalArgumentException for a name that is not a peer.
     */
    public void connect(final String peerName)
    {
        connect(peerName, false);
    }

    /**
     * Connect to a peer again, or to every peer; with {@code discardMyData}, this node's copy loses the next split
     * brain found with them (DRBD's {@code connect --discard-my-data}): it becomes a copy of the peer's by resync.
     *
     * @param peerName      a peer, or null for all.
     * @param discardMyData in a split brain with these peers, discard this node's changes.
     * @throws IllegalArgumentException for a name that is not a peer.
     * @throws IllegalStateException    when discarding is asked while this node is Primary.
     */
    public void connect(final String peerName, final boolean discardMyData)
    {
        final List<PeerState> selected = selectPeers(peerName);
        synchronized (this)
        {
            if (discardMyData && role == Role.PRIMARY)
            {
                throw new IllegalStateException(spec.nodeName() + " is Primary for " + spec.name() + ": its data is " +
                    "in use and cannot be discarded; make it Secondary first");
            }
        }
        for (final PeerState peer : selected)
        {
            synchronized (this)
            {
                peer.standAlone = false;
                peer.splitBrain = false;
                peer.discardMyData = discardMyData;
            }
            if (peer.link != null)
            {
                peer.link.setEnabled(true);
            }
        }
        publish();
    }

    /**
     * Disconnect from a peer, or from every peer, and stay disconnected (StandAlone) until {@link #connect}.
     *
     * @param peerName a peer, or null for all.
     * @throws IllegalArgumentException for a name that is not a peer.
     */
    public void disconnect(final String peerName)
    {
        for (final PeerState peer : selectPeers(peerName))
        {
            synchronized (this)
            {
                peer.standAlone = true;
            }
            if (peer.link != null)
            {
                peer.link.setEnabled(false);
            }
        }
        publish();
    }

    // ---- a lost Primary's last writes ---------------------------------------------------------------------------

    /** Under the lock (the applier): a write from the Primary was received. */
    void recordPrimaryWrite(final int v, final long offset, final long length)
    {
        final int slot = (int)(recentCount++ % RECENT_WRITES);
        recentVolumes[slot] = v;
        recentOffsets[slot] = offset;
        recentLengths[slot] = length;
    }

    /**
     * Under the lock: the Primary's link went down. Its last writes may have reached some Secondaries and not others
     * (each received a prefix of its stream): remember the blocks they touched here, to resync them from the next
     * Primary, whichever of us it is. When more writes were received than the ring holds, everything is suspect.
     */
    private void onPrimaryLost(final PeerState primary)
    {
        if (role == Role.PRIMARY || recentCount == 0)
        {
            return;
        }
        if (unstable == null)
        {
            unstable = new DirtyBitmap[spec.volumeCount()];
        }
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            if (stores[v] != null && unstable[v] == null)
            {
                unstable[v] = new DirtyBitmap(new BitmapGeometry(spec.volumeSizes()[v], bitmapBlockSize));
            }
        }
        final long n = Math.min(recentCount, RECENT_WRITES);
        for (long i = recentCount - n; i < recentCount; i++)
        {
            final int slot = (int)(i % RECENT_WRITES);
            final DirtyBitmap bits = unstable[recentVolumes[slot]];
            if (bits != null)
            {
                bits.markByteRange(recentOffsets[slot], recentLengths[slot]);
            }
        }
        if (recentCount > RECENT_WRITES)
        {
            for (final DirtyBitmap bits : unstable)
            {
                if (bits != null)
                {
                    bits.setAll(); // the ring was not enough to know: everything may differ
                }
            }
        }
        recentCount = 0;
        lostPrimary = primary.name();
        LOG.log(Level.WARNING, "{0}: Primary {1} is lost; the blocks of its last writes here are resynced from the " +
            "next Primary", spec.name(), primary.name());
    }

    /**
     * Under the lock: after a lost Primary, a node became Primary. On the new Primary (peer == null): the blocks are
     * out of sync for every peer with a copy (each asks for them). On a Secondary (peer = the new Primary): they are
     * asked from it, with the new Primary adding its own: the resync copies the union, so every copy ends up with the
     * new Primary's data (writes beyond its prefix were never acknowledged: protocol C waits for every connected
     * copy).
     */
    private void reconcileAfterLostPrimary(final PeerState newPrimary)
    {
        if (unstable == null)
        {
            return;
        }
        final DirtyBitmap[] blocks = unstable;
        unstable = null;
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            if (blocks[v] == null)
            {
                continue;
            }
            for (final PeerState peer : peers)
            {
                if (peer.outOfSync[v] == null || newPrimary != null && peer != newPrimary)
                {
                    continue;
                }
                final DirtyBitmap added = blocks[v].resize(peer.outOfSync[v].geometry().blockSize());
                peer.outOfSync[v].or(added);
                if (newPrimary == null && peer.replicates(v))
                {
                    // We are the new Primary: tell the peer, which asks for them (it may hold no such ranges itself,
                    // and would never ask: the bits would stay here for good).
                    sendOutOfSync(peer, v, added);
                }
                if (newPrimary != null && peer.replication[v] == ReplicationState.ESTABLISHED)
                {
                    LOG.log(Level.INFO, "{0}/{1}: {2} is the new Primary after {3}: resyncing {4} bytes its last " +
                        "writes touched", spec.name(), v, peer.name(), lostPrimary, blocks[v].outOfSyncBytes());
                    peer.replication[v] = ReplicationState.OFF;
                    requestResync(peer, v, false, "the writes of the lost Primary " + lostPrimary + " may differ");
                }
            }
        }
    }

    // ---- bitmap block size --------------------------------------------------------------------------------------

    /**
     * Change the bitmap block size of the running resource (the {@code bitmap-block-size} of {@code adjust}): every
     * peer's bits are widened or split, never dropped, and persisted in the new size, so no full resync follows. Peers
     * may use other sizes: ranges travel in bytes.
     *
     * @param blockSize a power of two from 4 KiB to 1 MiB.
     * @throws IllegalArgumentException for an invalid size.
     * @throws IllegalStateException    while a resync or an online verify runs (their ranges are counted in bits),
     *                                  or the bitmaps cannot be written.
     */
    public void changeBitmapBlockSize(final int blockSize)
    {
        new BitmapGeometry(spec.volumeSizes()[0], blockSize); // validates
        synchronized (this)
        {
            if (blockSize == bitmapBlockSize)
            {
                return;
            }
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                if (syncSource[v] != null || alTxRunning[v] || !checksumInflight.isEmpty() ||
                    !verifyInflight.isEmpty())
                {
                    throw new IllegalStateException("volume " + v + " of " + spec.name() + " is resyncing or being " +
                        "verified: change the bitmap block size when that is done");
                }
                for (final PeerState peer : peers)
                {
                    if (peer.resyncActive[v] || verifySessions[peer.index][v] != null)
                    {
                        throw new IllegalStateException("volume " + v + " of " + spec.name() + " is resyncing to or " +
                            "being verified with " + peer.name() + ": change the bitmap block size when that is done");
                    }
                }
            }
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                final BitmapGeometry geometry = new BitmapGeometry(spec.volumeSizes()[v], blockSize);
                for (final PeerState peer : peers)
                {
                    if (peer.outOfSync[v] != null)
                    {
                        peer.outOfSync[v] = peer.outOfSync[v].resize(blockSize);
                    }
                }
                if (bitmapFiles[v] != null && stores[v] != null)
                {
                    try
                    {
                        bitmapFiles[v].recreate(geometry);
                        for (final PeerState peer : peers)
                        {
                            if (peer.outOfSync[v] != null)
                            {
                                bitmapFiles[v].writeAll(peer.index, peer.outOfSync[v]);
                            }
                        }
                        bitmapFiles[v].force();
                        metas[v].bitmapBlockSize(blockSize);
                        metas[v].store();
                    }
                    catch (final IOException ex)
                    {
                        throw new IllegalStateException("cannot write the bitmaps of volume " + v + " in the new " +
                            "block size: " + ex.getMessage(), ex);
                    }
                }
            }
            LOG.log(Level.INFO, "{0}: bitmap block size changed from {1} to {2} bytes; bits converted, none dropped",
                spec.name(), bitmapBlockSize, blockSize);
            bitmapBlockSize = blockSize;
        }
        publish();
    }

    // ---- quorum -------------------------------------------------------------------------------------------------

    /**
     * Under the lock. @return true when this node reaches enough nodes: quorum off, or (majority) more than half of
     * the nodes that did not leave cleanly, or (a number) at least that many nodes, this one included.
     */
    boolean hasQuorum()
    {
        if (spec.quorum() == 0)
        {
            return true;
        }
        int total = 1;
        int reachable = 1;
        for (final PeerState peer : peers)
        {
            if (peer.isUp())
            {
                reachable++;
                total++;
            }
            else if (!leftCleanly(peer))
            {
                total++;
            }
        }
        return spec.quorum() == ResourceSpec.QUORUM_MAJORITY ? 2 * reachable > total : reachable >= spec.quorum();
    }

    /**
     * A node that left cleanly said so: its copies went Outdated in its last STATE. Read from that STATE while it is
     * still there, so the answer is the same between the link going down and this resource hearing of it.
     */
    private boolean leftCleanly(final PeerState peer)
    {
        if (!peer.stateKnown)
        {
            return peer.leftCleanly;
        }
        boolean anyDisk = false;
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            if (!peer.isDiskless(v))
            {
                anyDisk = true;
                if (peer.diskStates[v] != DiskState.OUTDATED)
                {
                    return false;
                }
            }
        }
        return anyDisk;
    }

    private String noQuorumMessage()
    {
        int reachable = 1;
        for (final PeerState peer : peers)
        {
            reachable += peer.isUp() ? 1 : 0;
        }
        return "no quorum: " + spec.nodeName() + " reaches " + reachable + " of " + (peers.length + 1) + " nodes of " +
            spec.name() + " (quorum " + (spec.quorum() == ResourceSpec.QUORUM_MAJORITY ? "majority" :
            String.valueOf(spec.quorum())) + ")";
    }

    /** Under the lock: a Primary that lost quorum suspends or fails I/O; one that regained it resumes. */
    private void checkQuorum()
    {
        if (spec.quorum() == 0)
        {
            return;
        }
        final boolean has = hasQuorum();
        if (!has && role == Role.PRIMARY && !quorumLost && !closed)
        {
            quorumLost = true;
            LOG.log(Level.ERROR, "{0}: Primary {1} lost quorum ({2}); I/O is {3} until it returns", spec.name(),
                spec.nodeName(), noQuorumMessage(), spec.quorumSuspendIo() ? "suspended" : "failed with EIO");
        }
        else if ((has || role != Role.PRIMARY || closed) && quorumLost)
        {
            quorumLost = false;
            LOG.log(Level.WARNING, "{0}: quorum is back; {1} held requests resume", spec.name(), suspendedIo.size());
            final List<Runnable> resume = new ArrayList<>(suspendedIo);
            suspendedIo.clear();
            // Re-submitted in arrival order on another thread: never under a caller's lock, never nested here.
            CompletableFuture.runAsync(() -> resume.forEach(Runnable::run), workersExecutor());
        }
    }

    /** @return where held requests are re-submitted from. */
    private java.util.concurrent.Executor workersExecutor()
    {
        return (task) ->
        {
            if (!workers.offer(task))
            {
                new Thread(task, "mirra-resume-" + spec.name()).start();
            }
        };
    }

    // ---- disk failure: detach and attach ------------------------------------------------------------------------

    /** Per volume: the store and metadata of a disk this node detached (kept for {@link #attach}). */
    private final BlockStore[] detachedStores;

    /**
     * Under the lock: an I/O error on the local disk of volume v (SPEC §2.7): give the disk up. The volume goes
     * Failed, then Diskless: reads go to UpToDate peers, writes to the peers only (completed without the local disk),
     * and the copy is persisted Inconsistent (best effort: the metadata may sit on the failed disk) so it is never
     * taken for current again; {@link #attach} brings it back with a full resync.
     */
    void detachFailedDisk(final int v, final String why)
    {
        if (stores[v] == null)
        {
            return;
        }
        LOG.log(Level.ERROR, "{0}/{1}: detaching the local disk after an I/O error ({2}): Failed, then Diskless; " +
            "I/O goes to the peers", spec.name(), v, why);
        detachLocked(v);
    }

    /** Under the lock: stop using the local disk of volume v. */
    private void detachLocked(final int v)
    {
        diskStates[v] = DiskState.FAILED;
        publish();
        try
        {
            metas[v].setDiskState(DiskState.INCONSISTENT);
        }
        catch (final IOException | RuntimeException ex)
        {
            LOG.log(Level.WARNING, spec.name() + "/" + v + ": cannot record the detached disk as Inconsistent", ex);
        }
        detachedStores[v] = stores[v];
        stores[v] = null;
        // From here on this node follows the data by generation, as a diskless node does.
        final VolumeMeta pointer = VolumeMeta.pointer();
        try
        {
            pointer.adopt(metas[v].currentGen(), metas[v].historyCopy());
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("in-memory generation cannot fail", ex);
        }
        metas[v] = pointer;
        diskStates[v] = DiskState.DISKLESS;
        if (syncSource[v] != null)
        {
            syncSource[v].replication[v] = ReplicationState.OFF;
            syncSource[v] = null;
        }
        for (final PeerState peer : peers)
        {
            if (peer.resyncActive[v])
            {
                peer.resyncActive[v] = false;
                peer.replication[v] = ReplicationState.OFF;
                peer.replicationReason[v] = "local disk detached";
                peer.link.send(StreamKind.DATA, FRAMES.get().resyncEnd(ALLOC, v, 0, 0));
            }
        }
        broadcastState();
    }

    /**
     * Detach the local disk of a volume, or of every volume (DRBD's {@code detach}): the node keeps serving it through
     * its peers, as a diskless node.
     *
     * @param volume a volume number, or -1 for all.
     * @throws IllegalArgumentException for a volume the resource does not have.
     * @throws IllegalStateException    when no disk is attached there.
     */
    public void detach(final int volume)
    {
        checkVolume(volume);
        synchronized (this)
        {
            boolean any = false;
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                if ((volume < 0 || v == volume) && stores[v] != null)
                {
                    LOG.log(Level.WARNING, "{0}/{1}: detaching the local disk (operator)", spec.name(), v);
                    detachLocked(v);
                    any = true;
                }
            }
            if (!any)
            {
                throw new IllegalStateException("no local disk is attached for " + (volume < 0 ? "any volume" :
                    "volume " + volume) + " of " + spec.name() + " on " + spec.nodeName());
            }
        }
        publish();
    }

    /**
     * Attach again the disk detached from a volume, or from every volume (DRBD's {@code attach}): its copy is
     * Inconsistent (it missed writes) and takes a full resync from an UpToDate peer.
     *
     * @param volume a volume number, or -1 for all.
     * @throws IllegalArgumentException for a volume the resource does not have.
     * @throws IllegalStateException    when nothing is detached there, this node is Primary (its writes would race
     *                                  the resync into its own disk: make it Secondary first), or the metadata cannot
     *                                  be read.
     */
    public void attach(final int volume)
    {
        checkVolume(volume);
        synchronized (this)
        {
            if (role == Role.PRIMARY)
            {
                throw new IllegalStateException(spec.nodeName() + " is Primary for " + spec.name() + ": a disk " +
                    "attached now would be resynced under its own writes; make it Secondary first (or move the " +
                    "Primary role to a node with an UpToDate disk), then attach");
            }
            boolean any = false;
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                if ((volume >= 0 && v != volume) || detachedStores[v] == null)
                {
                    continue;
                }
                final String[] names = new String[peers.length];
                for (int i = 0; i < peers.length; i++)
                {
                    names[i] = peers[i].name();
                }
                final VolumeMeta meta;
                try
                {
                    meta = VolumeMeta.loadOrCreate(spec.metaDir().resolve(spec.name() + "-" + v + ".meta"), false,
                        spec.volumeSizes()[v], bitmapBlockSize, names);
                    meta.setDiskState(DiskState.INCONSISTENT);
                }
                catch (final IOException ex)
                {
                    throw new IllegalStateException("cannot attach volume " + v + ": " + ex.getMessage(), ex);
                }
                stores[v] = detachedStores[v];
                detachedStores[v] = null;
                metas[v] = meta;
                diskStates[v] = DiskState.INCONSISTENT;
                any = true;
                LOG.log(Level.WARNING, "{0}/{1}: local disk attached again: Inconsistent until a full resync",
                    spec.name(), v);
                for (final PeerState peer : peers)
                {
                    if (peer.outOfSync[v] != null)
                    {
                        peer.outOfSync[v].clearAll();
                        setBitmapBase(peer, v, 0, 0);
                    }
                    peer.replication[v] = ReplicationState.OFF;
                    if (peer.isUp() && syncSource[v] == null)
                    {
                        decideReplication(peer, v);
                    }
                }
            }
            if (!any)
            {
                throw new IllegalStateException("no detached disk for " + (volume < 0 ? "any volume" : "volume " +
                    volume) + " of " + spec.name() + " on " + spec.nodeName());
            }
            broadcastState();
        }
        publish();
    }

    /**
     * Online verify (DRBD's {@code verify}): compare a digest of every 4 KiB block of each volume with a peer's copy,
     * without copying data, and mark each block that differs out of sync for that peer (a later resync, after
     * disconnect and connect, copies them). Applications keep running; writes to the range being compared wait for
     * it. Run on the Primary, nothing in flight is ever reported as a difference.
     *
     * @param peerName a peer, or null for every connected peer with a disk.
     * @return completes with the bytes found different, summed over volumes and peers; exceptionally when a link
     *         goes down or a disk fails meanwhile.
     * @throws IllegalStateException when refused: no such connected peer replicating with an UpToDate copy, the local
     *                               copy is not UpToDate, or a verify with that peer runs already.
     * @throws IllegalArgumentException for a name that is not a peer.
     */
    public CompletableFuture<Long> verify(final String peerName)
    {
        return verify(peerName, -1);
    }

    /**
     * Online verify of one volume, or of every volume; see {@link #verify(String)}.
     *
     * @param peerName a peer, or null for every connected peer with a disk.
     * @param volume   a volume number, or -1 for all.
     * @return completes with the bytes found different.
     * @throws IllegalArgumentException for a name that is not a peer or a volume the resource does not have.
     */
    public CompletableFuture<Long> verify(final String peerName, final int volume)
    {
        checkVolume(volume);
        final List<PeerState> selected = selectPeers(peerName);
        final List<CompletableFuture<Long>> runs = new ArrayList<>();
        synchronized (this)
        {
            final List<VerifySession> sessions = new ArrayList<>();
            for (final PeerState peer : selected)
            {
                for (int v = 0; v < spec.volumeCount(); v++)
                {
                    if (stores[v] == null || peer.isDiskless(v) || volume >= 0 && v != volume)
                    {
                        continue;
                    }
                    final String refusal = closed ? "resource " + spec.name() + " is down" :
                        diskStates[v] != DiskState.UP_TO_DATE ? "the local disk is " + diskStates[v].displayName() :
                        !peer.replicates(v) ? peer.name() + " is not connected and replicating volume " + v :
                        peer.diskStates[v] != DiskState.UP_TO_DATE ? peer.name() + "'s disk is " +
                            peer.diskStates[v].displayName() :
                        verifySessions[peer.index][v] != null ? "a verify with " + peer.name() + " runs already" : null;
                    if (refusal != null)
                    {
                        if (peerName == null && !peer.replicates(v))
                        {
                            continue; // all peers: those that can be verified
                        }
                        throw new IllegalStateException("cannot verify volume " + v + " of " + spec.name() +
                            " with " + peer.name() + ": " + refusal);
                    }
                    sessions.add(new VerifySession(peer, v, spec.volumeSizes()[v]));
                }
            }
            if (sessions.isEmpty())
            {
                throw new IllegalStateException("nothing to verify: no connected peer with a copy of " + spec.name());
            }
            for (final VerifySession session : sessions)
            {
                verifySessions[session.peer.index][session.volume] = session;
                runs.add(session.done);
                LOG.log(Level.INFO, "{0}/{1}: online verify with {2} starts", spec.name(), session.volume,
                    session.peer.name());
                pumpVerify(session);
            }
        }
        publish();
        return CompletableFuture.allOf(runs.toArray(new CompletableFuture[0]))
            .thenApply((ignored) -> runs.stream().mapToLong(CompletableFuture::join).sum());
    }

    /** Under the lock: start ranges until MAX_IN_FLIGHT run, or finish. */
    private void pumpVerify(final VerifySession session)
    {
        final int v = session.volume;
        while (session.failure == null && session.inFlight < VerifySession.MAX_IN_FLIGHT &&
            session.cursor < session.size)
        {
            final long offset = session.cursor;
            final long length = Math.min(ReplicationProtocol.MAX_VERIFY_LENGTH, session.size - offset);
            session.cursor += length;
            session.inFlight++;
            final PrimaryOp op = new PrimaryOp(this, PrimaryOp.VERIFY, v, offset, length, 0, null, NO_CALLBACK, null,
                peers.length);
            op.verify = session;
            if (enterActive(op)) // writes to the range wait until both digests are in
            {
                startVerifyRange(op);
            }
        }
        if (session.finished() && !session.done.isDone())
        {
            verifySessions[session.peer.index][v] = null;
            if (session.failure != null)
            {
                LOG.log(Level.WARNING, "{0}/{1}: online verify with {2} stopped: {3}", spec.name(), v,
                    session.peer.name(), session.failure);
                session.done.completeExceptionally(new IllegalStateException(session.failure));
            }
            else
            {
                LOG.log(Level.INFO, "{0}/{1}: online verify with {2} done: {3} of {4} bytes differ{5}", spec.name(), v,
                    session.peer.name(), session.differingBytes, session.checkedBytes, session.differingBytes == 0 ?
                    "" : " (marked out of sync; disconnect and connect to resync them)");
                session.done.complete(session.differingBytes);
            }
            publish();
        }
    }

    /** Under the lock: ask the peer for its digests and read our copy of the range. */
    private void startVerifyRange(final PrimaryOp op)
    {
        final VerifySession session = op.verify;
        if (session.failure != null || !session.peer.isUp())
        {
            finishVerifyRange(op, session.failure != null ? session.failure : session.peer.name() + " is gone");
            return;
        }
        final long id = nextVerifyId++;
        verifyInflight.put(id, op);
        op.firstSeq = id;
        session.peer.link.send(StreamKind.DATA, FRAMES.get().verifyRequest(ALLOC, op.volume, id, op.offset,
            (int)op.length, VerifySession.BLOCK_SIZE));
        if (!startLocalRead(op))
        {
            onVerifyRead(op);
        }
    }

    /** Under the lock: our copy of the range is read. */
    private void onVerifyRead(final PrimaryOp op)
    {
        final int err = op.errno != 0 ? op.errno : op.localErrno();
        if (err == 0)
        {
            op.localDigests = new long[BlockDigest.count(op.length, VerifySession.BLOCK_SIZE)];
            digest.digests(op.readBuf.nioBuffer(0, (int)op.length), VerifySession.BLOCK_SIZE, op.localDigests);
        }
        else if (op.verify.failure == null)
        {
            op.verify.failure = "local read of " + op + " failed: " + (op.message != null ? op.message :
                op.localMessage());
        }
        op.readBuf.release();
        op.readBuf = null;
        op.localDone = true;
        maybeCompareVerifyRange(op);
    }

    private void onVerifyReply(final PeerState peer, final Frame frame)
    {
        final ByteBuf body = frame.content();
        final int at = body.readerIndex();
        synchronized (this)
        {
            final long id = body.getLongLE(at + VerifyReplyFlyweight.REQUEST_ID_OFFSET);
            final PrimaryOp resync = checksumInflight.get(id);
            if (resync != null && resync.resyncPeer == peer)
            {
                checksumInflight.remove(id);
                final int status = body.getIntLE(at + VerifyReplyFlyweight.STATUS_OFFSET);
                final int count = body.getIntLE(at + VerifyReplyFlyweight.COUNT_OFFSET);
                final long[] remote = status == 0 && count == BlockDigest.count(resync.length, VerifySession.BLOCK_SIZE) ?
                    new long[count] : null;
                for (int i = 0; remote != null && i < count; i++)
                {
                    remote[i] = body.getLongLE(at + VerifyReplyFlyweight.DIGESTS_OFFSET + 8 * i);
                }
                onChecksumsArrived(resync, remote);
                return;
            }
            final PrimaryOp op = verifyInflight.get(id);
            if (op == null || op.verify.peer != peer)
            {
                LOG.log(Level.WARNING, "{0}: VERIFY_REPLY {1} from {2} answers no request; ignored", spec.name(), id,
                    peer.name());
                return;
            }
            verifyInflight.remove(id);
            op.remoteStatus = body.getIntLE(at + VerifyReplyFlyweight.STATUS_OFFSET);
            final int count = body.getIntLE(at + VerifyReplyFlyweight.COUNT_OFFSET);
            if (op.remoteStatus == 0 && count == BlockDigest.count(op.length, VerifySession.BLOCK_SIZE))
            {
                op.remoteDigests = new long[count];
                for (int i = 0; i < count; i++)
                {
                    op.remoteDigests[i] = body.getLongLE(at + VerifyReplyFlyweight.DIGESTS_OFFSET + 8 * i);
                }
            }
            else if (op.verify.failure == null)
            {
                op.verify.failure = op.remoteStatus != 0 ? peer.name() + " could not read " + op + " (errno " +
                    op.remoteStatus + ")" : peer.name() + " answered " + count + " digests for " + op;
            }
            op.remoteDone = true;
            maybeCompareVerifyRange(op);
        }
    }

    /** Under the lock: both digests of a range are in: mark the blocks that differ. */
    private void maybeCompareVerifyRange(final PrimaryOp op)
    {
        if (!op.localDone || !op.remoteDone)
        {
            return;
        }
        final VerifySession session = op.verify;
        if (op.localDigests != null && op.remoteDigests != null)
        {
            for (int i = 0; i < op.localDigests.length; i++)
            {
                if (op.localDigests[i] != op.remoteDigests[i])
                {
                    final long offset = op.offset + (long)i * VerifySession.BLOCK_SIZE;
                    final long length = Math.min(VerifySession.BLOCK_SIZE, op.offset + op.length - offset);
                    session.peer.markOutOfSync(op.volume, offset, length);
                    session.differingBytes += length;
                }
            }
            session.checkedBytes += op.length;
        }
        finishVerifyRange(op, null);
    }

    /** Under the lock: the range is done (compared or abandoned): writes waiting for it go. */
    private void finishVerifyRange(final PrimaryOp op, final String failure)
    {
        final VerifySession session = op.verify;
        if (failure != null && session.failure == null)
        {
            session.failure = failure;
        }
        op.completed = true;
        newEpochPending = true;
        active.get(op.volume).remove(op);
        releaseWaiters(op);
        session.inFlight--;
        pumpVerify(session);
    }

    /** Under the lock: the peer is gone: its verify ranges will not be answered. */
    private void failVerifies(final PeerState peer, final String why)
    {
        final List<Long> lost = new ArrayList<>();
        verifyInflight.forEach((id, op) ->
        {
            if (op.verify.peer == peer)
            {
                lost.add(id);
            }
        });
        for (final Long id : lost)
        {
            final PrimaryOp op = verifyInflight.remove((long)id);
            if (op.verify.failure == null)
            {
                op.verify.failure = why;
            }
            op.remoteDone = true;
            maybeCompareVerifyRange(op); // finishes once the local read is in
        }
    }

    /**
     * Pause resyncs from this node to a peer, or to every peer (DRBD's {@code pause-sync}): ranges in flight finish,
     * no new one starts; writes go on marking blocks out of sync. Kept until {@link #resumeSync}; a resync that
     * starts meanwhile starts paused.
     *
     * @param peerName a peer, or null for all.
     * @throws IllegalArgumentException for a name that is not a peer.
     * @throws IllegalStateException    when this node is the peer's SyncTarget (pause on the SyncSource).
     */
    public void pauseSync(final String peerName)
    {
        final List<PeerState> selected = selectPeers(peerName);
        synchronized (this)
        {
            for (final PeerState peer : selected)
            {
                for (int v = 0; v < spec.volumeCount(); v++)
                {
                    if (syncSource[v] == peer)
                    {
                        throw new IllegalStateException(spec.nodeName() + " resyncs volume " + v + " from " +
                            peer.name() + ": pause the resync on the SyncSource, " + peer.name());
                    }
                }
            }
            for (final PeerState peer : selected)
            {
                if (!peer.resyncUserPaused)
                {
                    peer.resyncUserPaused = true;
                    LOG.log(Level.INFO, "{0}: resync to {1} paused by the operator", spec.name(), peer.name());
                }
            }
        }
        publish();
    }

    /**
     * Resume resyncs paused by {@link #pauseSync}.
     *
     * @param peerName a peer, or null for all.
     * @throws IllegalArgumentException for a name that is not a peer.
     */
    public void resumeSync(final String peerName)
    {
        final List<PeerState> selected = selectPeers(peerName);
        synchronized (this)
        {
            for (final PeerState peer : selected)
            {
                if (peer.resyncUserPaused)
                {
                    peer.resyncUserPaused = false;
                    LOG.log(Level.INFO, "{0}: resync to {1} resumed by the operator", spec.name(), peer.name());
                    for (int v = 0; v < spec.volumeCount(); v++)
                    {
                        if (peer.resyncActive[v])
                        {
                            pumpResync(peer, v);
                        }
                    }
                }
            }
        }
        publish();
    }

    /**
     * Declare every copy of the resource identical without a resync (DRBD's {@code new-current-uuid --clear-bitmap}),
     * for new disks known to hold the same data (all zeros, or cloned from one image): this node's Inconsistent
     * copies start a new generation and are UpToDate, and every connected peer whose copy is Inconsistent takes that
     * generation and is UpToDate too. Wrong use makes the copies differ silently; it is refused unless every peer is
     * connected, no node is Primary, and every copy is Inconsistent.
     *
     * @throws IllegalStateException when refused, with the reason.
     */
    public void newCurrentGenerationClearBitmap()
    {
        synchronized (this)
        {
            if (closed)
            {
                throw new IllegalStateException("resource " + spec.name() + " is down on " + spec.nodeName());
            }
            if (role == Role.PRIMARY || otherConnectedPrimary() != null)
            {
                throw new IllegalStateException("a node is Primary for " + spec.name() + ": its data is in use");
            }
            for (final PeerState peer : peers)
            {
                if (!peer.isUp())
                {
                    throw new IllegalStateException(peer.name() + " is not connected: every node must take the new " +
                        "generation at once");
                }
            }
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                if (stores[v] != null && diskStates[v] != DiskState.INCONSISTENT)
                {
                    throw new IllegalStateException("volume " + v + " of " + spec.name() + " is " +
                        diskStates[v].displayName() + " on " + spec.nodeName() + ": only Inconsistent (new) copies " +
                        "can be declared identical");
                }
                for (final PeerState peer : peers)
                {
                    if (!peer.isDiskless(v) && peer.diskStates[v] != DiskState.INCONSISTENT)
                    {
                        throw new IllegalStateException("volume " + v + " of " + spec.name() + " is " +
                            peer.diskStates[v].displayName() + " on " + peer.name() + ": only Inconsistent (new) " +
                            "copies can be declared identical");
                    }
                }
            }
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                if (stores[v] == null)
                {
                    continue;
                }
                try
                {
                    final long gen = metas[v].newGeneration();
                    LOG.log(Level.WARNING, "{0}/{1}: every copy declared identical by the operator (new-current-uuid " +
                        "--clear-bitmap): generation {2}, UpToDate without a resync", spec.name(), v,
                        VolumeMeta.hex(gen));
                }
                catch (final IOException ex)
                {
                    throw new IllegalStateException("cannot persist the new generation: " + ex.getMessage(), ex);
                }
                for (final PeerState peer : peers)
                {
                    if (peer.outOfSync[v] != null)
                    {
                        peer.outOfSync[v].clearAll();
                        setBitmapBase(peer, v, 0, 0);
                    }
                }
                diskStates[v] = DiskState.UP_TO_DATE;
                try
                {
                    metas[v].setDiskState(DiskState.UP_TO_DATE);
                }
                catch (final IOException ex)
                {
                    throw new IllegalStateException("cannot persist the disk state: " + ex.getMessage(), ex);
                }
            }
            for (final PeerState peer : peers)
            {
                peer.sendClearBitmap = true;
                sendState(peer);
            }
        }
        publish();
    }

    /**
     * Under the lock: the peer declared our copy of volume v identical to its own (STATE_FLAG_CLEAR_BITMAP): take its
     * generation if our copy is Inconsistent and not in use.
     *
     * @return true when taken.
     */
    private boolean takeDeclaredIdentical(final PeerState peer, final int v)
    {
        if (stores[v] == null || diskStates[v] != DiskState.INCONSISTENT || role == Role.PRIMARY ||
            peer.diskStates[v] != DiskState.UP_TO_DATE || syncSource[v] != null)
        {
            return false;
        }
        try
        {
            metas[v].adopt(peer.currentGens[v], peer.histories[v]);
        }
        catch (final IOException ex)
        {
            LOG.log(Level.ERROR, spec.name() + "/" + v + ": cannot persist the declared generation", ex);
            return false;
        }
        if (peer.outOfSync[v] != null)
        {
            peer.outOfSync[v].clearAll();
            setBitmapBase(peer, v, 0, 0);
        }
        LOG.log(Level.WARNING, "{0}/{1}: {2} declared every copy identical (new-current-uuid --clear-bitmap): " +
            "UpToDate without a resync", spec.name(), v, peer.name());
        peer.replication[v] = ReplicationState.OFF;
        setLocalDisk(v, DiskState.UP_TO_DATE);
        return true;
    }

    /**
     * Declare this node's copy of every volume unknown (Inconsistent) and take a full resync from an UpToDate peer
     * (the Primary if one is connected): DRBD's {@code invalidate}, for a copy known or suspected to be damaged.
     *
     * @throws IllegalStateException when refused: this node is Primary, a volume is diskless here or already
     *                               resyncing, or no connected peer holds an UpToDate copy.
     */
    public void invalidate()
    {
        invalidate(-1);
    }

    /** @throws IllegalArgumentException when the resource has no such volume (-1 means all). */
    private void checkVolume(final int volume)
    {
        if (volume < -1 || volume >= spec.volumeCount())
        {
            throw new IllegalArgumentException("resource " + spec.name() + " has volume" +
                (spec.volumeCount() == 1 ? " 0" : "s 0.." + (spec.volumeCount() - 1)) + ", not " + volume);
        }
    }

    /**
     * {@link #invalidate()} for one volume, or for every volume.
     *
     * @param volume a volume number, or -1 for all.
     * @throws IllegalArgumentException for a volume the resource does not have.
     * @throws IllegalStateException    when refused (see {@link #invalidate()}).
     */
    public void invalidate(final int volume)
    {
        checkVolume(volume);
        synchronized (this)
        {
            if (closed)
            {
                throw new IllegalStateException("resource " + spec.name() + " is down on " + spec.nodeName());
            }
            if (role == Role.PRIMARY)
            {
                throw new IllegalStateException(spec.nodeName() + " is Primary for " + spec.name() + ": its copy is " +
                    "the one in use; make it Secondary first (or invalidate the peer's copy on the peer)");
            }
            final PeerState[] sources = new PeerState[spec.volumeCount()];
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                if (volume >= 0 && v != volume)
                {
                    continue;
                }
                if (stores[v] == null)
                {
                    throw new IllegalStateException(spec.nodeName() + " keeps no copy of volume " + v + " of " +
                        spec.name() + " (diskless)");
                }
                if (syncSource[v] != null)
                {
                    throw new IllegalStateException("volume " + v + " of " + spec.name() + " already resyncs from " +
                        syncSource[v].name());
                }
                final PeerState primary = otherConnectedPrimary();
                for (final PeerState peer : peers)
                {
                    if (peer.isUp() && !peer.isDiskless(v) && peer.diskStates[v] == DiskState.UP_TO_DATE &&
                        (primary == null || primary == peer))
                    {
                        sources[v] = peer;
                        break;
                    }
                }
                if (sources[v] == null)
                {
                    throw new IllegalStateException("no connected peer has an UpToDate copy of volume " + v + " of " +
                        spec.name() + (primary != null ? " on the Primary " + primary.name() : "") +
                        ": nothing to resync from");
                }
            }
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                if (sources[v] == null)
                {
                    continue;
                }
                LOG.log(Level.WARNING, "{0}/{1}: invalidated by the operator: full resync from {2}", spec.name(), v,
                    sources[v].name());
                setLocalDisk(v, DiskState.INCONSISTENT); // persisted: a crash meanwhile keeps it Inconsistent
                requestResync(sources[v], v, true, "invalidated by the operator");
            }
        }
        publish();
    }

    private List<PeerState> selectPeers(final String peerName)
    {
        if (peerName == null)
        {
            return List.of(peers);
        }
        final PeerState peer = peersByName.get(peerName);
        if (peer == null)
        {
            throw new IllegalArgumentException(peerName + " is not a peer of " + spec.nodeName() + " in resource " +
                spec.name() + " (peers: " + String.join(", ", peersByName.keySet()) + ")");
        }
        return List.of(peer);
    }

    // ---- roles --------------------------------------------------------------------------------------------------

    /** @return this node's role. */
    public synchronized Role role()
    {
        return role;
    }

    /**
     * @return the name of a connected peer that is Primary, or null.
     */
    public synchronized String otherPrimary()
    {
        for (final PeerState peer : peers)
        {
            if (peer.isUp() && peer.role == Role.PRIMARY || grantedTo == peer)
            {
                return peer.name();
            }
        }
        return null;
    }

    /**
     * Become Primary: every connected peer is asked first (two-phase), so two nodes never both become Primary while
     * connected.
     *
     * @param force accept local copies that are not UpToDate as the newest data (DRBD's {@code primary --force}).
     * @return completes when Primary, or fails with {@link ReplicationException} saying why not.
     */
    public CompletableFuture<Void> promote(final boolean force)
    {
        final CompletableFuture<Void> result;
        final Promotion mine;
        synchronized (this)
        {
            if (role == Role.PRIMARY)
            {
                return CompletableFuture.completedFuture(null);
            }
            if (promotion != null)
            {
                return promotion.result;
            }
            final String refusal = promoteRefusal(force);
            if (refusal != null)
            {
                return CompletableFuture.failedFuture(new ReplicationException(refusal));
            }
            mine = new Promotion(ThreadLocalRandom.current().nextLong(), force, new CompletableFuture<>(), 0);
            promotion = mine;
            result = mine.result;
            prepare(mine);
        }
        publish();
        // A peer that never answers must not leave the promotion hanging: fail it, saying who did not answer.
        CompletableFuture.delayedExecutor(PROMOTE_TIMEOUT_MS, TimeUnit.MILLISECONDS).execute(() ->
        {
            synchronized (this)
            {
                if (promotion != null && promotion.result == mine.result)
                {
                    abortPromotion("no answer from " + ReplicatedResource.names(promotion.waitingFor) + " within " +
                        PROMOTE_TIMEOUT_MS + " ms");
                }
            }
        });
        return result;
    }

    /** Under the lock. @return why this node may not become Primary now, or null. */
    private String promoteRefusal(final boolean force)
    {
        if (closed)
        {
            return "resource " + spec.name() + " is down";
        }
        for (final PeerState peer : peers)
        {
            if (peer.isUp() && peer.role == Role.PRIMARY)
            {
                return peer.name() + " is Primary for resource " + spec.name();
            }
        }
        if (grantedTo != null)
        {
            return grantedTo.name() + " is becoming Primary for resource " + spec.name();
        }
        if (!hasQuorum())
        {
            return noQuorumMessage();
        }
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            if (stores[v] == null)
            {
                if (remoteReads.pick(v) == null)
                {
                    return "volume " + v + ": this node is diskless and no peer with UpToDate data is connected";
                }
            }
            else if (diskStates[v] != DiskState.UP_TO_DATE && !force)
            {
                return "volume " + v + ": local disk is " + diskStates[v].displayName() +
                    " (use --force to make it the newest data)";
            }
        }
        return null;
    }

    /** Under the lock. */
    private void maybeFinishPromotion()
    {
        final Promotion p = promotion;
        if (p == null || !p.waitingFor.isEmpty())
        {
            return;
        }
        promotion = null;
        if (p.refusal != null)
        {
            abortTo(p);
            if (p.conflict && p.attempt < PROMOTE_ATTEMPTS)
            {
                // Another node is promoting at the same time: back off a random moment and ask again.
                final long delayMs = 5 + ThreadLocalRandom.current().nextLong(20L << p.attempt);
                CompletableFuture.delayedExecutor(delayMs, TimeUnit.MILLISECONDS).execute(() -> retryPromotion(p));
                return;
            }
            p.result.completeExceptionally(new ReplicationException(p.refusal));
            return;
        }
        final String late = promoteRefusal(p.force);
        if (late != null)
        {
            abortTo(p);
            p.result.completeExceptionally(new ReplicationException(late));
            return;
        }
        for (final PeerState peer : peers)
        {
            if (peer.isUp())
            {
                peer.link.send(StreamKind.CONTROL, FRAMES.get().twoPc(ALLOC, ReplicationProtocol.TWOPC_COMMIT,
                    p.txId, ReplicationProtocol.TWOPC_KIND_PROMOTE));
            }
        }
        becomePrimary(p.force);
        p.result.complete(null);
    }

    private void retryPromotion(final Promotion previous)
    {
        synchronized (this)
        {
            if (role == Role.PRIMARY)
            {
                previous.result.complete(null);
                return;
            }
            final String refusal = promotion != null ? "a promotion is already in progress" :
                promoteRefusal(previous.force);
            if (refusal != null)
            {
                previous.result.completeExceptionally(new ReplicationException(refusal));
                return;
            }
            final Promotion p = new Promotion(ThreadLocalRandom.current().nextLong(), previous.force,
                previous.result, previous.attempt + 1);
            promotion = p;
            prepare(p);
        }
        publish();
    }

    /** Under the lock: ask every connected peer. */
    private void prepare(final Promotion p)
    {
        for (final PeerState peer : peers)
        {
            if (peer.isUp())
            {
                p.waitingFor.add(peer);
                peer.link.send(StreamKind.CONTROL, FRAMES.get().twoPc(ALLOC, ReplicationProtocol.TWOPC_PREPARE,
                    p.txId, ReplicationProtocol.TWOPC_KIND_PROMOTE));
            }
        }
        maybeFinishPromotion();
    }

    private void abortTo(final Promotion p)
    {
        for (final PeerState peer : peers)
        {
            if (peer.isUp())
            {
                peer.link.send(StreamKind.CONTROL, FRAMES.get().twoPc(ALLOC, ReplicationProtocol.TWOPC_ABORT,
                    p.txId, ReplicationProtocol.TWOPC_KIND_PROMOTE));
            }
        }
    }

    private void abortPromotion(final String why)
    {
        final Promotion p = promotion;
        promotion = null;
        abortTo(p);
        p.result.completeExceptionally(new ReplicationException(why));
    }

    /** Under the lock. */
    private void becomePrimary(final boolean force)
    {
        boolean allReplicating = true;
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            if (force && stores[v] != null && diskStates[v] != DiskState.UP_TO_DATE)
            {
                // The operator declares this copy the newest: every other copy must be synced from it.
                diskStates[v] = DiskState.UP_TO_DATE;
                try
                {
                    metas[v].setDiskState(DiskState.UP_TO_DATE);
                }
                catch (final IOException ex)
                {
                    LOG.log(Level.ERROR, spec.name() + "/" + v + ": cannot persist the forced disk state", ex);
                }
                for (final PeerState peer : peers)
                {
                    if (peer.outOfSync[v] != null)
                    {
                        peer.outOfSync[v].setAll();
                        peer.replication[v] = ReplicationState.OFF;
                        peer.sameGen[v] = false;
                        peer.replicationReason[v] = "resync needed: " + spec.nodeName() + " was made Primary by force";
                    }
                }
            }
            for (final PeerState peer : peers)
            {
                if (!peer.isDiskless(v) && !peer.replicates(v))
                {
                    allReplicating = false;
                }
            }
        }
        persistPrimaryFlag(true); // before the first write: a crash from here on is a crash as Primary
        reconcileAfterLostPrimary(null); // our own copy is the truth: the peers ask for the blocks that may differ
        role = Role.PRIMARY;
        for (final PeerState peer : peers)
        {
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                peer.replicatingSince[v] = peer.replicates(v) ? metas[v].currentGen() : 0;
            }
        }
        LOG.log(Level.INFO, "{0}: {1} is Primary", spec.name(), spec.nodeName());
        if (force)
        {
            rotateForAbsentPeers("made Primary by force", true);
        }

        broadcastState();
    }

    /**
     * Become Secondary. Writes still in flight complete; new ones are refused.
     *
     * @return completes when Secondary, or fails with {@link ReplicationException} when NBD clients still write
     *         through this node.
     */
    public CompletableFuture<Void> demote()
    {
        synchronized (this)
        {
            if (role != Role.PRIMARY)
            {
                return CompletableFuture.completedFuture(null);
            }
            if (writers > 0)
            {
                return CompletableFuture.failedFuture(new ReplicationException(writers +
                    " NBD connection(s) still write through " + spec.nodeName() + " (disconnect them first)"));
            }
            becomeSecondary();
            // Done when every connected peer knows (as a cluster-wide state change): another node may be promoted
            // right after, without finding this one still Primary in its view.
            final CompletableFuture<Void> done = new CompletableFuture<>();
            demotions.add(done);
            for (final PeerState peer : peers)
            {
                if (peer.isUp())
                {
                    peer.stateAcksPending++;
                    sendState(peer, ReplicationProtocol.STATE_FLAG_ACK_REQUESTED);
                }
            }
        }
        publish();
        completeDemotions();
        return demotions.isEmpty() ? CompletableFuture.completedFuture(null) : lastDemotion();
    }

    private synchronized CompletableFuture<Void> lastDemotion()
    {
        return demotions.isEmpty() ? CompletableFuture.completedFuture(null) : demotions.get(demotions.size() - 1);
    }

    /** Not under the lock: complete the demotions once no connected peer still has to acknowledge the STATE. */
    private void completeDemotions()
    {
        final List<CompletableFuture<Void>> done;
        synchronized (this)
        {
            for (final PeerState peer : peers)
            {
                if (!closed && peer.isUp() && peer.stateAcksPending > 0)
                {
                    return;
                }
            }
            done = new ArrayList<>(demotions);
            demotions.clear();
        }
        done.forEach((f) -> f.complete(null));
    }

    private void persistPrimaryFlag(final boolean primary)
    {
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            if (stores[v] != null)
            {
                try
                {
                    metas[v].setPrimary(primary);
                }
                catch (final IOException ex)
                {
                    LOG.log(Level.ERROR, spec.name() + "/" + v + ": cannot persist the role", ex);
                }
            }
        }
    }

    private void becomeSecondary()
    {
        persistPrimaryFlag(false);
        role = Role.SECONDARY;
        dropDisklessBits();
        autoPromoted = false;
        LOG.log(Level.INFO, "{0}: {1} is Secondary", spec.name(), spec.nodeName());
        broadcastState();
        checkQuorum(); // requests held for quorum are released (and refused: this node is Secondary now)
    }

    /**
     * Under the lock, as Secondary: a node without a disk keeps bits only while it is Primary (in memory; it is the
     * source of the copies that missed its writes). They go now, with any resync it ran: each target asks the next
     * source, whose generations tell what it lacks.
     */
    private void dropDisklessBits()
    {
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            if (stores[v] != null)
            {
                continue;
            }
            for (final PeerState peer : peers)
            {
                if (peer.resyncActive[v])
                {
                    peer.resyncActive[v] = false;
                    peer.replicateDuringResync[v] = false;
                    peer.replication[v] = ReplicationState.OFF;
                    peer.replicationReason[v] = "resync stopped: " + spec.nodeName() + " is Secondary now";
                    peer.link.send(StreamKind.DATA, FRAMES.get().resyncEnd(ALLOC, v, 0, 0));
                }
                if (peer.outOfSync[v] != null)
                {
                    peer.outOfSync[v].clearAll();
                    setBitmapBase(peer, v, 0, 0);
                }
            }
        }
    }

    /**
     * An NBD connection wants to write (auto-promote): it becomes a writer once this node is Primary, promoting it
     * when no other node is.
     *
     * @return completes when the connection may write, or fails saying why it may not.
     */
    public CompletableFuture<Void> acquireWriter()
    {
        synchronized (this)
        {
            if (role == Role.PRIMARY)
            {
                writers++;
                return CompletableFuture.completedFuture(null);
            }
        }
        return promote(false).thenRun(() ->
        {
            synchronized (this)
            {
                if (writers == 0)
                {
                    autoPromoted = true;
                }
                writers++;
            }
            publish();
        });
    }

    /** A writing NBD connection closed: the last one demotes a node that was promoted for it. */
    public void releaseWriter()
    {
        boolean demoted = false;
        synchronized (this)
        {
            if (writers > 0 && --writers == 0 && autoPromoted && role == Role.PRIMARY)
            {
                becomeSecondary();
                demoted = true;
            }
        }
        if (demoted)
        {
            publish();
        }
    }

    /** @return the number of NBD connections that write through this node. */
    public synchronized int writers()
    {
        return writers;
    }

    private void onTwoPc(final PeerState peer, final Frame frame)
    {
        final ByteBuf body = frame.content();
        final long txId = body.getLongLE(body.readerIndex() + TwoPcFlyweight.TX_ID_OFFSET);
        String no = null;
        int verdict = ReplicationProtocol.TWOPC_NO;
        synchronized (this)
        {
            switch (frame.type())
            {
                case ReplicationProtocol.TWOPC_PREPARE:
                    if (role == Role.PRIMARY)
                    {
                        no = spec.nodeName() + " is Primary for resource " + spec.name();
                    }
                    else if (promotion != null)
                    {
                        // Both promoting: both back off and retry at random moments (one of them then wins).
                        no = spec.nodeName() + " is becoming Primary for resource " + spec.name();
                        verdict = ReplicationProtocol.TWOPC_RETRY;
                    }
                    else if (grantedTo != null && grantedTo != peer)
                    {
                        no = grantedTo.name() + " is becoming Primary for resource " + spec.name();
                        verdict = ReplicationProtocol.TWOPC_RETRY;
                    }
                    else if (otherConnectedPrimary() != null && otherConnectedPrimary() != peer)
                    {
                        // The candidate does not hear that Primary (a cut link): a second one would split the data.
                        // Worth a retry: our view may be a moment behind (the Primary just died or demoted).
                        no = otherConnectedPrimary().name() + " is Primary for resource " + spec.name() + " (seen by " +
                            spec.nodeName() + ")";
                        verdict = ReplicationProtocol.TWOPC_RETRY;
                    }
                    else
                    {
                        grantedTo = peer;
                        grantedTx = txId;
                    }
                    peer.link.send(StreamKind.CONTROL, FRAMES.get().twoPcReply(ALLOC, txId,
                        no == null ? ReplicationProtocol.TWOPC_YES : verdict, no == null ? "" : no));
                    break;
                case ReplicationProtocol.TWOPC_COMMIT:
                    if (grantedTo == peer && grantedTx == txId)
                    {
                        grantedTo = null;
                        peer.role = Role.PRIMARY; // before its STATE arrives on the data stream
                        if (role != Role.PRIMARY)
                        {
                            reconcileAfterLostPrimary(peer);
                        }
                    }
                    break;
                default:
                    if (grantedTo == peer && grantedTx == txId)
                    {
                        grantedTo = null;
                    }
                    break;
            }
        }
        publish();
    }

    private void onTwoPcReply(final PeerState peer, final Frame frame)
    {
        final ByteBuf body = frame.content();
        final TwoPcReplyFlyweight reply = twoPcReply.wrap(view.wrapForRead(body, body.readerIndex(),
            frame.bodyLength()), 0);
        final long txId = reply.txId();
        final int verdict = reply.verdict();
        final String message = verdict == ReplicationProtocol.TWOPC_YES ? null : reply.message();
        synchronized (this)
        {
            final Promotion p = promotion;
            if (p == null || p.txId != txId || !p.waitingFor.remove(peer))
            {
                return;
            }
            if (message != null && (p.refusal == null || p.conflict))
            {
                // A definite NO (someone is Primary) wins over a conflict worth retrying.
                p.refusal = message.isEmpty() ? peer.name() + " refused" : message;
                p.conflict = verdict == ReplicationProtocol.TWOPC_RETRY;
            }
            maybeFinishPromotion();
        }
        publish();
    }

    // ---- status and events --------------------------------------------------------------------------------------

    /** @return a snapshot of the resource on this node. */
    public synchronized ResourceStatus status()
    {
        final List<ResourceStatus.DeviceStatus> devices = new ArrayList<>();
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            devices.add(new ResourceStatus.DeviceStatus(v, diskStates[v], stores[v] == null, spec.volumeSizes()[v],
                readBytes[v], writtenBytes[v], upperPending, lowerPending));
        }
        final List<ResourceStatus.ConnectionStatus> connections = new ArrayList<>();
        for (final PeerState peer : peers)
        {
            final List<ResourceStatus.PeerDeviceStatus> peerDevices = new ArrayList<>();
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                final boolean target = syncSource[v] == peer && peer.targetFirstNs[v] != 0;
                final long outOfSync = target ? peer.targetOutOfSync[v] :
                    peer.outOfSync[v] == null ? 0 : peer.outOfSync[v].outOfSyncBytes();
                final long size = spec.volumeSizes()[v];
                long rate = 0;
                long secondsLeft = -1;
                if (peer.resyncActive[v])
                {
                    final long elapsedNs = Math.max(1, System.nanoTime() - peer.resyncStartNs[v]);
                    rate = (long)(peer.resyncSent[v] * 1e9 / elapsedNs);
                    secondsLeft = rate > 0 ? (outOfSync + rate - 1) / rate : -1;
                }
                else if (target)
                {
                    // The source's figures, as its RESYNC_PROGRESS reports them about once a second.
                    final long elapsedNs = Math.max(1, System.nanoTime() - peer.targetFirstNs[v]);
                    rate = (long)((peer.targetSent[v] - peer.targetFirstSent[v]) * 1e9 / elapsedNs);
                    secondsLeft = rate > 0 ? (outOfSync + rate - 1) / rate : -1;
                }
                final ReplicationState shown = !peer.isUp() ? ReplicationState.OFF :
                    verifySessions[peer.index][v] != null && peer.replication[v] == ReplicationState.ESTABLISHED ?
                    ReplicationState.VERIFY_S :
                    peer.resyncUserPaused && peer.replication[v] == ReplicationState.SYNC_SOURCE ?
                    ReplicationState.PAUSED_SYNC_S : peer.replication[v];
                peerDevices.add(new ResourceStatus.PeerDeviceStatus(v, shown,
                    peer.isUp() ? peer.diskStates[v] : DiskState.D_UNKNOWN, peer.isDiskless(v), outOfSync,
                    peer.sentBytes[v], peer.receivedBytes[v], peer.running.size() + peer.queued.size(),
                    peer.unackedRequests, size == 0 ? 100.0 : 100.0 * (size - outOfSync) / size, rate, secondsLeft));
            }
            connections.add(new ResourceStatus.ConnectionStatus(peer.name(), peer.spec.nodeId(),
                connectionState(peer), connectionReason(peer), peer.isUp() ? peer.role : Role.UNKNOWN,
                peer.isUp() && !peer.link.isWritable(StreamKind.DATA), peerDevices));
        }
        return new ResourceStatus(spec.name(), spec.nodeName(), spec.nodeId(), role, quorumLost &&
            spec.quorumSuspendIo(), devices, connections);
    }

    private ConnectionState connectionState(final PeerState peer)
    {
        if (peer.standAlone || closed)
        {
            return ConnectionState.STAND_ALONE;
        }
        return peer.isUp() ? ConnectionState.CONNECTED : ConnectionState.CONNECTING;
    }

    private String connectionReason(final PeerState peer)
    {
        if (peer.isUp())
        {
            for (final String reason : peer.replicationReason)
            {
                if (reason != null)
                {
                    return reason;
                }
            }
            return null;
        }
        if (peer.splitBrain)
        {
            return "SplitBrain";
        }
        if (peer.link == null)
        {
            return null;
        }
        final String refusal = peer.link.lastRefusal();
        return refusal != null ? refusal : peer.link.lastDownReason();
    }

    /**
     * Subscribe to state changes ({@code drbdsetup events2} style): first an "exists" event per object, then
     * {@code exists -}, then every change.
     *
     * @param listener called on engine threads; must not block.
     * @return closing it unsubscribes.
     */
    public AutoCloseable subscribe(final Consumer<StateEvent> listener)
    {
        synchronized (this)
        {
            for (final StateEvent event : published.values())
            {
                listener.accept(new StateEvent("exists", event.object(), event.fields()));
            }
            listeners.add(listener);
        }
        return () -> listeners.remove(listener);
    }

    /** Compare the current state with what was last published and tell listeners what changed. */
    void publish()
    {
        synchronized (this)
        {
            final Map<String, StateEvent> now = snapshotEvents();
            for (final Map.Entry<String, StateEvent> entry : now.entrySet())
            {
                final StateEvent before = published.get(entry.getKey());
                if (before == null || !before.fields().equals(entry.getValue().fields()))
                {
                    final StateEvent change = new StateEvent(before == null ? "create" : "change",
                        entry.getValue().object(), entry.getValue().fields());
                    for (final Consumer<StateEvent> listener : listeners)
                    {
                        listener.accept(change);
                    }
                }
            }
            published = now;
        }
    }

    private Map<String, StateEvent> snapshotEvents()
    {
        final Map<String, StateEvent> events = new LinkedHashMap<>();
        final Map<String, String> res = new LinkedHashMap<>();
        res.put("name", spec.name());
        res.put("role", role.displayName());
        res.put("suspended", quorumLost && spec.quorumSuspendIo() ? "quorum" : "no");
        res.put("writers", Integer.toString(writers));
        events.put("resource", new StateEvent("exists", "resource", res));
        for (int v = 0; v < spec.volumeCount(); v++)
        {
            final Map<String, String> dev = new LinkedHashMap<>();
            dev.put("name", spec.name());
            dev.put("volume", Integer.toString(v));
            dev.put("disk", diskStates[v].displayName());
            dev.put("client", stores[v] == null ? "yes" : "no");
            events.put("device/" + v, new StateEvent("exists", "device", dev));
        }
        for (final PeerState peer : peers)
        {
            final Map<String, String> conn = new LinkedHashMap<>();
            conn.put("name", spec.name());
            conn.put("peer-node-id", Integer.toString(peer.spec.nodeId()));
            conn.put("conn-name", peer.name());
            conn.put("connection", connectionState(peer).displayName());
            conn.put("role", (peer.isUp() ? peer.role : Role.UNKNOWN).displayName());
            events.put("connection/" + peer.name(), new StateEvent("exists", "connection", conn));
            for (int v = 0; v < spec.volumeCount(); v++)
            {
                final Map<String, String> pd = new LinkedHashMap<>();
                pd.put("name", spec.name());
                pd.put("peer-node-id", Integer.toString(peer.spec.nodeId()));
                pd.put("conn-name", peer.name());
                pd.put("volume", Integer.toString(v));
                pd.put("replication", (peer.isUp() ? peer.replication[v] : ReplicationState.OFF).displayName());
                pd.put("peer-disk", (peer.isUp() ? peer.diskStates[v] : DiskState.D_UNKNOWN).displayName());
                pd.put("peer-client", peer.isDiskless(v) ? "yes" : "no");
                events.put("peer-device/" + peer.name() + "/" + v, new StateEvent("exists", "peer-device", pd));
            }
        }
        return events;
    }

    /**
     * @param v volume.
     * @return the local copy's current generation in hex, or null when diskless (for status and tests).
     */
    public synchronized String currentGeneration(final int v)
    {
        return metas[v] == null || metas[v].currentGen() == 0 ? null : VolumeMeta.hex(metas[v].currentGen());
    }

    /** @return the links' transport, or null when the resource has no peers (tests use it to cut links). */
    public synchronized NettyPeerTransport transport()
    {
        return transport;
    }

    @Override
    public String toString()
    {
        return "ReplicatedResource[" + spec.name() + " on " + spec.nodeName() + "]";
    }

    private static String names(final Set<PeerState> set)
    {
        final List<String> names = new ArrayList<>();
        set.forEach((p) -> names.add(p.name()));
        names.sort(String::compareTo);
        return String.join(", ", names);
    }

    /** An outgoing promotion waiting for its peers' answers. */
    private static final class Promotion
    {
        final long txId;
        final boolean force;
        final Set<PeerState> waitingFor = new HashSet<>();
        final CompletableFuture<Void> result;
        final int attempt;
        String refusal;
        /** The refusal came from a concurrent promotion: worth another attempt. */
        boolean conflict;

        Promotion(final long txId, final boolean force, final CompletableFuture<Void> result, final int attempt)
        {
            this.txId = txId;
            this.force = force;
            this.result = result;
            this.attempt = attempt;
        }

        void onPeerGone(final PeerState peer)
        {
            waitingFor.remove(peer);
        }
    }
}
