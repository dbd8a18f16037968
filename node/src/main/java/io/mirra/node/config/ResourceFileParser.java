package io.mirra.node.config;

import io.mirra.node.config.ConnectionOptions.Compression;
import io.mirra.node.config.ConnectionOptions.Protocol;
import io.mirra.node.config.ResourceOptions.AfterSplitBrain;
import io.mirra.node.config.ResourceOptions.OnNoQuorum;
import io.mirra.node.config.ResourceOptions.Quorum;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.schema.CoreSchema;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Parses and validates one resource file. Every problem is added to the shared error list; parsing goes on after
 * an error so that one run reports them all. Not thread-safe: one instance per file.
 */
final class ResourceFileParser
{
    static final List<String> TOP_KEYS = List.of("resource", "volumes", "nodes", "options", "connection");
    static final List<String> VOLUME_KEYS = List.of("size");
    static final List<String> NODE_KEYS = List.of(
        "node-id", "address", "nbd", "admin", "state-dir", "volumes", "tls-certificate", "tls-key");
    static final List<String> NODE_VOLUME_KEYS = List.of("disk");
    static final List<String> OPTION_KEYS = List.of("quorum", "on-no-quorum", "bitmap-block-size",
        "after-sb-0pri", "after-sb-1pri", "after-sb-2pri", "resync-rate-min", "resync-rate-max",
        "al-extents", "resync-controller");
    static final List<String> CONNECTION_KEYS = List.of("protocol", "compression", "tls", "tls-ca", "secret",
        "resync-without-replication", "peer-timeout", "resync-checksums");

    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    private static final String DISKLESS = "diskless";

    /**
     * A place where an address or path is used, for the checks across nodes and files.
     *
     * @param value comparison key of the address or path.
     * @param owner who uses it; two uses of one value by the same owner are not a conflict.
     * @param node  node name, for the consistency of per-node settings across resources.
     * @param kind  the key name ({@code address}, {@code nbd}, {@code admin}, {@code state-dir}, {@code disk}).
     * @param file  file name.
     * @param line  line.
     * @param key   full key path.
     */
    record Use(String value, String owner, String node, String kind, String file, int line, String key)
    {
    }

    /**
     * The outcome of one file.
     *
     * @param resource the resource, or null when the file has errors.
     * @param file     file name relative to the config directory.
     * @param name     the resource name, or null when it could not be read.
     * @param nameLine line of the resource name.
     * @param uses     addresses and paths used, for cross checks.
     */
    record Result(ResourceConfig resource, String file, String name, int nameLine, List<Use> uses)
    {
    }

    /** A key of a mapping with its value. */
    private record Entry(String name, String path, Node keyNode, Node value)
    {
        int line()
        {
            return lineOf(keyNode);
        }
    }

    private final Path configDir;
    private final Path file;
    private final String fileName;
    private final List<ConfigError> errors;
    private final List<Use> uses = new ArrayList<>();
    private String resourceName;

    ResourceFileParser(final Path configDir, final Path file, final List<ConfigError> errors)
    {
        this.configDir = configDir;
        this.file = file;
        this.fileName = configDir.relativize(file).toString();
        this.errors = errors;
    }

    Result parse(final String text)
    {
        final int errorsBefore = errors.size();
        final Node root = compose(text);
        if (root == null)
        {
            return new Result(null, fileName, null, 0, List.of());
        }
        final Map<String, Entry> top = fields(root, "", 1, TOP_KEYS);
        if (top == null)
        {
            return new Result(null, fileName, null, 0, List.of());
        }
        final Entry nameEntry = require(top, "resource", "", 1);
        resourceName = nameEntry == null ? null : name(nameEntry, "resource name");
        final List<VolumeConfig> volumes = volumes(require(top, "volumes", "", 1));
        final ResourceOptions options = top.containsKey("options") ? options(top.get("options")) : null;
        final ConnectionOptions connection = top.containsKey("connection") ?
            connection(top.get("connection")) : defaultConnection();
        final Entry nodesEntry = require(top, "nodes", "", 1);
        final List<NodeConfig> nodes = nodes(nodesEntry, volumes, connection != null && connection.tls());

        if (nodes != null)
        {
            checkResourceWide(top, nodesEntry, nodes, volumes, options, connection);
        }
        final ResourceConfig resource = errors.size() == errorsBefore ? new ResourceConfig(
            resourceName, file, volumes, nodes, options == null ? ResourceOptions.defaults() : options, connection) :
            null;
        final int nameLine = nameEntry == null ? 0 : nameEntry.line();
        return new Result(resource, fileName, resourceName, nameLine, List.copyOf(uses));
    }

    private Node compose(final String text)
    {
        final LoadSettings settings = LoadSettings.builder().setLabel(fileName).setSchema(new CoreSchema()).build();
        try
        {
            final Iterator<Node> documents = new Compose(settings).composeAllFromString(text).iterator();
            if (!documents.hasNext())
            {
                error(1, "", "empty file; expected a resource (see docs/configuration.md)");
                return null;
            }
            final Node root = documents.next();
            if (documents.hasNext())
            {
                final Node second = documents.next();
                error(lineOf(second), "", "a second YAML document starts here; put one resource per file");
                return null;
            }
            return root;
        }
        catch (final MarkedYamlEngineException ex)
        {
            final Optional<Mark> mark = ex.getProblemMark().isPresent() ? ex.getProblemMark() : ex.getContextMark();
            final String context = ex.getContext() == null ? "" : " (" + ex.getContext() + ")";
            error(mark.map((m) -> m.getLine() + 1).orElse(0), "", "YAML syntax error: " + ex.getProblem() + context);
            return null;
        }
        catch (final YamlEngineException ex)
        {
            error(0, "", "YAML syntax error: " + ex.getMessage());
            return null;
        }
    }

    private List<VolumeConfig> volumes(final Entry entry)
    {
        if (entry == null)
        {
            return null;
        }
        final List<Entry> items = entries(entry);
        if (items == null)
        {
            return null;
        }
        final int errorsBefore = errors.size();
        final TreeMap<Integer, VolumeConfig> byNumber = new TreeMap<>();
        for (final Entry item : items)
        {
            final Integer number = volumeNumber(item);
            final Map<String, Entry> fields = fields(item.value(), item.path(), item.line(), VOLUME_KEYS);
            if (fields == null)
            {
                continue;
            }
            final Entry sizeEntry = require(fields, "size", item.path(), item.line());
            final Long size = sizeEntry == null ? null : size(sizeEntry);
            if (size != null && size % ConfigLoader.SIZE_ALIGNMENT != 0)
            {
                error(sizeEntry.line(), sizeEntry.path(), "size must be a multiple of 4 KiB (4096 bytes), got " +
                    size + " bytes");
            }
            else if (size != null && size > ConfigLoader.MAX_VOLUME_SIZE)
            {
                error(sizeEntry.line(), sizeEntry.path(), "size must be at most 1 PiB, got " + Sizes.format(size));
            }
            else if (number != null && size != null)
            {
                byNumber.put(number, new VolumeConfig(number, size));
            }
        }
        if (items.isEmpty())
        {
            error(entry.line(), entry.path(), "at least one volume is required");
            return null;
        }
        if (errors.size() != errorsBefore)
        {
            return null;
        }
        int expected = 0;
        for (final int number : byNumber.keySet())
        {
            if (number != expected)
            {
                error(entry.line(), entry.path(), "volume numbers must be contiguous from 0; volume " + expected +
                    " is missing");
                return null;
            }
            expected++;
        }
        return List.copyOf(byNumber.values());
    }

    private Integer volumeNumber(final Entry item)
    {
        try
        {
            final int number = Integer.parseInt(item.name());
            if (number >= 0 && number <= ConfigLoader.MAX_VOLUME_NUMBER && item.name().equals(Integer.toString(number)))
            {
                return number;
            }
        }
        catch (final NumberFormatException ignored)
        {
            // reported below
        }
        error(item.line(), item.path(), "expected a volume number 0.." + ConfigLoader.MAX_VOLUME_NUMBER +
            ", got '" + item.name() + "'");
        return null;
    }

    private ResourceOptions options(final Entry entry)
    {
        final Map<String, Entry> f = fields(entry.value(), entry.path(), entry.line(), OPTION_KEYS);
        if (f == null)
        {
            return null;
        }
        final int errorsBefore = errors.size();
        final ResourceOptions d = ResourceOptions.defaults();
        final Quorum quorum = f.containsKey("quorum") ? quorum(f.get("quorum")) : d.quorum();
        final OnNoQuorum onNoQuorum = f.containsKey("on-no-quorum") ?
            choice(f.get("on-no-quorum"), OnNoQuorum.values(), OnNoQuorum::configName) : d.onNoQuorum();
        final Integer bitmap = f.containsKey("bitmap-block-size") ?
            bitmapBlockSize(f.get("bitmap-block-size")) : Integer.valueOf(d.bitmapBlockSizeBytes());
        final AfterSplitBrain sb0 = afterSb(f.get("after-sb-0pri"), AfterSplitBrain.DISCONNECT,
            AfterSplitBrain.DISCARD_ZERO_CHANGES, AfterSplitBrain.DISCARD_YOUNGER_PRIMARY,
            AfterSplitBrain.DISCARD_LEAST_CHANGES);
        final AfterSplitBrain sb1 = afterSb(f.get("after-sb-1pri"), AfterSplitBrain.DISCONNECT,
            AfterSplitBrain.DISCARD_SECONDARY, AfterSplitBrain.CONSENSUS);
        final AfterSplitBrain sb2 = afterSb(f.get("after-sb-2pri"), AfterSplitBrain.DISCONNECT);
        final Long rateMin = f.containsKey("resync-rate-min") ?
            size(f.get("resync-rate-min")) : Long.valueOf(d.resyncRateMinBytesPerSec());
        final Long rateMax = f.containsKey("resync-rate-max") ?
            size(f.get("resync-rate-max")) : Long.valueOf(d.resyncRateMaxBytesPerSec());
        if (rateMax != null && rateMax == 0)
        {
            final Entry e = f.get("resync-rate-max");
            error(e.line(), e.path(), "must be positive, got 0");
        }
        else if (rateMin != null && rateMax != null && rateMin > rateMax)
        {
            final Entry e = f.containsKey("resync-rate-min") ? f.get("resync-rate-min") : f.get("resync-rate-max");
            error(e.line(), e.path(), "resync-rate-min (" + Sizes.format(rateMin) +
                "/s) must not exceed resync-rate-max (" + Sizes.format(rateMax) + "/s)");
        }
        final Integer alExtents = f.containsKey("al-extents") ?
            integer(f.get("al-extents"), 1, ResourceOptions.AL_EXTENTS_MAX, "number of extents") :
            Integer.valueOf(d.alExtents());
        final String controller = f.containsKey("resync-controller") ?
            choice(f.get("resync-controller"), new String[] {"adaptive", "fixed"}, (x) -> x) : "adaptive";
        if (errors.size() != errorsBefore)
        {
            return null;
        }
        return new ResourceOptions(quorum, onNoQuorum, bitmap, sb0, sb1, sb2, rateMin, rateMax, alExtents,
            "adaptive".equals(controller));
    }

    private Quorum quorum(final Entry e)
    {
        if (e.value() instanceof ScalarNode s && Tag.INT.equals(s.getTag()))
        {
            final Integer votes = integer(e, 1, ConfigLoader.MAX_NODES, "number of votes");
            return votes == null ? null : Quorum.fixed(votes);
        }
        if (e.value() instanceof ScalarNode s && Tag.STR.equals(s.getTag()))
        {
            if ("off".equals(s.getValue()))
            {
                return Quorum.OFF;
            }
            if ("majority".equals(s.getValue()))
            {
                return Quorum.MAJORITY;
            }
        }
        error(lineOf(e.value(), e.line()), e.path(), "expected off, majority or a number of votes, got " +
            describe(e.value()));
        return null;
    }

    private Integer bitmapBlockSize(final Entry e)
    {
        final Long size = size(e);
        if (size == null)
        {
            return null;
        }
        if (size < ResourceOptions.BITMAP_BLOCK_SIZE_MIN || size > ResourceOptions.BITMAP_BLOCK_SIZE_MAX ||
            Long.bitCount(size) != 1)
        {
            error(e.line(), e.path(), "expected a power of two from 4 KiB to 1 MiB, got " + Sizes.format(size));
            return null;
        }
        return size.intValue();
    }

    private AfterSplitBrain afterSb(final Entry e, final AfterSplitBrain... allowed)
    {
        return e == null ? AfterSplitBrain.DISCONNECT : choice(e, allowed, AfterSplitBrain::configName);
    }

    private static ConnectionOptions defaultConnection()
    {
        return new ConnectionOptions(Protocol.C, Compression.NONE, false, Optional.empty(), Optional.empty(), true,
            ConnectionOptions.PEER_TIMEOUT_MS_DEFAULT, false);
    }

    private ConnectionOptions connection(final Entry entry)
    {
        final Map<String, Entry> f = fields(entry.value(), entry.path(), entry.line(), CONNECTION_KEYS);
        if (f == null)
        {
            return null;
        }
        final int errorsBefore = errors.size();
        final Protocol protocol = f.containsKey("protocol") ?
            choice(f.get("protocol"), Protocol.values(), Protocol::name) : Protocol.C;
        final Compression compression = f.containsKey("compression") ?
            choice(f.get("compression"), Compression.values(), Compression::configName) : Compression.NONE;
        final Boolean tls = f.containsKey("tls") ? bool(f.get("tls")) : Boolean.FALSE;
        Path tlsCa = null;
        if (f.containsKey("tls-ca"))
        {
            tlsCa = path(f.get("tls-ca"));
        }
        else if (Boolean.TRUE.equals(tls))
        {
            error(entry.line(), entry.path() + ".tls-ca", "missing required key (needed when tls is true)");
        }
        final Boolean withoutReplication = f.containsKey("resync-without-replication") ?
            bool(f.get("resync-without-replication")) : Boolean.TRUE;
        final Long peerTimeout = f.containsKey("peer-timeout") ? millis(f.get("peer-timeout")) :
            Long.valueOf(ConnectionOptions.PEER_TIMEOUT_MS_DEFAULT);
        final Boolean checksums = f.containsKey("resync-checksums") ? bool(f.get("resync-checksums")) : Boolean.FALSE;
        String secret = null;
        if (f.containsKey("secret"))
        {
            secret = secret(f.get("secret"));
        }
        if (errors.size() != errorsBefore)
        {
            return null;
        }
        return new ConnectionOptions(protocol, compression, tls, Optional.ofNullable(tlsCa),
            Optional.ofNullable(secret), withoutReplication, peerTimeout, checksums);
    }

    private String secret(final Entry e)
    {
        if (!(e.value() instanceof ScalarNode s) || !Tag.STR.equals(s.getTag()))
        {
            // the value is never shown: it may be (part of) a secret
            error(lineOf(e.value(), e.line()), e.path(), "expected a string of at least " +
                ConnectionOptions.SECRET_MIN_LENGTH + " characters (value not shown)");
            return null;
        }
        if (s.getValue().length() < ConnectionOptions.SECRET_MIN_LENGTH)
        {
            error(lineOf(e.value(), e.line()), e.path(), "must be at least " + ConnectionOptions.SECRET_MIN_LENGTH +
                " characters long (value not shown)");
            return null;
        }
        return s.getValue();
    }

    private List<NodeConfig> nodes(final Entry entry, final List<VolumeConfig> volumes, final boolean tls)
    {
        if (entry == null)
        {
            return null;
        }
        final List<Entry> items = entries(entry);
        if (items == null)
        {
            return null;
        }
        if (items.isEmpty())
        {
            error(entry.line(), entry.path(), "at least one node is required");
            return null;
        }
        if (items.size() > ConfigLoader.MAX_NODES)
        {
            error(entry.line(), entry.path(), "at most " + ConfigLoader.MAX_NODES + " nodes per resource, got " +
                items.size());
        }
        final int errorsBefore = errors.size();
        final List<NodeConfig> nodes = new ArrayList<>();
        final Map<Integer, Entry> nodeIds = new LinkedHashMap<>();
        boolean complete = true;
        for (int i = 0; i < items.size(); i++)
        {
            final NodeConfig node = node(items.get(i), i, volumes, tls);
            if (node == null)
            {
                complete = false;
            }
            else
            {
                final Entry previous = nodeIds.putIfAbsent(node.nodeId(), items.get(i));
                if (previous != null)
                {
                    error(items.get(i).line(), items.get(i).path() + ".node-id", "node-id " + node.nodeId() +
                        " is already used by node " + previous.name() + " (line " + previous.line() + ")");
                }
                nodes.add(node);
            }
        }
        return errors.size() == errorsBefore && complete ? nodes : null;
    }

    private NodeConfig node(final Entry item, final int index, final List<VolumeConfig> volumes, final boolean tls)
    {
        final String name = NAME.matcher(item.name()).matches() ? item.name() : null;
        if (name == null)
        {
            error(item.line(), item.path(), "node names are lower-case letters, digits and '-' (at most 63), got '" +
                item.name() + "'");
        }
        final Map<String, Entry> f = fields(item.value(), item.path(), item.line(), NODE_KEYS);
        if (f == null)
        {
            return null;
        }
        final int errorsBefore = errors.size();
        final Integer nodeId = f.containsKey("node-id") ?
            integer(f.get("node-id"), 0, ConfigLoader.MAX_NODES - 1, "node id") : Integer.valueOf(index);
        final HostPort address = addressUse(require(f, "address", item.path(), item.line()),
            "address:" + resourceName + ":" + name, name);
        final HostPort nbd = addressUse(require(f, "nbd", item.path(), item.line()), "nbd:" + name, name);
        final HostPort admin = addressUse(require(f, "admin", item.path(), item.line()), "admin:" + name, name);
        final Path stateDir = pathUse(require(f, "state-dir", item.path(), item.line()), "state-dir:" + name, name);
        final List<Optional<Path>> disks = nodeVolumes(require(f, "volumes", item.path(), item.line()), volumes, name);
        Path certificate = null;
        Path key = null;
        if (f.containsKey("tls-certificate"))
        {
            certificate = path(f.get("tls-certificate"));
        }
        else if (tls)
        {
            error(item.line(), item.path() + ".tls-certificate", "missing required key (needed when tls is true)");
        }
        if (f.containsKey("tls-key"))
        {
            key = path(f.get("tls-key"));
        }
        else if (tls)
        {
            error(item.line(), item.path() + ".tls-key", "missing required key (needed when tls is true)");
        }
        if (errors.size() != errorsBefore || name == null || nodeId == null || address == null || nbd == null ||
            admin == null || stateDir == null || disks == null)
        {
            return null;
        }
        return new NodeConfig(name, nodeId, address, nbd, admin, stateDir, disks, Optional.ofNullable(certificate),
            Optional.ofNullable(key));
    }

    private List<Optional<Path>> nodeVolumes(final Entry entry, final List<VolumeConfig> volumes, final String node)
    {
        if (entry == null)
        {
            return null;
        }
        final List<Entry> items = entries(entry);
        if (items == null)
        {
            return null;
        }
        final int errorsBefore = errors.size();
        final Map<Integer, Optional<Path>> disks = new TreeMap<>();
        for (final Entry item : items)
        {
            final Integer number = volumeNumber(item);
            if (number != null && volumes != null && number >= volumes.size())
            {
                error(item.line(), item.path(), "volume " + number + " is not defined under volumes (0.." +
                    (volumes.size() - 1) + ")");
            }
            final Map<String, Entry> f = fields(item.value(), item.path(), item.line(), NODE_VOLUME_KEYS);
            if (f == null)
            {
                continue;
            }
            final Entry disk = require(f, "disk", item.path(), item.line());
            if (disk == null)
            {
                continue;
            }
            if (disk.value() instanceof ScalarNode s && Tag.STR.equals(s.getTag()) && DISKLESS.equals(s.getValue()))
            {
                if (number != null)
                {
                    disks.put(number, Optional.empty());
                }
            }
            else if (disk.value() instanceof ScalarNode s && Tag.STR.equals(s.getTag()) && !s.getValue().isBlank())
            {
                final Path path = pathUse(disk, "disk:" + resourceName + ":" + node + ":" + number, node);
                if (number != null && path != null)
                {
                    disks.put(number, Optional.of(path));
                }
            }
            else
            {
                error(lineOf(disk.value(), disk.line()), disk.path(), "expected a path or 'diskless', got " +
                    describe(disk.value()));
            }
        }
        if (volumes != null)
        {
            for (int v = 0; v < volumes.size(); v++)
            {
                if (!disks.containsKey(v) && errors.size() == errorsBefore)
                {
                    error(entry.line(), entry.path() + "." + v, "missing; give the volume's disk path or " +
                        "'disk: diskless'");
                }
            }
        }
        return errors.size() == errorsBefore && volumes != null ? List.copyOf(disks.values()) : null;
    }

    private void checkResourceWide(
        final Map<String, Entry> top,
        final Entry nodesEntry,
        final List<NodeConfig> nodes,
        final List<VolumeConfig> volumes,
        final ResourceOptions options,
        final ConnectionOptions connection)
    {
        if (options != null && options.quorum().votes() > nodes.size())
        {
            final Entry quorum = optionEntry(top, "options", "quorum");
            error(quorum.line(), quorum.path(), "quorum of " + options.quorum().votes() +
                " votes is more than the " + nodes.size() + " nodes of the resource");
        }
        if (connection != null && connection.secret().isEmpty() && nodes.size() > 1)
        {
            final Entry section = top.get("connection");
            error(section == null ? 1 : section.line(), "connection.secret",
                "missing required key (a resource with more than one node needs a shared secret)");
        }
        if (volumes != null)
        {
            for (final VolumeConfig volume : volumes)
            {
                if (nodes.stream().allMatch((n) -> n.isDiskless(volume.number())))
                {
                    error(nodesEntry.line(), nodesEntry.path(), "every node is diskless for volume " +
                        volume.number() + "; at least one node needs a disk");
                }
            }
        }
    }

    private Entry optionEntry(final Map<String, Entry> top, final String section, final String key)
    {
        final Map<String, Entry> f = fields(top.get(section).value(), section, 0, null);
        return f.get(key);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Typed values: each returns null after reporting an error.

    private String name(final Entry e, final String what)
    {
        if (e.value() instanceof ScalarNode s && Tag.STR.equals(s.getTag()) && NAME.matcher(s.getValue()).matches())
        {
            return s.getValue();
        }
        error(lineOf(e.value(), e.line()), e.path(), "expected a " + what +
            " of lower-case letters, digits and '-' (at most 63), got " + describe(e.value()));
        return null;
    }

    private HostPort addressUse(final Entry e, final String owner, final String node)
    {
        if (e == null)
        {
            return null;
        }
        final HostPort hostPort = hostPort(e);
        if (hostPort != null)
        {
            uses.add(new Use(hostPort.key(), owner, node, e.name(), fileName, e.line(), e.path()));
        }
        return hostPort;
    }

    private HostPort hostPort(final Entry e)
    {
        if (e.value() instanceof ScalarNode s && Tag.STR.equals(s.getTag()))
        {
            final HostPort hostPort = HostPort.parse(s.getValue());
            if (hostPort != null && hostPort.port() >= 1)
            {
                return hostPort;
            }
            if (hostPort != null || portOutOfRange(s.getValue()))
            {
                error(lineOf(e.value(), e.line()), e.path(), "port must be 1..65535, got " + describe(e.value()));
                return null;
            }
        }
        error(lineOf(e.value(), e.line()), e.path(), "expected HOST:PORT (IPv6 as [ADDR]:PORT), got " +
            describe(e.value()));
        return null;
    }

    /** True for a well-formed HOST:NUMBER whose number is not a valid port, so the message can say so. */
    private static boolean portOutOfRange(final String text)
    {
        final String trimmed = text.trim();
        final int colon = trimmed.lastIndexOf(':');
        return colon > 0 && trimmed.substring(colon + 1).matches("[0-9]+") &&
            HostPort.parse(trimmed.substring(0, colon) + ":0") != null;
    }

    private Path pathUse(final Entry e, final String owner, final String node)
    {
        if (e == null)
        {
            return null;
        }
        final Path path = path(e);
        if (path != null)
        {
            uses.add(new Use(path.toString(), owner, node, e.name(), fileName, e.line(), e.path()));
        }
        return path;
    }

    private Path path(final Entry e)
    {
        if (e.value() instanceof ScalarNode s && Tag.STR.equals(s.getTag()) && !s.getValue().isBlank())
        {
            try
            {
                return configDir.resolve(s.getValue()).toAbsolutePath().normalize();
            }
            catch (final InvalidPathException ex)
            {
                error(lineOf(e.value(), e.line()), e.path(), "not a valid path: " + ex.getReason());
                return null;
            }
        }
        error(lineOf(e.value(), e.line()), e.path(), "expected a path, got " + describe(e.value()));
        return null;
    }

    private Long size(final Entry e)
    {
        if (e.value() instanceof ScalarNode s && (Tag.INT.equals(s.getTag()) || Tag.STR.equals(s.getTag())))
        {
            final long size = Sizes.parse(s.getValue());
            if (size == -2)
            {
                error(lineOf(e.value(), e.line()), e.path(), "size is too large: " + describe(e.value()));
                return null;
            }
            if (size >= 0)
            {
                if (size == 0 && !e.name().equals("resync-rate-min"))
                {
                    error(lineOf(e.value(), e.line()), e.path(), "must be positive, got 0");
                    return null;
                }
                return size;
            }
        }
        error(lineOf(e.value(), e.line()), e.path(), "expected a size such as 4096, 512M, 1G or 10GiB, got " +
            describe(e.value()));
        return null;
    }

    /** A duration: {@code 500ms}, {@code 6s}, or a plain number of milliseconds; 10 ms to 1 hour. */
    private Long millis(final Entry e)
    {
        if (e.value() instanceof ScalarNode s && (Tag.INT.equals(s.getTag()) || Tag.STR.equals(s.getTag())))
        {
            final java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]{1,9})(ms|s)?")
                .matcher(s.getValue().strip());
            if (m.matches())
            {
                final long value = Long.parseLong(m.group(1)) * ("s".equals(m.group(2)) ? 1000 : 1);
                if (value >= 10 && value <= 3_600_000)
                {
                    return value;
                }
                error(lineOf(e.value(), e.line()), e.path(), "expected 10ms to 3600s, got " + describe(e.value()));
                return null;
            }
        }
        error(lineOf(e.value(), e.line()), e.path(), "expected a duration such as 500ms or 6s, got " +
            describe(e.value()));
        return null;
    }

    private Integer integer(final Entry e, final int min, final int max, final String what)
    {
        if (e.value() instanceof ScalarNode s && Tag.INT.equals(s.getTag()))
        {
            try
            {
                final int value = Integer.parseInt(s.getValue());
                if (value >= min && value <= max)
                {
                    return value;
                }
            }
            catch (final NumberFormatException ignored)
            {
                // reported below
            }
        }
        error(lineOf(e.value(), e.line()), e.path(), "expected a " + what + " " + min + ".." + max + ", got " +
            describe(e.value()));
        return null;
    }

    private Boolean bool(final Entry e)
    {
        if (e.value() instanceof ScalarNode s && Tag.BOOL.equals(s.getTag()))
        {
            return Boolean.parseBoolean(s.getValue().toLowerCase(java.util.Locale.ROOT));
        }
        error(lineOf(e.value(), e.line()), e.path(), "expected true or false, got " + describe(e.value()));
        return null;
    }

    private <E> E choice(final Entry e, final E[] allowed, final java.util.function.Function<E, String> spelling)
    {
        if (e.value() instanceof ScalarNode s && Tag.STR.equals(s.getTag()))
        {
            for (final E value : allowed)
            {
                if (spelling.apply(value).equals(s.getValue()))
                {
                    return value;
                }
            }
        }
        final List<String> names = new ArrayList<>();
        for (final E value : allowed)
        {
            names.add(spelling.apply(value));
        }
        error(lineOf(e.value(), e.line()), e.path(), "expected " + oneOf(names) + ", got " + describe(e.value()));
        return null;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Mappings.

    /** A mapping with fixed keys: reports unknown (with a suggestion) and duplicate keys. */
    private Map<String, Entry> fields(final Node node, final String path, final int line, final List<String> allowed)
    {
        if (!(node instanceof MappingNode mapping))
        {
            error(lineOf(node, line), path.isEmpty() ? "" : path, "expected a mapping of keys, got " +
                describe(node));
            return null;
        }
        final Map<String, Entry> out = new LinkedHashMap<>();
        for (final NodeTuple tuple : mapping.getValue())
        {
            final Entry entry = entry(tuple, path);
            if (entry == null)
            {
                continue;
            }
            if (allowed != null && !allowed.contains(entry.name()))
            {
                error(entry.line(), entry.path(), "unknown key" + KeyHints.suggest(entry.name(), allowed));
                continue;
            }
            final Entry previous = out.putIfAbsent(entry.name(), entry);
            if (previous != null && allowed != null)
            {
                error(entry.line(), entry.path(), "duplicate key (first at line " + previous.line() + ")");
            }
        }
        return out;
    }

    /** A mapping with free keys (volume numbers, node names): reports duplicate keys. */
    private List<Entry> entries(final Entry parent)
    {
        if (!(parent.value() instanceof MappingNode mapping))
        {
            error(lineOf(parent.value(), parent.line()), parent.path(), "expected a mapping, got " +
                describe(parent.value()));
            return null;
        }
        final Map<String, Entry> seen = new LinkedHashMap<>();
        final List<Entry> out = new ArrayList<>();
        for (final NodeTuple tuple : mapping.getValue())
        {
            final Entry entry = entry(tuple, parent.path());
            if (entry == null)
            {
                continue;
            }
            final Entry previous = seen.putIfAbsent(entry.name(), entry);
            if (previous != null)
            {
                error(entry.line(), entry.path(), "duplicate key (first at line " + previous.line() + ")");
                continue;
            }
            out.add(entry);
        }
        return out;
    }

    private Entry entry(final NodeTuple tuple, final String path)
    {
        if (tuple.getKeyNode() instanceof ScalarNode key && !Tag.NULL.equals(key.getTag()))
        {
            return new Entry(key.getValue(), path.isEmpty() ? key.getValue() : path + "." + key.getValue(),
                key, tuple.getValueNode());
        }
        error(lineOf(tuple.getKeyNode()), path, "expected a plain key, got " + describe(tuple.getKeyNode()));
        return null;
    }

    private Entry require(final Map<String, Entry> fields, final String key, final String path, final int line)
    {
        final Entry entry = fields.get(key);
        if (entry == null)
        {
            error(line, path.isEmpty() ? key : path + "." + key, "missing required key");
        }
        return entry;
    }

    // ---------------------------------------------------------------------------------------------------------

    private void error(final int line, final String key, final String message)
    {
        errors.add(new ConfigError(fileName, line, key, message));
    }

    static int lineOf(final Node node)
    {
        return node.getStartMark().map((m) -> m.getLine() + 1).orElse(0);
    }

    private static int lineOf(final Node node, final int fallback)
    {
        final int line = lineOf(node);
        return line > 0 ? line : fallback;
    }

    static String describe(final Node node)
    {
        if (node instanceof MappingNode)
        {
            return "a mapping";
        }
        if (node instanceof SequenceNode)
        {
            return "a list";
        }
        final ScalarNode scalar = (ScalarNode)node;
        if (Tag.NULL.equals(scalar.getTag()))
        {
            return "nothing";
        }
        return Tag.STR.equals(scalar.getTag()) ? "'" + scalar.getValue() + "'" : scalar.getValue();
    }

    private static String oneOf(final List<String> names)
    {
        if (names.size() == 1)
        {
            return "'" + names.get(0) + "'";
        }
        final StringBuilder sb = new StringBuilder("one of ");
        for (int i = 0; i < names.size(); i++)
        {
            sb.append(i == 0 ? "" : i == names.size() - 1 ? " or " : ", ").append(names.get(i));
        }
        return sb.toString();
    }
}
