package io.mirra.node.config;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Reads a config directory: every {@code *.yaml} / {@code *.yml} file in it (not in sub-directories, not hidden
 * files) holds one resource (docs/configuration.md). Validation is strict and complete: unknown keys, wrong types,
 * missing keys, impossible sizes and duplicate addresses or paths, within a file and across the files of the
 * directory, are all collected and reported together in one {@link ConfigException}.
 * <p>
 * Relative paths in a resource file are resolved against the config directory. Stateless and thread-safe.
 */
public final class ConfigLoader
{
    /** Volume sizes must be a multiple of this many bytes (4 KiB, the smallest bitmap block). */
    public static final long SIZE_ALIGNMENT = 4096;
    /** Largest volume size: 1 PiB (as DRBD). */
    public static final long MAX_VOLUME_SIZE = 1L << 50;
    /** Largest volume number (DRBD's 16-bit volume numbers). */
    public static final int MAX_VOLUME_NUMBER = 65534;
    /** Most nodes per resource: 33, so 32 peers per node. */
    public static final int MAX_NODES = 33;

    private static final Set<String> PER_NODE_KINDS = Set.of("nbd", "admin", "state-dir");

    private ConfigLoader()
    {
    }

    /**
     * Reads and validates every resource file of a directory.
     *
     * @param dir the config directory.
     * @return the resources, ordered by file name.
     * @throws ConfigException listing every problem found, one per line.
     */
    public static List<ResourceConfig> load(final Path dir) throws ConfigException
    {
        final Path configDir = dir.toAbsolutePath().normalize();
        if (!Files.isDirectory(configDir))
        {
            throw new ConfigException(List.of(new ConfigError(dir.toString(), 0, "", "no such config directory")));
        }
        final List<Path> files;
        try (Stream<Path> list = Files.list(configDir))
        {
            files = list.filter(ConfigLoader::isResourceFile).sorted().toList();
        }
        catch (final IOException ex)
        {
            throw new ConfigException(List.of(new ConfigError(dir.toString(), 0, "", "cannot list: " + ex)));
        }
        if (files.isEmpty())
        {
            throw new ConfigException(List.of(new ConfigError(dir.toString(), 0, "",
                "no resource files (*.yaml, *.yml) in the config directory")));
        }

        final List<ConfigError> errors = new ArrayList<>();
        final List<ResourceFileParser.Result> results = new ArrayList<>();
        for (final Path file : files)
        {
            final String text;
            try
            {
                text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(Files.readAllBytes(file))).toString();
            }
            catch (final CharacterCodingException ex)
            {
                errors.add(new ConfigError(configDir.relativize(file).toString(), 0, "", "not UTF-8 text"));
                continue;
            }
            catch (final IOException ex)
            {
                errors.add(new ConfigError(configDir.relativize(file).toString(), 0, "", "cannot read: " + ex));
                continue;
            }
            results.add(new ResourceFileParser(configDir, file, errors).parse(text));
        }
        checkResourceNames(results, errors);
        checkUses(results, errors);
        if (!errors.isEmpty())
        {
            final List<ConfigError> sorted = new ArrayList<>(errors);
            sorted.sort(Comparator.comparing(ConfigError::file).thenComparingInt(ConfigError::line));
            throw new ConfigException(sorted);
        }
        return results.stream().map(ResourceFileParser.Result::resource).toList();
    }

    /**
     * The resources one node runs: reads and validates the whole directory (the same files are on every node, so
     * any error anywhere is an error), then keeps the resources whose {@code nodes} include the node.
     *
     * @param dir      the config directory.
     * @param nodeName the node, as given to {@code mirra node --name}.
     * @return the node's resources, ordered by file name; never empty.
     * @throws ConfigException when the directory is invalid or no resource names the node.
     */
    public static List<ResourceConfig> forNode(final Path dir, final String nodeName) throws ConfigException
    {
        final List<ResourceConfig> all = load(dir);
        final List<ResourceConfig> mine = all.stream().filter((r) -> r.node(nodeName).isPresent()).toList();
        if (mine.isEmpty())
        {
            final Set<String> known = new TreeSet<>();
            all.forEach((r) -> r.nodes().forEach((n) -> known.add(n.name())));
            throw new ConfigException(List.of(new ConfigError(dir.toString(), 0, "",
                "node '" + nodeName + "' is in no resource; the nodes named are: " + String.join(", ", known))));
        }
        return mine;
    }

    private static boolean isResourceFile(final Path path)
    {
        final String name = path.getFileName().toString();
        return !name.startsWith(".") && (name.endsWith(".yaml") || name.endsWith(".yml")) &&
            Files.isRegularFile(path);
    }

    private static void checkResourceNames(
        final List<ResourceFileParser.Result> results, final List<ConfigError> errors)
    {
        final Map<String, ResourceFileParser.Result> byName = new HashMap<>();
        for (final ResourceFileParser.Result result : results)
        {
            if (result.name() == null)
            {
                continue;
            }
            final ResourceFileParser.Result first = byName.putIfAbsent(result.name(), result);
            if (first != null)
            {
                errors.add(new ConfigError(result.file(), result.nameLine(), "resource", "resource '" +
                    result.name() + "' is already defined in " + first.file() + ":" + first.nameLine()));
            }
        }
    }

    /**
     * Two different uses of one address (any of address, nbd, admin) or one path (state-dir, disk) are an error,
     * and a node's nbd, admin and state-dir must be the same in every resource.
     */
    private static void checkUses(final List<ResourceFileParser.Result> results, final List<ConfigError> errors)
    {
        final Map<String, ResourceFileParser.Use> firstByValue = new HashMap<>();
        final Map<String, ResourceFileParser.Use> firstPerNode = new LinkedHashMap<>();
        for (final ResourceFileParser.Result result : results)
        {
            for (final ResourceFileParser.Use use : result.uses())
            {
                final boolean isPath = use.kind().equals("state-dir") || use.kind().equals("disk");
                final ResourceFileParser.Use first = firstByValue.putIfAbsent(
                    (isPath ? "path:" : "address:") + use.value(), use);
                if (first != null && !first.owner().equals(use.owner()))
                {
                    errors.add(new ConfigError(use.file(), use.line(), use.key(), use.value() +
                        " is already used by " + first.key() + " (" + first.file() + ":" + first.line() + ")"));
                }
                if (PER_NODE_KINDS.contains(use.kind()) && use.node() != null)
                {
                    final ResourceFileParser.Use sameNode = firstPerNode.putIfAbsent(
                        use.node() + "/" + use.kind(), use);
                    if (sameNode != null && !sameNode.value().equals(use.value()))
                    {
                        errors.add(new ConfigError(use.file(), use.line(), use.key(), "node " + use.node() +
                            " has " + use.kind() + " " + sameNode.value() + " in " + sameNode.file() + ":" +
                            sameNode.line() + "; a node has one " + use.kind() + " for all its resources"));
                    }
                }
            }
        }
    }
}
