package io.mirra.node.admin;

import io.mirra.engine.replication.ResourceStatus;
import io.mirra.engine.replication.StateEvent;

import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * What the admin endpoint of a running node can do: the operations behind {@code mirra status}, {@code primary},
 * {@code secondary}, {@code up}, {@code down}, {@code connect}, {@code disconnect} and {@code events} (SPEC §3).
 * Implemented by the node; the admin server only parses requests and formats answers.
 * <p>
 * Threading: every method may be called from any thread and may block (at most for the operation's own deadline).
 * A refused operation throws {@link AdminException} with one line that says why.
 */
public interface AdminOps
{
    /** @return this node's name. */
    String nodeName();

    /**
     * @param resource a resource name, or empty for all of the node's resources.
     * @return their status, sorted by resource name.
     * @throws AdminException for an unknown resource.
     */
    List<ResourceStatus> status(Optional<String> resource) throws AdminException;

    /**
     * Make this node Primary for the resource.
     *
     * @param resource the resource.
     * @param force    DRBD's {@code --force}: accept an Inconsistent or Outdated local disk as the newest data.
     * @throws AdminException when refused (another node is Primary, no UpToDate data, unknown resource, ...).
     */
    void primary(String resource, boolean force) throws AdminException;

    /**
     * Make this node Secondary for the resource.
     *
     * @param resource the resource.
     * @throws AdminException when refused (NBD clients still write through this node, unknown resource, ...).
     */
    void secondary(String resource) throws AdminException;

    /**
     * Bring the resource up on this node: open its disks, serve its exports, connect to its peers.
     *
     * @param resource the resource.
     * @throws AdminException when it cannot (unknown resource, a disk that cannot be opened, ...). Up on a
     *                        resource that is up is not an error.
     */
    void up(String resource) throws AdminException;

    /**
     * Take the resource down on this node: disconnect, stop its exports, close its disks.
     *
     * @param resource the resource.
     * @throws AdminException when refused (this node is Primary, unknown resource). Down on a resource that is down
     *                        is not an error.
     */
    void down(String resource) throws AdminException;

    /**
     * Start connecting to one peer, or to every peer.
     *
     * @param resource      the resource.
     * @param peer          a peer's node name, or empty for all.
     * @param discardMyData in a split brain with them, this node's changes lose ({@code --discard-my-data}).
     * @throws AdminException for an unknown resource or peer, a resource that is down, or discarding on a Primary.
     */
    void connect(String resource, Optional<String> peer, boolean discardMyData) throws AdminException;

    /**
     * Disconnect from one peer, or from every peer, and stay disconnected (StandAlone) until {@link #connect}.
     *
     * @param resource the resource.
     * @param peer     a peer's node name, or empty for all.
     * @throws AdminException for an unknown resource or peer, or a resource that is down.
     */
    void disconnect(String resource, Optional<String> peer) throws AdminException;

    /**
     * Start an online verify of one volume or every volume against every connected peer with a copy; it runs in the
     * background, the blocks found different show as out of sync, the result goes to the node's log.
     *
     * @param resource the resource.
     * @param volume   a volume number, or empty for all.
     * @throws AdminException when refused: unknown or down resource or volume, no peer connected, a copy not
     *                        UpToDate, or a verify already running.
     */
    void verify(String resource, java.util.OptionalInt volume) throws AdminException;

    /**
     * Attach or detach the local disk of one volume or every volume.
     *
     * @param resource the resource.
     * @param volume   a volume number, or empty for all.
     * @param attach   true to attach (then a full resync from a peer), false to detach (I/O goes to the peers).
     * @throws AdminException for an unknown or down resource or volume, nothing to attach or detach, or attaching
     *                        on a Primary.
     */
    void attachDisk(String resource, java.util.OptionalInt volume, boolean attach) throws AdminException;

    /**
     * Tests only: make a node's disk fail every request with an errno (0 heals it); refused unless the node was
     * started with fault injection enabled ({@code MIRRA_TEST_FAULTS=1}).
     *
     * @param resource the resource.
     * @param volume   the volume.
     * @param errno    e.g. 5 (EIO) or 28 (ENOSPC); 0 to heal.
     * @throws AdminException when fault injection is off, or the node has no disk there.
     */
    void injectDiskFault(String resource, int volume, int errno) throws AdminException;

    /**
     * Read the configuration again and apply what changed to running resources: {@code bitmap-block-size} live;
     * anything else is refused naming what needs a {@code down} and {@code up}. A resource not running here takes
     * the new configuration at its next {@code up}.
     *
     * @param resource one resource, or empty for all of this node's.
     * @return a line saying what was applied (empty when nothing).
     * @throws AdminException for an invalid configuration (nothing changes) or changes a running resource cannot
     *                        take.
     */
    String adjust(Optional<String> resource) throws AdminException;

    /**
     * Pause or resume resyncs from this node to one peer or every peer.
     *
     * @param resource the resource.
     * @param peer     a peer's node name, or empty for all.
     * @param pause    true to pause, false to resume.
     * @throws AdminException for an unknown or down resource or peer, or pausing on the SyncTarget.
     */
    void pauseSync(String resource, Optional<String> peer, boolean pause) throws AdminException;

    /**
     * Declare every copy of the resource identical without a resync ({@code new-current-uuid --clear-bitmap}).
     *
     * @param resource    the resource.
     * @param clearBitmap must be true: a new generation alone is not offered.
     * @throws AdminException when refused: unknown or down resource, no --clear-bitmap, a peer not connected, a node
     *                        Primary, or a copy that is not Inconsistent.
     */
    void newCurrentUuid(String resource, boolean clearBitmap) throws AdminException;

    /**
     * Declare this node's copy of the resource unknown (Inconsistent) and take a full resync from an UpToDate peer.
     *
     * @param resource the resource.
     * @param volume   a volume number, or empty for all.
     * @throws AdminException when refused: unknown or down resource, this node is Primary or diskless, or no
     *                        connected peer has an UpToDate copy.
     */
    void invalidate(String resource, java.util.OptionalInt volume) throws AdminException;

    /**
     * Subscribe to state changes. The listener first receives an "exists" event for every object of every resource
     * that is up, then a {@code call -} event marking the end of that dump, then every change as it happens.
     *
     * @param listener called on an engine thread; must not block.
     * @return closing it ends the subscription.
     */
    AutoCloseable subscribe(Consumer<StateEvent> listener);
}
