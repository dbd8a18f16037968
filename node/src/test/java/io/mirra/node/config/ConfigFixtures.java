package io.mirra.node.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Resource file texts and assertions shared by the config tests. */
final class ConfigFixtures
{
    /** A valid two-node resource with one volume; alpha has a disk, bravo is diskless. */
    static final String BASE = """
        resource: r1
        volumes:
          0:
            size: 1G
        nodes:
          alpha:
            address: 127.0.0.1:7001
            nbd: 127.0.0.1:8001
            admin: 127.0.0.1:9001
            state-dir: alpha
            volumes:
              0:
                disk: alpha/r1-0.img
          bravo:
            address: 127.0.0.1:7002
            nbd: 127.0.0.1:8002
            admin: 127.0.0.1:9002
            state-dir: bravo
            volumes:
              0:
                disk: diskless
        connection:
          secret: s3cret-s3cret
        """;

    private ConfigFixtures()
    {
    }

    /** BASE with one piece of text replaced; fails when the piece is not there. */
    static String base(final String from, final String to)
    {
        return replace(BASE, from, to);
    }

    static String replace(final String text, final String from, final String to)
    {
        if (!text.contains(from))
        {
            fail("fixture does not contain: " + from);
        }
        return text.replace(from, to);
    }

    static void write(final Path dir, final String file, final String text) throws IOException
    {
        Files.writeString(dir.resolve(file), text, StandardCharsets.UTF_8);
    }

    /** 1-based line of the first line containing {@code marker}. */
    static int lineOf(final String text, final String marker)
    {
        final String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++)
        {
            if (lines[i].contains(marker))
            {
                return i + 1;
            }
        }
        throw new AssertionError("no line contains: " + marker);
    }

    /** Loads the directory, expecting it to be rejected. */
    static ConfigException reject(final Path dir)
    {
        return assertThrows(ConfigException.class, () -> ConfigLoader.load(dir));
    }

    /** Writes one file and loads the directory, expecting it to be rejected. */
    static ConfigException reject(final Path dir, final String file, final String text) throws IOException
    {
        write(dir, file, text);
        return reject(dir);
    }

    /** Asserts the exception's message has the line {@code FILE:LINE: KEY: ...fragment...}. */
    static void assertError(
        final ConfigException ex, final String file, final int line, final String key, final String fragment)
    {
        final String prefix = file + ":" + line + ": " + (key.isEmpty() ? "" : key + ": ");
        final List<String> lines = ex.getMessage().lines().toList();
        for (final String l : lines)
        {
            if (l.startsWith(prefix) && l.contains(fragment))
            {
                return;
            }
        }
        fail("expected a line starting with '" + prefix + "' and containing '" + fragment + "' in:\n" +
            ex.getMessage());
    }

    /** Asserts the message is exactly one line, {@code FILE:LINE: KEY: ...fragment...}. */
    static void assertOnlyError(
        final ConfigException ex, final String file, final int line, final String key, final String fragment)
    {
        assertTrue(ex.getMessage().lines().count() == 1, () -> "expected one error, got:\n" + ex.getMessage());
        assertError(ex, file, line, key, fragment);
        assertFalse(ex.errors().isEmpty());
    }
}
