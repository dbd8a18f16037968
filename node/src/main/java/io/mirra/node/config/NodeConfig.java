package io.mirra.node.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * One node of a resource, as named under {@code nodes:} in its resource file.
 *
 * @param name           node name, {@code [a-z0-9][a-z0-9-]*}, the {@code --name} given to {@code mirra node}.
 * @param nodeId         node id 0..32, unique within the resource (persisted with the bitmaps).
 * @param address        replication address of this node for this resource.
 * @param nbd            NBD listen address of the node.
 * @param admin          admin endpoint of the node.
 * @param stateDir       state directory of the node (metadata, bitmaps, generation identifiers).
 * @param disks          per volume number (the list index), the disk path, or empty when diskless.
 * @param tlsCertificate the node's TLS certificate (PEM), present when the resource uses TLS.
 * @param tlsKey         the node's TLS private key (PEM), present when the resource uses TLS.
 */
public record NodeConfig(
    String name,
    int nodeId,
    HostPort address,
    HostPort nbd,
    HostPort admin,
    Path stateDir,
    List<Optional<Path>> disks,
    Optional<Path> tlsCertificate,
    Optional<Path> tlsKey)
{
    /**
     * Copies the list of disks so that the record is immutable.
     */
    public NodeConfig
    {
        disks = List.copyOf(disks);
    }

    /**
     * The disk of one volume.
     *
     * @param volume volume number.
     * @return the disk path, or empty when this node is diskless for that volume.
     */
    public Optional<Path> disk(final int volume)
    {
        return disks.get(volume);
    }

    /**
     * Whether the node is diskless for one volume.
     *
     * @param volume volume number.
     * @return true when the node keeps no copy of that volume.
     */
    public boolean isDiskless(final int volume)
    {
        return disks.get(volume).isEmpty();
    }
}
