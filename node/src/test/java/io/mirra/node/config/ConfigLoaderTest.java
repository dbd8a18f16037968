package io.mirra.node.config;

import io.mirra.node.config.ConnectionOptions.Compression;
import io.mirra.node.config.ConnectionOptions.Protocol;
import io.mirra.node.config.ResourceOptions.AfterSplitBrain;
import io.mirra.node.config.ResourceOptions.OnNoQuorum;
import io.mirra.node.config.ResourceOptions.Quorum;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static io.mirra.node.config.ConfigFixtures.BASE;
import static io.mirra.node.config.ConfigFixtures.assertError;
import static io.mirra.node.config.ConfigFixtures.base;
import static io.mirra.node.config.ConfigFixtures.lineOf;
import static io.mirra.node.config.ConfigFixtures.reject;
import static io.mirra.node.config.ConfigFixtures.replace;
import static io.mirra.node.config.ConfigFixtures.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Valid configurations: the documented example, defaults, node selection and export names. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ConfigLoaderTest
{
    @TempDir
    Path dir;

    /** The first {@code ```yaml} block of docs/configuration.md, so that docs and code cannot drift. */
    static String docsExample() throws IOException
    {
        final Path moduleDir = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
        final Path doc = moduleDir.toAbsolutePath().getParent().resolve("docs").resolve("configuration.md");
        final String text = Files.readString(doc, StandardCharsets.UTF_8);
        final int start = text.indexOf("```yaml\n");
        assertTrue(start >= 0, "no ```yaml block in " + doc);
        final int end = text.indexOf("\n```", start + 8);
        return text.substring(start + 8, end + 1);
    }

    @Test
    void shouldParseTheDocumentedExample() throws Exception
    {
        final Path config = Files.createDirectories(dir.resolve("mirra-demo").resolve("config"));
        write(config, "demo.yaml", docsExample());

        final List<ResourceConfig> resources = ConfigLoader.load(config);

        assertEquals(1, resources.size());
        final ResourceConfig demo = resources.get(0);
        final Path demoDir = dir.resolve("mirra-demo").toAbsolutePath();
        assertEquals("demo", demo.name());
        assertEquals(config.resolve("demo.yaml"), demo.file());
        assertEquals(List.of(new VolumeConfig(0, 1L << 30)), demo.volumes());
        assertEquals(List.of(
            new NodeConfig("alpha", 0, new HostPort("127.0.0.1", 7789), new HostPort("127.0.0.1", 10809),
                new HostPort("127.0.0.1", 7801), demoDir.resolve("alpha"),
                List.of(Optional.of(demoDir.resolve("alpha").resolve("demo-0.img"))), Optional.empty(),
                Optional.empty()),
            new NodeConfig("bravo", 1, new HostPort("127.0.0.1", 7790), new HostPort("127.0.0.1", 10810),
                new HostPort("127.0.0.1", 7802), demoDir.resolve("bravo"),
                List.of(Optional.of(demoDir.resolve("bravo").resolve("demo-0.img"))), Optional.empty(),
                Optional.empty()),
            new NodeConfig("charlie", 2, new HostPort("127.0.0.1", 7791), new HostPort("127.0.0.1", 10811),
                new HostPort("127.0.0.1", 7803), demoDir.resolve("charlie"), List.of(Optional.empty()),
                Optional.empty(), Optional.empty())),
            demo.nodes());
        assertEquals(new ResourceOptions(Quorum.MAJORITY, OnNoQuorum.SUSPEND_IO, 4096,
            AfterSplitBrain.DISCARD_ZERO_CHANGES, AfterSplitBrain.DISCARD_SECONDARY, AfterSplitBrain.DISCONNECT,
            250L * 1024, 100L * 1024 * 1024, 1237, true), demo.options());
        assertEquals(new ConnectionOptions(Protocol.C, Compression.NONE, false, Optional.empty(),
            Optional.of("demo-secret-change-me"), true, 6000, false), demo.connection());
        assertTrue(demo.node("charlie").orElseThrow().isDiskless(0));
        assertEquals(List.of("alpha", "bravo"),
            demo.peersOf("charlie").stream().map(NodeConfig::name).toList());
    }

    @Test
    void shouldApplyDefaults() throws Exception
    {
        write(dir, "r1.yaml", BASE);

        final ResourceConfig r1 = ConfigLoader.load(dir).get(0);

        assertEquals(ResourceOptions.defaults(), r1.options());
        assertEquals(Quorum.OFF, r1.options().quorum());
        assertEquals(4096, r1.options().bitmapBlockSizeBytes());
        assertEquals(Protocol.C, r1.connection().protocol());
        assertEquals(Compression.NONE, r1.connection().compression());
        assertFalse(r1.connection().tls());
        assertEquals(List.of(0, 1), r1.nodes().stream().map(NodeConfig::nodeId).toList());
        assertEquals(dir.toAbsolutePath().resolve("alpha"), r1.nodes().get(0).stateDir());
    }

    @Test
    void shouldAcceptSizesWithUnits() throws Exception
    {
        final String text = base("    size: 1G\n",
            "    size: 4096\n  1:\n    size: 512M\n  2:\n    size: 10GiB\n  3:\n    size: 8k\n");
        final String withDisks = replace(replace(text, "        disk: alpha/r1-0.img\n",
            "        disk: alpha/r1-0.img\n      1: {disk: a1}\n      2: {disk: a2}\n      3: {disk: /dev/sdx}\n"),
            "        disk: diskless\n",
            "        disk: diskless\n      1: {disk: diskless}\n      2: {disk: diskless}\n" +
            "      3: {disk: diskless}\n");
        write(dir, "r1.yaml", withDisks);

        final ResourceConfig r1 = ConfigLoader.load(dir).get(0);

        assertEquals(List.of(4096L, 512L << 20, 10L << 30, 8192L),
            r1.volumes().stream().map(VolumeConfig::sizeBytes).toList());
        assertEquals(Optional.of(Path.of("/dev/sdx")), r1.node("alpha").orElseThrow().disk(3));
    }

    @Test
    void shouldAcceptEveryOption() throws Exception
    {
        final String text = replace(BASE, "connection:\n  secret: s3cret-s3cret\n", """
            options:
              quorum: 2
              on-no-quorum: io-error
              bitmap-block-size: 1MiB
              after-sb-0pri: discard-least-changes
              after-sb-1pri: consensus
              resync-rate-min: 0
              resync-rate-max: 1G
              al-extents: 257
              resync-controller: fixed
            connection:
              resync-without-replication: false
              peer-timeout: 2500ms
              resync-checksums: true
              protocol: A
              compression: lz4
              tls: true
              tls-ca: /etc/mirra/ca.pem
              secret: "s3cret: with colon"
            """);
        final String tlsText = replace(replace(text, "    state-dir: alpha\n",
            "    state-dir: alpha\n    tls-certificate: alpha.pem\n    tls-key: alpha.key\n"),
            "    state-dir: bravo\n", "    state-dir: bravo\n    tls-certificate: bravo.pem\n    tls-key: bravo.key\n");
        write(dir, "r1.yml", tlsText);

        final ResourceConfig r1 = ConfigLoader.load(dir).get(0);

        assertEquals(new ResourceOptions(Quorum.fixed(2), OnNoQuorum.IO_ERROR, 1 << 20,
            AfterSplitBrain.DISCARD_LEAST_CHANGES, AfterSplitBrain.CONSENSUS, AfterSplitBrain.DISCONNECT,
            0, 1L << 30, 257, false), r1.options());
        assertEquals(new ConnectionOptions(Protocol.A, Compression.LZ4, true, Optional.of(Path.of("/etc/mirra/ca.pem")),
            Optional.of("s3cret: with colon"), false, 2500, true), r1.connection());
        assertEquals(Optional.of(dir.toAbsolutePath().resolve("bravo.key")), r1.nodes().get(1).tlsKey());
    }

    @Test
    void shouldAcceptSingleNodeResourceWithoutSecret() throws Exception
    {
        final String text = replace(base("connection:\n  secret: s3cret-s3cret\n", ""),
            BASE.substring(BASE.indexOf("  bravo:"), BASE.indexOf("connection:")), "");
        write(dir, "r1.yaml", text);

        final ResourceConfig r1 = ConfigLoader.load(dir).get(0);

        assertEquals(1, r1.nodes().size());
        assertEquals(Optional.empty(), r1.connection().secret());
    }

    @Test
    void shouldAcceptIpv6AndHostNames() throws Exception
    {
        write(dir, "r1.yaml", replace(base("address: 127.0.0.1:7001", "address: '[::1]:7001'"),
            "nbd: 127.0.0.1:8002", "nbd: bravo.example.com:10809"));

        final ResourceConfig r1 = ConfigLoader.load(dir).get(0);

        assertEquals(new HostPort("::1", 7001), r1.nodes().get(0).address());
        assertEquals("[::1]:7001", r1.nodes().get(0).address().toString());
        assertEquals(new HostPort("bravo.example.com", 10809), r1.nodes().get(1).nbd());
    }

    @Test
    void shouldNeverShowTheSecret() throws Exception
    {
        write(dir, "r1.yaml", BASE);

        final ResourceConfig r1 = ConfigLoader.load(dir).get(0);

        assertFalse(r1.toString().contains("s3cret-s3cret"), r1.toString());
        assertFalse(r1.connection().toString().contains("s3cret-s3cret"));
        assertTrue(r1.connection().toString().contains("secret=(hidden)"));
    }

    @Test
    void shouldReportEveryErrorOfTheDirectoryTogether() throws IOException
    {
        final String a = replace(base("size: 1G", "size: 1000"), "disk: diskless", "disk: 42");
        final String b = replace(replace(replace(BASE, "resource: r1", "resource: r2"), "700", "710"),
            "alpha/r1-0.img", "alpha/r2-0.img") + "options:\n  quorum: most\n";
        write(dir, "a.yaml", a);
        write(dir, "b.yaml", b);

        final ConfigException ex = reject(dir);

        assertEquals(3, ex.errors().size(), ex.getMessage());
        assertEquals(3, ex.getMessage().lines().count());
        assertError(ex, "a.yaml", lineOf(a, "size:"), "volumes.0.size", "multiple of 4 KiB");
        assertError(ex, "a.yaml", lineOf(a, "disk: 42"), "nodes.bravo.volumes.0.disk", "got 42");
        assertError(ex, "b.yaml", lineOf(b, "quorum:"), "options.quorum", "got 'most'");
        assertTrue(ex.getMessage().startsWith("a.yaml:" + lineOf(a, "size:") + ": "), ex.getMessage());
    }

    @Test
    void shouldReportSeveralErrorsOfOneFile() throws IOException
    {
        final String text = replace(replace(base("nbd: 127.0.0.1:8002", "nbd: 8002"), "size: 1G", "size: big"),
            "    state-dir: alpha\n", "");

        final ConfigException ex = reject(dir, "r1.yaml", text);

        assertEquals(3, ex.errors().size(), ex.getMessage());
        assertError(ex, "r1.yaml", lineOf(text, "size:"), "volumes.0.size", "got 'big'");
        assertError(ex, "r1.yaml", lineOf(text, "alpha:"), "nodes.alpha.state-dir", "missing required key");
        assertError(ex, "r1.yaml", lineOf(text, "nbd: 8002"), "nodes.bravo.nbd", "expected HOST:PORT");
    }

    @Test
    void shouldSelectTheResourcesOfOneNode() throws Exception
    {
        write(dir, "r1.yaml", BASE);
        write(dir, "r2.yaml", """
            resource: r2
            volumes: {0: {size: 64M}, 1: {size: 64M}}
            nodes:
              alpha:
                address: 127.0.0.1:7101
                nbd: 127.0.0.1:8001
                admin: 127.0.0.1:9001
                state-dir: alpha
                volumes: {0: {disk: alpha/r2-0.img}, 1: {disk: alpha/r2-1.img}}
              charlie:
                address: 127.0.0.1:7103
                nbd: 127.0.0.1:8003
                admin: 127.0.0.1:9003
                state-dir: charlie
                volumes: {0: {disk: diskless}, 1: {disk: charlie/r2-1.img}}
            connection: {secret: another-secret}
            """);
        write(dir, ".hidden.yaml", "not: [valid");
        write(dir, "README.txt", "ignored");

        assertEquals(List.of("r1", "r2"), names(ConfigLoader.forNode(dir, "alpha")));
        assertEquals(List.of("r1"), names(ConfigLoader.forNode(dir, "bravo")));
        assertEquals(List.of("r2"), names(ConfigLoader.forNode(dir, "charlie")));
        final ConfigException ex = assertThrows(ConfigException.class, () -> ConfigLoader.forNode(dir, "delta"));
        assertEquals(dir + ": node 'delta' is in no resource; the nodes named are: alpha, bravo, charlie",
            ex.getMessage());
    }

    @Test
    void shouldRejectTheWholeDirectoryForOneNode() throws IOException
    {
        write(dir, "r1.yaml", BASE);
        write(dir, "r9.yaml", "resource: r9\n");

        final ConfigException ex = assertThrows(ConfigException.class, () -> ConfigLoader.forNode(dir, "alpha"));

        assertError(ex, "r9.yaml", 1, "volumes", "missing required key");
    }

    @Test
    void shouldNameExportsAsResourceSlashVolume()
    {
        assertEquals("demo/0", ResourceConfig.exportName("demo", 0));
        assertEquals(List.of("demo/0", "demo"), ResourceConfig.exportNames("demo", 0));
        assertEquals(List.of("demo/3"), ResourceConfig.exportNames("demo", 3));
    }

    private static List<String> names(final List<ResourceConfig> resources)
    {
        return resources.stream().map(ResourceConfig::name).toList();
    }
}
