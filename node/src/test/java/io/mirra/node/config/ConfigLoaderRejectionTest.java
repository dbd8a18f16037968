package io.mirra.node.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static io.mirra.node.config.ConfigFixtures.BASE;
import static io.mirra.node.config.ConfigFixtures.assertError;
import static io.mirra.node.config.ConfigFixtures.assertOnlyError;
import static io.mirra.node.config.ConfigFixtures.base;
import static io.mirra.node.config.ConfigFixtures.lineOf;
import static io.mirra.node.config.ConfigFixtures.reject;
import static io.mirra.node.config.ConfigFixtures.replace;
import static io.mirra.node.config.ConfigFixtures.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Every kind of invalid configuration is rejected naming the file, the line and the key. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ConfigLoaderRejectionTest
{
    private static final String R2 = """
        resource: r2
        volumes:
          0:
            size: 512M
        nodes:
          alpha:
            address: 127.0.0.1:7101
            nbd: 127.0.0.1:8001
            admin: 127.0.0.1:9001
            state-dir: alpha
            volumes:
              0:
                disk: alpha/r2-0.img
        """;

    @TempDir
    Path dir;

    @Test
    void shouldRejectUnknownKeyWithSuggestion() throws IOException
    {
        final String text = base("state-dir: alpha", "state-dir: alpha\n    adress: 127.0.0.1:7005");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "adress:"), "nodes.alpha.adress",
            "unknown key, did you mean 'address'?");
    }

    @Test
    void shouldRejectUnknownTopLevelKeyListingAllowedKeys() throws IOException
    {
        final String text = BASE + "colour: blue\n";
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "colour:"), "colour",
            "unknown key; allowed here: resource, volumes, nodes, options, connection");
    }

    @Test
    void shouldRejectWrongTypeForDisk() throws IOException
    {
        final String text = base("disk: alpha/r1-0.img", "disk: 42");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "disk: 42"), "nodes.alpha.volumes.0.disk",
            "expected a path or 'diskless', got 42");
    }

    @Test
    void shouldRejectMappingWhereAddressExpected() throws IOException
    {
        final String text = base("nbd: 127.0.0.1:8002", "nbd: {host: x}");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "nbd: {host"), "nodes.bravo.nbd",
            "expected HOST:PORT (IPv6 as [ADDR]:PORT), got a mapping");
    }

    @Test
    void shouldRejectMissingRequiredKey() throws IOException
    {
        final String text = base("    nbd: 127.0.0.1:8002\n", "");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "bravo:"), "nodes.bravo.nbd", "missing required key");
    }

    @Test
    void shouldRejectMissingResourceName() throws IOException
    {
        final String text = base("resource: r1\n", "");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", 1, "resource", "missing required key");
    }

    @Test
    void shouldRejectSizeNotMultipleOf4096() throws IOException
    {
        final String text = base("size: 1G", "size: 1000");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "size:"), "volumes.0.size",
            "size must be a multiple of 4 KiB (4096 bytes), got 1000 bytes");
    }

    @Test
    void shouldRejectZeroSize() throws IOException
    {
        final String text = base("size: 1G", "size: 0");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "size:"), "volumes.0.size", "must be positive, got 0");
    }

    @Test
    void shouldRejectMalformedSize() throws IOException
    {
        final String text = base("size: 1G", "size: 1.5G");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "size:"), "volumes.0.size",
            "expected a size such as 4096, 512M, 1G or 10GiB, got '1.5G'");
    }

    @Test
    void shouldRejectDecimalUnit() throws IOException
    {
        final String text = base("size: 1G", "size: 1GB");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "size:"), "volumes.0.size", "got '1GB'");
    }

    @Test
    void shouldRejectSizeAbove1PiB() throws IOException
    {
        final String text = base("size: 1G", "size: 2P");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "size:"), "volumes.0.size",
            "size must be at most 1 PiB, got 2 PiB");
    }

    @Test
    void shouldRejectSizeOverflowingLong() throws IOException
    {
        final String text = base("size: 1G", "size: 99999999999P");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "size:"), "volumes.0.size", "size is too large");
    }

    @Test
    void shouldRejectVolumeNumbersWithGap() throws IOException
    {
        final String text = base("    size: 1G\n", "    size: 1G\n  2:\n    size: 1G\n");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "volumes:"), "volumes",
            "volume numbers must be contiguous from 0; volume 1 is missing");
    }

    @Test
    void shouldRejectNonNumericVolumeKey() throws IOException
    {
        final String text = base("  0:\n    size: 1G", "  first:\n    size: 1G");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "first:"), "volumes.first",
            "expected a volume number 0..65534, got 'first'");
    }

    @Test
    void shouldRejectNodeVolumeNotDefined() throws IOException
    {
        final String text = base("        disk: alpha/r1-0.img\n",
            "        disk: alpha/r1-0.img\n      1:\n        disk: alpha/r1-1.img\n");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "      1:"), "nodes.alpha.volumes.1",
            "volume 1 is not defined under volumes (0..0)");
    }

    @Test
    void shouldRejectInvalidNodeName() throws IOException
    {
        final String text = base("  alpha:", "  Alpha:");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "Alpha:"), "nodes.Alpha",
            "node names are lower-case letters, digits and '-' (at most 63), got 'Alpha'");
    }

    @Test
    void shouldRejectInvalidResourceName() throws IOException
    {
        final String text = base("resource: r1", "resource: r_1");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", 1, "resource", "expected a resource name of lower-case letters");
    }

    @Test
    void shouldRejectMoreThan33Nodes() throws IOException
    {
        final StringBuilder text = new StringBuilder("resource: big\nvolumes:\n  0:\n    size: 1M\nnodes:\n");
        for (int i = 0; i < 34; i++)
        {
            text.append("  n").append(i).append(":\n")
                .append("    address: 10.0.0.").append(i).append(":7000\n")
                .append("    nbd: 10.0.0.").append(i).append(":8000\n")
                .append("    admin: 10.0.0.").append(i).append(":9000\n")
                .append("    state-dir: n").append(i).append("\n")
                .append("    volumes: {0: {disk: n").append(i).append("/big-0.img}}\n");
        }
        text.append("connection: {secret: long-enough-secret}\n");
        final ConfigException ex = reject(dir, "big.yaml", text.toString());
        assertOnlyError(ex, "big.yaml", 5, "nodes", "at most 33 nodes per resource, got 34");
    }

    @Test
    void shouldRejectDuplicateNodeId() throws IOException
    {
        final String text = base("    address: 127.0.0.1:7002", "    node-id: 0\n    address: 127.0.0.1:7002");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "bravo:"), "nodes.bravo.node-id",
            "node-id 0 is already used by node alpha (line " + lineOf(text, "alpha:") + ")");
    }

    @Test
    void shouldRejectDuplicateAddressAcrossNodes() throws IOException
    {
        final String text = base("nbd: 127.0.0.1:8002", "nbd: 127.0.0.1:8001");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "address: 127.0.0.1:7002") + 1, "nodes.bravo.nbd",
            "127.0.0.1:8001 is already used by nodes.alpha.nbd (r1.yaml:" + lineOf(text, "nbd: 127.0.0.1:8001") + ")");
    }

    @Test
    void shouldRejectSameAddressForTwoPurposes() throws IOException
    {
        final String text = base("admin: 127.0.0.1:9002", "admin: 127.0.0.1:7001");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "admin: 127.0.0.1:7001"), "nodes.bravo.admin",
            "127.0.0.1:7001 is already used by nodes.alpha.address (r1.yaml:" +
            lineOf(text, "address: 127.0.0.1:7001") + ")");
    }

    @Test
    void shouldRejectDuplicateAddressAcrossResources() throws IOException
    {
        write(dir, "r1.yaml", BASE);
        final String r2 = replace(R2, "address: 127.0.0.1:7101", "address: 127.0.0.1:7001");
        final ConfigException ex = reject(dir, "r2.yaml", r2);
        assertOnlyError(ex, "r2.yaml", lineOf(r2, "address:"), "nodes.alpha.address",
            "127.0.0.1:7001 is already used by nodes.alpha.address (r1.yaml:" +
            lineOf(BASE, "address: 127.0.0.1:7001") + ")");
    }

    @Test
    void shouldRejectNodeWhoseNbdDiffersBetweenResources() throws IOException
    {
        write(dir, "r1.yaml", BASE);
        final String r2 = replace(R2, "nbd: 127.0.0.1:8001", "nbd: 127.0.0.1:8101");
        final ConfigException ex = reject(dir, "r2.yaml", r2);
        assertOnlyError(ex, "r2.yaml", lineOf(r2, "nbd:"), "nodes.alpha.nbd",
            "node alpha has nbd 127.0.0.1:8001 in r1.yaml:" + lineOf(BASE, "nbd: 127.0.0.1:8001") +
            "; a node has one nbd for all its resources");
    }

    @Test
    void shouldRejectDiskUsedByTwoResources() throws IOException
    {
        write(dir, "r1.yaml", BASE);
        final String r2 = replace(R2, "disk: alpha/r2-0.img", "disk: alpha/r1-0.img");
        final ConfigException ex = reject(dir, "r2.yaml", r2);
        assertOnlyError(ex, "r2.yaml", lineOf(r2, "disk:"), "nodes.alpha.volumes.0.disk",
            "is already used by nodes.alpha.volumes.0.disk (r1.yaml:" + lineOf(BASE, "disk: alpha") + ")");
    }

    @Test
    void shouldRejectStateDirSharedByTwoNodes() throws IOException
    {
        final String text = base("state-dir: bravo", "state-dir: ./alpha");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "state-dir: ./alpha"), "nodes.bravo.state-dir",
            "is already used by nodes.alpha.state-dir (r1.yaml:" + lineOf(text, "state-dir: alpha") + ")");
    }

    @Test
    void shouldRejectDuplicateResourceNameAcrossFiles() throws IOException
    {
        write(dir, "a.yaml", BASE);
        final String other = replace(replace(R2, "resource: r2", "resource: r1"), "r2-0.img", "other.img");
        final ConfigException ex = reject(dir, "b.yml", other);
        assertOnlyError(ex, "b.yml", 1, "resource", "resource 'r1' is already defined in a.yaml:1");
    }

    @Test
    void shouldRejectAPeerTimeoutThatIsNoDuration() throws IOException
    {
        final String text = BASE.replace("connection:\n", "connection:\n  peer-timeout: soon\n");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "peer-timeout"), "connection.peer-timeout",
            "expected a duration such as 500ms or 6s, got 'soon'");
        final String tooShort = BASE.replace("connection:\n", "connection:\n  peer-timeout: 5ms\n");
        assertOnlyError(reject(dir, "r1.yaml", tooShort), "r1.yaml", lineOf(tooShort, "peer-timeout"),
            "connection.peer-timeout", "expected 10ms to 3600s, got '5ms'");
    }

    @Test
    void shouldRejectAnUnknownResyncController() throws IOException
    {
        final String text = BASE + "options:\n  resync-controller: fast\n";
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "resync-controller"), "options.resync-controller",
            "expected one of adaptive or fixed, got 'fast'");
    }

    @Test
    void shouldRejectActivityLogExtentsOutOfRange() throws IOException
    {
        final String text = BASE + "options:\n  al-extents: 0\n";
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "al-extents"), "options.al-extents",
            "expected a number of extents 1..65534, got 0");
    }

    @Test
    void shouldRejectBitmapBlockSizeNotPowerOfTwo() throws IOException
    {
        final String text = BASE + "options:\n  bitmap-block-size: 6K\n";
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "bitmap-block-size"), "options.bitmap-block-size",
            "expected a power of two from 4 KiB to 1 MiB, got 6 KiB");
    }

    @Test
    void shouldRejectBitmapBlockSizeOutOfRange() throws IOException
    {
        final String text = BASE + "options:\n  bitmap-block-size: 2M\n";
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "bitmap-block-size"), "options.bitmap-block-size",
            "expected a power of two from 4 KiB to 1 MiB, got 2 MiB");
    }

    @Test
    void shouldRejectPortOutOfRange() throws IOException
    {
        final String text = base("admin: 127.0.0.1:9001", "admin: 127.0.0.1:70000");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "70000"), "nodes.alpha.admin",
            "port must be 1..65535, got '127.0.0.1:70000'");
    }

    @Test
    void shouldRejectPortZero() throws IOException
    {
        final String text = base("admin: 127.0.0.1:9001", "admin: 127.0.0.1:0");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "127.0.0.1:0"), "nodes.alpha.admin", "port must be 1..65535");
    }

    @Test
    void shouldRejectAddressWithoutPort() throws IOException
    {
        final String text = base("address: 127.0.0.1:7002", "address: localhost");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "localhost"), "nodes.bravo.address",
            "expected HOST:PORT (IPv6 as [ADDR]:PORT), got 'localhost'");
    }

    @Test
    void shouldRequireDisklessToBeExplicit() throws IOException
    {
        final String text = base("    volumes:\n      0:\n        disk: diskless\n", "    volumes: {}\n");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "volumes: {}"), "nodes.bravo.volumes.0",
            "missing; give the volume's disk path or 'disk: diskless'");
    }

    @Test
    void shouldRejectResourceWhereEveryNodeIsDiskless() throws IOException
    {
        final String text = base("disk: alpha/r1-0.img", "disk: diskless");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "nodes:"), "nodes",
            "every node is diskless for volume 0; at least one node needs a disk");
    }

    @Test
    void shouldReportYamlSyntaxErrorWithLine() throws IOException
    {
        final String text = base("  bravo:\n", "  bravo:\n    nbd: : x: [\n");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertEquals(1, ex.errors().size(), ex.getMessage());
        final ConfigError error = ex.errors().get(0);
        assertEquals("r1.yaml", error.file());
        assertEquals(lineOf(text, "nbd: : x"), error.line(), ex.getMessage());
        assertEquals("", error.key());
        assertFalse(error.message().isEmpty());
        assertEquals(true, ex.getMessage().startsWith("r1.yaml:" + error.line() + ": YAML syntax error: "),
            ex.getMessage());
    }

    @Test
    void shouldRejectDuplicateKey() throws IOException
    {
        final String text = base("    admin: 127.0.0.1:9002\n",
            "    admin: 127.0.0.1:9002\n    admin: 127.0.0.1:9003\n");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "9003"), "nodes.bravo.admin",
            "duplicate key (first at line " + lineOf(text, "9002") + ")");
    }

    @Test
    void shouldRejectDuplicateNodeName() throws IOException
    {
        final String text = base("  bravo:", "  alpha:");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertError(ex, "r1.yaml", lineOf(text, "address: 127.0.0.1:7002") - 1, "nodes.alpha",
            "duplicate key (first at line " + lineOf(text, "alpha:") + ")");
    }

    @Test
    void shouldRejectInvalidQuorum() throws IOException
    {
        final String text = BASE + "options:\n  quorum: most\n";
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "quorum:"), "options.quorum",
            "expected off, majority or a number of votes, got 'most'");
    }

    @Test
    void shouldRejectQuorumAboveNodeCount() throws IOException
    {
        final String text = BASE + "options:\n  quorum: 3\n";
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "quorum:"), "options.quorum",
            "quorum of 3 votes is more than the 2 nodes of the resource");
    }

    @Test
    void shouldRejectUnknownOnNoQuorum() throws IOException
    {
        final String text = BASE + "options:\n  on-no-quorum: freeze\n";
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "on-no-quorum"), "options.on-no-quorum",
            "expected one of suspend-io or io-error, got 'freeze'");
    }

    @Test
    void shouldRejectSplitBrainPolicyNotValidForTwoPrimaries() throws IOException
    {
        final String text = BASE + "options:\n  after-sb-2pri: discard-zero-changes\n";
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "after-sb-2pri"), "options.after-sb-2pri",
            "expected 'disconnect', got 'discard-zero-changes'");
    }

    @Test
    void shouldRejectResyncRateMinAboveMax() throws IOException
    {
        final String text = BASE + "options:\n  resync-rate-min: 200M\n  resync-rate-max: 100M\n";
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "resync-rate-min"), "options.resync-rate-min",
            "resync-rate-min (200 MiB/s) must not exceed resync-rate-max (100 MiB/s)");
    }

    @Test
    void shouldRejectUnknownProtocol() throws IOException
    {
        final String text = base("  secret:", "  protocol: D\n  secret:");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "protocol:"), "connection.protocol",
            "expected one of A, B or C, got 'D'");
    }

    @Test
    void shouldRejectUnknownCompression() throws IOException
    {
        final String text = base("  secret:", "  compression: gzip\n  secret:");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "compression:"), "connection.compression",
            "expected one of none or lz4, got 'gzip'");
    }

    @Test
    void shouldRejectNonBooleanTls() throws IOException
    {
        final String text = base("  secret:", "  tls: yes\n  secret:");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "tls:"), "connection.tls", "expected true or false, got 'yes'");
    }

    @Test
    void shouldRequireCertificatesWhenTlsIsOn() throws IOException
    {
        final String text = replace(base("  secret:", "  tls: true\n  tls-ca: ca.pem\n  secret:"),
            "    state-dir: alpha\n", "    state-dir: alpha\n    tls-certificate: alpha.pem\n    tls-key: alpha.key\n");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertEquals(2, ex.errors().size(), ex.getMessage());
        assertError(ex, "r1.yaml", lineOf(text, "bravo:"), "nodes.bravo.tls-certificate",
            "missing required key (needed when tls is true)");
        assertError(ex, "r1.yaml", lineOf(text, "bravo:"), "nodes.bravo.tls-key",
            "missing required key (needed when tls is true)");
    }

    @Test
    void shouldRequireSecretWhenMoreThanOneNode() throws IOException
    {
        final String text = base("connection:\n  secret: s3cret-s3cret\n", "");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", 1, "connection.secret",
            "missing required key (a resource with more than one node needs a shared secret)");
    }

    @Test
    void shouldRejectShortSecretWithoutPrintingIt() throws IOException
    {
        final String text = base("secret: s3cret-s3cret", "secret: hunter2");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "secret:"), "connection.secret",
            "must be at least 8 characters long (value not shown)");
        assertFalse(ex.getMessage().contains("hunter2"), ex.getMessage());
    }

    @Test
    void shouldRejectNonStringSecretWithoutPrintingIt() throws IOException
    {
        final String text = base("secret: s3cret-s3cret", "secret: 1234567890123");
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "secret:"), "connection.secret",
            "expected a string of at least 8 characters (value not shown)");
        assertFalse(ex.getMessage().contains("1234567890123"), ex.getMessage());
    }

    @Test
    void shouldRejectSecondYamlDocument() throws IOException
    {
        final String text = BASE + "---\n" + BASE;
        final ConfigException ex = reject(dir, "r1.yaml", text);
        assertOnlyError(ex, "r1.yaml", lineOf(text, "---") + 1, "",
            "a second YAML document starts here; put one resource per file");
    }

    @Test
    void shouldRejectEmptyFile() throws IOException
    {
        final ConfigException ex = reject(dir, "r1.yaml", "# nothing yet\n");
        assertEquals("r1.yaml:1: empty file; expected a resource (see docs/configuration.md)", ex.getMessage());
    }

    @Test
    void shouldRejectTopLevelList() throws IOException
    {
        final ConfigException ex = reject(dir, "r1.yaml", "- resource: r1\n");
        assertEquals("r1.yaml:1: expected a mapping of keys, got a list", ex.getMessage());
    }

    @Test
    void shouldRejectDirectoryWithoutResourceFiles() throws IOException
    {
        write(dir, "notes.txt", "not a resource");
        final ConfigException ex = reject(dir);
        assertEquals(dir + ": no resource files (*.yaml, *.yml) in the config directory", ex.getMessage());
    }

    @Test
    void shouldRejectMissingDirectory()
    {
        final ConfigException ex = reject(dir.resolve("absent"));
        assertEquals(dir.resolve("absent") + ": no such config directory", ex.getMessage());
    }

    @Test
    void shouldRejectFileThatIsNotUtf8() throws IOException
    {
        Files.write(dir.resolve("r1.yaml"), new byte[] {'a', ':', ' ', (byte)0xff, (byte)0xfe, '\n'});
        final ConfigException ex = reject(dir);
        assertEquals("r1.yaml: not UTF-8 text", ex.getMessage());
    }
}
