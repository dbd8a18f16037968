package io.mirra.systemtest;

import io.mirra.test.Json;
import io.mirra.node.StandaloneServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static io.mirra.systemtest.Clients.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Block status ({@code base:allocation}) as {@code nbdinfo --map} sees it after writes, trims and zeroing. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BlockStatusTest
{
    private static final long SIZE = 32 * MIB;
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(30);
    private static final int DATA = 0;
    private static final int HOLE_ZERO = 3;

    @TempDir
    Path dir;

    /** One extent of {@code nbdinfo --map --json}. */
    private record Extent(long offset, long length, int type)
    {
        long end()
        {
            return offset + length;
        }
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void shouldMapWrittenRangesAsDataAndTrimmedRangesAsHoles() throws Exception
    {
        try (StandaloneServer server = Clients.serve(dir.resolve("disk.img"), SIZE, false))
        {
            final Clients.Result fresh = Clients.ok(CLIENT_TIMEOUT, "nbdinfo", "--map", "--json", server.uri());
            expect(parse(fresh), fresh, 0, SIZE, HOLE_ZERO);

            Clients.ok(CLIENT_TIMEOUT, "qemu-io", "-f", "raw",
                "-c", "write -P 0x11 0 1M",
                "-c", "write -P 0x22 4M 4M",
                "-c", "discard 5M 1M",                  // a trimmed hole inside data
                "-c", "write -z -u 7M 512k",            // zeroing that may unmap
                "-c", "write -P 0x33 16M 64k",
                "-c", "discard 16M 64k",                // data trimmed away entirely
                "-c", "write -P 0x44 31M 1M",           // the last MiB
                server.uri());

            final Clients.Result map = Clients.ok(CLIENT_TIMEOUT, "nbdinfo", "--map", "--json", server.uri());
            final List<Extent> extents = parse(map);
            expect(extents, map, 0, MIB, DATA);
            expect(extents, map, MIB, 3 * MIB, HOLE_ZERO);
            expect(extents, map, 4 * MIB, MIB, DATA);
            expect(extents, map, 5 * MIB, MIB, HOLE_ZERO);
            expect(extents, map, 6 * MIB, MIB, DATA);
            expect(extents, map, 7 * MIB, 512 * 1024, HOLE_ZERO);
            expect(extents, map, 7 * MIB + 512 * 1024, 512 * 1024, DATA);
            expect(extents, map, 8 * MIB, 23 * MIB, HOLE_ZERO);
            expect(extents, map, 31 * MIB, MIB, DATA);

            // The holes read as zeros and the data is intact.
            Clients.ok(CLIENT_TIMEOUT, "qemu-io", "-r", "-f", "raw",
                "-c", "read -P 0x11 0 1M", "-c", "read -P 0 1M 3M", "-c", "read -P 0x22 4M 1M",
                "-c", "read -P 0 5M 1M", "-c", "read -P 0x22 6M 1M", "-c", "read -P 0 7M 512k",
                "-c", "read -P 0x22 7680k 512k", "-c", "read -P 0 8M 23M", "-c", "read -P 0x44 31M 1M",
                server.uri());
        }
    }

    private static List<Extent> parse(final Clients.Result map)
    {
        final List<Extent> extents = new ArrayList<>();
        for (final Object item : Json.array(Json.parse(map.stdout()), "nbdinfo --map"))
        {
            final Map<String, Object> e = Json.object(item, "extent");
            extents.add(new Extent(Json.longValue(e, "offset"), Json.longValue(e, "length"),
                (int)Json.longValue(e, "type")));
        }
        long expected = 0;
        for (final Extent e : extents)
        {
            assertEquals(expected, e.offset(), "the map must be contiguous from 0\n" + map.describe());
            expected = e.end();
        }
        assertEquals(SIZE, expected, "the map must cover the export\n" + map.describe());
        return extents;
    }

    /** Every extent overlapping [offset, offset+length) must have {@code type}. */
    private static void expect(final List<Extent> extents, final Clients.Result map, final long offset,
        final long length, final int type)
    {
        final TreeSet<Integer> types = new TreeSet<>();
        for (final Extent e : extents)
        {
            if (e.offset() < offset + length && e.end() > offset)
            {
                types.add(e.type());
            }
        }
        if (!types.equals(new TreeSet<>(List.of(type))))
        {
            fail("[" + offset + ", " + (offset + length) + ") should be type " + type + " (" +
                (type == DATA ? "data" : "hole,zero") + ") but has types " + types + "\n" + map.describe());
        }
    }
}
