package io.mirra.node.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * One resource, as read from one resource file.
 *
 * @param name       resource name, {@code [a-z0-9][a-z0-9-]*}, unique in the config directory.
 * @param file       the file it was read from.
 * @param volumes    volumes, index == volume number.
 * @param nodes      nodes in file order.
 * @param options    resource options.
 * @param connection options of every connection between its nodes.
 */
public record ResourceConfig(
    String name,
    Path file,
    List<VolumeConfig> volumes,
    List<NodeConfig> nodes,
    ResourceOptions options,
    ConnectionOptions connection)
{
    /**
     * Copies the lists so that the record is immutable.
     */
    public ResourceConfig
    {
        volumes = List.copyOf(volumes);
        nodes = List.copyOf(nodes);
    }

    /**
     * A node of this resource by name.
     *
     * @param nodeName node name.
     * @return the node, or empty when the resource does not live on it.
     */
    public Optional<NodeConfig> node(final String nodeName)
    {
        return nodes.stream().filter((n) -> n.name().equals(nodeName)).findFirst();
    }

    /**
     * The peers of one node: every other node of the resource.
     *
     * @param nodeName this node.
     * @return the other nodes, in file order.
     */
    public List<NodeConfig> peersOf(final String nodeName)
    {
        return nodes.stream().filter((n) -> !n.name().equals(nodeName)).toList();
    }

    /**
     * The canonical NBD export name of a volume: {@code R/N}.
     *
     * @param resource resource name.
     * @param volume   volume number.
     * @return {@code resource + "/" + volume}.
     */
    public static String exportName(final String resource, final int volume)
    {
        return resource + "/" + volume;
    }

    /**
     * Every NBD export name a volume is reachable under: {@code R/N}, and also {@code R} for volume 0.
     *
     * @param resource resource name.
     * @param volume   volume number.
     * @return the names, canonical name first.
     */
    public static List<String> exportNames(final String resource, final int volume)
    {
        return volume == 0 ? List.of(exportName(resource, 0), resource) : List.of(exportName(resource, volume));
    }
}
