package io.mirra.nbd.server;

import io.mirra.test.LeakGuard;
import io.mirra.nbd.test.MemoryNbdBackend;
import io.mirra.nbd.test.RawNbdClient;
import io.mirra.nbd.test.RawNbdClient.Chunk;
import io.mirra.nbd.test.RawNbdClient.Reply;
import io.mirra.nbd.test.TestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static io.mirra.nbd.protocol.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The transmission phase against a real server: commands, validation errors and the connection surviving them,
 * with simple and with structured replies.
 */
@Timeout(120)
@ExtendWith(LeakGuard.class)
class NbdTransmissionTest
{
    private static final int PAGE = MemoryNbdBackend.PAGE;

    private TestServer server;

    @BeforeEach
    void start() throws Exception
    {
        server = TestServer.start();
    }

    @AfterEach
    void stop() throws Exception
    {
        server.close();
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldRoundTripWritesAndReads(final boolean structured) throws Exception
    {
        final long seed = 0x5EED0001L;
        System.out.println("seed " + seed);
        final Random random = new Random(seed);
        try (RawNbdClient client = server.open("disk", structured, false))
        {
            final byte[] shadow = server.disk.contents(0, TestServer.DISK_SIZE);
            for (int i = 0; i < 40; i++)
            {
                final int length = 1 + random.nextInt(i % 4 == 0 ? 300_000 : 5000);
                final int offset = random.nextInt(TestServer.DISK_SIZE - length + 1);
                final byte[] data = new byte[length];
                random.nextBytes(data);
                final Reply write = client.write(0, 2L * i, offset, data);
                assertEquals(0, write.errno(), "write " + i + ": " + write.message());
                assertEquals(structured, !write.simple());
                if (structured)
                {
                    assertEquals(List.of(REPLY_TYPE_NONE), types(write), "success of a write is one NONE chunk");
                    assertEquals(REPLY_FLAG_DONE, write.chunks().get(0).flags());
                }
                System.arraycopy(data, 0, shadow, offset, length);

                final int readLength = 1 + random.nextInt(70_000);
                final int readOffset = random.nextInt(TestServer.DISK_SIZE - readLength + 1);
                final Reply read = client.read(0, 2L * i + 1, readOffset, readLength);
                assertEquals(0, read.errno(), read.message());
                assertArrayEquals(Arrays.copyOfRange(shadow, readOffset, readOffset + readLength), read.data(),
                    "read " + i + " at " + readOffset);
            }
            assertArrayEquals(shadow, server.disk.contents(0, TestServer.DISK_SIZE), "backend holds every write");
            final Reply whole = client.read(0, 99, 0, TestServer.DISK_SIZE);
            assertArrayEquals(shadow, whole.data(), "whole export read back");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldRefuseReadsPastTheEndWithEinvalAndStayUsable(final boolean structured) throws Exception
    {
        try (RawNbdClient client = server.open("disk", structured, false))
        {
            final long size = TestServer.DISK_SIZE;
            final long[][] ranges = {{size, 1}, {size - 1, 2}, {0, size + 1}, {size + 4096, 4096},
                {Long.MIN_VALUE, 512}, {-512, 512}, {size - 512, 0xffffffffL}};
            for (final long[] range : ranges)
            {
                final Reply reply = client.read(0, 7, range[0], (int)range[1]);
                final int expected = range[1] > MAX_PAYLOAD_LENGTH ? EOVERFLOW : EINVAL;
                assertEquals(expected, reply.errno(), "read " + Long.toUnsignedString(range[0]) + "+" + range[1]);
                assertNull(reply.data(), "no data with an error");
                if (structured)
                {
                    assertErrorChunkOnly(reply);
                }
            }
            final Reply last = client.read(0, 8, size - 512, 512);
            assertEquals(0, last.errno(), "the connection stays usable; the last block is readable");
            assertArrayEquals(server.disk.contents((int)size - 512, 512), last.data());
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldRefuseWritesPastTheEndWithEnospcAndStayUsable(final boolean structured) throws Exception
    {
        try (RawNbdClient client = server.open("disk", structured, false))
        {
            final int size = TestServer.DISK_SIZE;
            final byte[] before = server.disk.contents(size - 4096, 4096);
            assertEquals(ENOSPC, client.write(0, 1, size - 100, new byte[200]).errno());
            assertEquals(ENOSPC, client.write(0, 2, size, new byte[1]).errno());
            assertEquals(ENOSPC, client.write(0, 3, -1L, new byte[1]).errno(), "offset 2^64-1");
            assertEquals(ENOSPC, client.command(0, CMD_WRITE_ZEROES, 4, size - 100, 200).errno());
            assertEquals(EINVAL, client.command(0, CMD_TRIM, 5, size - 100, 200).errno(),
                "the spec asks EINVAL for a trim beyond the end");
            assertArrayEquals(before, server.disk.contents(size - 4096, 4096), "nothing was written");
            final Reply read = client.read(0, 6, size - 4096, 4096);
            assertEquals(0, read.errno(), "the connection stays usable");
            assertArrayEquals(before, read.data());
            assertEquals(0, client.write(0, 7, size - 1, new byte[] {42}).errno(), "the last byte is writable");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldRefuseZeroLengthRequestsWithEinval(final boolean structured) throws Exception
    {
        try (RawNbdClient client = server.open("disk", structured, structured))
        {
            assertEquals(EINVAL, client.read(0, 1, 0, 0).errno(), "zero-length read");
            assertEquals(EINVAL, client.write(0, 2, 0, new byte[0]).errno(), "zero-length write");
            assertEquals(EINVAL, client.command(0, CMD_TRIM, 3, 0, 0).errno(), "zero-length trim");
            assertEquals(EINVAL, client.command(0, CMD_WRITE_ZEROES, 4, 0, 0).errno(), "zero-length write zeroes");
            if (structured)
            {
                assertEquals(EINVAL, client.command(0, CMD_BLOCK_STATUS, 5, 0, 0).errno(), "zero-length status");
            }
            assertEquals(0, client.read(0, 6, 0, 1).errno(), "the connection stays usable");
            assertEquals(1, server.disk.seen().size(), "nothing invalid reached the backend, only the last read");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldRefuseUnknownCommandTypesWithEinval(final boolean structured) throws Exception
    {
        try (RawNbdClient client = server.open("disk", structured, false))
        {
            for (final int type : new int[] {CMD_CACHE, 8, 9, 42, 0x7fff, 0xffff})
            {
                final Reply reply = client.command(0, type, type, 0, 4096);
                assertEquals(EINVAL, reply.errno(), "command type " + type);
                if (structured)
                {
                    assertErrorChunkOnly(reply);
                }
            }
            assertEquals(0, client.read(0, 1, 0, 4096).errno());
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldRefuseUnknownFlagBitsWithEinval(final boolean structured) throws Exception
    {
        try (RawNbdClient client = server.open("disk", structured, false))
        {
            for (final int flag : new int[] {1 << 5, 1 << 6, 1 << 9, 1 << 15})
            {
                assertEquals(EINVAL, client.read(flag, 1, 0, 512).errno(), "READ with flag 0x" + Integer.toHexString(flag));
                assertEquals(EINVAL, client.write(flag, 2, 0, new byte[512]).errno(), "WRITE with flag " + flag);
                assertEquals(EINVAL, client.command(flag, CMD_FLUSH, 3, 0, 0).errno(), "FLUSH with flag " + flag);
            }
            assertArrayEquals(server.disk.contents(0, 512), client.read(0, 4, 0, 512).data());
            assertEquals(1, server.disk.seen().size(), "only the final read reached the backend");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldRefuseFlagsInvalidForTheCommandWithEinval(final boolean structured) throws Exception
    {
        try (RawNbdClient client = server.open("disk", structured, false))
        {
            assertEquals(EINVAL, client.write(CMD_FLAG_NO_HOLE, 1, 0, new byte[10]).errno(), "NO_HOLE on WRITE");
            assertEquals(EINVAL, client.write(CMD_FLAG_DF, 2, 0, new byte[10]).errno(), "DF on WRITE");
            assertEquals(EINVAL, client.read(CMD_FLAG_REQ_ONE, 3, 0, 10).errno(), "REQ_ONE on READ");
            assertEquals(EINVAL, client.read(CMD_FLAG_NO_HOLE, 4, 0, 10).errno(), "NO_HOLE on READ");
            assertEquals(EINVAL, client.command(CMD_FLAG_FAST_ZERO, CMD_TRIM, 5, 0, 10).errno(), "FAST_ZERO on TRIM");
            assertEquals(EINVAL, client.command(CMD_FLAG_DF, CMD_FLUSH, 6, 0, 0).errno(), "DF on FLUSH");
            assertEquals(EINVAL, client.command(CMD_FLAG_REQ_ONE, CMD_WRITE_ZEROES, 7, 0, 10).errno(),
                "REQ_ONE on WRITE_ZEROES");
            final Reply df = client.read(CMD_FLAG_DF, 8, 0, 10);
            if (structured)
            {
                assertEquals(0, df.errno(), "DF on READ is valid with structured replies");
                assertEquals(List.of(REPLY_TYPE_OFFSET_DATA), types(df), "DF: at most one content chunk");
            }
            else
            {
                assertEquals(EINVAL, df.errno(), "DF needs structured replies (SEND_DF is not advertised)");
            }
            assertEquals(0, client.command(CMD_FLAG_FUA, CMD_FLUSH, 9, 0, 0).errno(), "FUA is valid on any command");
            assertEquals(0, client.read(CMD_FLAG_FUA, 10, 0, 10).errno(), "FUA is valid on any command");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldRefuseWritesToReadOnlyExportWithEperm(final boolean structured) throws Exception
    {
        try (RawNbdClient client = server.open("ro", structured, false))
        {
            final byte[] before = server.readOnly.contents(0, 8192);
            assertEquals(EPERM, client.write(0, 1, 0, new byte[4096]).errno());
            assertEquals(EPERM, client.write(CMD_FLAG_FUA, 2, 4096, new byte[1]).errno());
            assertEquals(EPERM, client.command(0, CMD_TRIM, 3, 0, 8192).errno());
            assertEquals(EPERM, client.command(0, CMD_WRITE_ZEROES, 4, 0, 8192).errno());
            assertEquals(EPERM, client.command(CMD_FLAG_NO_HOLE, CMD_WRITE_ZEROES, 5, 0, 8192).errno());
            final Reply read = client.read(0, 6, 0, 8192);
            assertEquals(0, read.errno());
            assertArrayEquals(before, read.data());
            assertArrayEquals(before, server.readOnly.contents(0, 8192));
            assertEquals(0, client.command(0, CMD_FLUSH, 7, 0, 0).errno(), "FLUSH is fine on a read-only export");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldFlushAndRefuseFlushWithNonzeroOffsetOrLength(final boolean structured) throws Exception
    {
        try (RawNbdClient client = server.open("disk", structured, false))
        {
            assertEquals(EINVAL, client.command(0, CMD_FLUSH, 1, 4096, 0).errno(), "FLUSH with an offset");
            assertEquals(EINVAL, client.command(0, CMD_FLUSH, 2, 0, 4096).errno(), "FLUSH with a length");
            assertEquals(0, server.disk.flushCount());
            final Reply flush = client.command(0, CMD_FLUSH, 3, 0, 0);
            assertEquals(0, flush.errno());
            assertEquals(1, server.disk.flushCount());
        }
    }

    @Test
    void shouldRefuseBlockStatusWithoutMetaContextWithEinval() throws Exception
    {
        try (RawNbdClient simple = server.open("holey", false, false);
            RawNbdClient structured = server.open("holey", true, false))
        {
            final Reply s = simple.command(0, CMD_BLOCK_STATUS, 1, 0, 4096);
            assertTrue(s.simple());
            assertEquals(EINVAL, s.errno());
            final Reply t = structured.command(0, CMD_BLOCK_STATUS, 2, 0, 4096);
            assertEquals(EINVAL, t.errno());
            assertErrorChunkOnly(t);
            assertTrue(t.message().contains("base:allocation"), "message: " + t.message());
            assertEquals(0, server.holey.seen().size());
        }
    }

    @Test
    void shouldDescribeHolesAndDataWithBlockStatus() throws Exception
    {
        try (RawNbdClient client = server.open("holey", true, true))
        {
            final int hole = STATE_HOLE | STATE_ZERO;
            assertExtents(client.command(0, CMD_BLOCK_STATUS, 1, 0, TestServer.HOLEY_SIZE),
                new long[][] {{TestServer.HOLEY_SIZE, hole}});

            assertEquals(0, client.write(0, 2, 2 * PAGE, new byte[PAGE]).errno()); // page 2
            assertEquals(0, client.write(0, 3, 5 * PAGE + 100, new byte[PAGE]).errno()); // pages 5-6
            assertEquals(0, client.command(CMD_FLAG_NO_HOLE, CMD_WRITE_ZEROES, 4, 10 * PAGE, 2 * PAGE).errno());
            assertExtents(client.command(0, CMD_BLOCK_STATUS, 5, 0, 16 * PAGE), new long[][] {
                {2 * PAGE, hole}, {PAGE, 0}, {2 * PAGE, hole}, {2 * PAGE, 0}, {3 * PAGE, hole}, {2 * PAGE, 0},
                {4 * PAGE, hole}});

            // Unaligned start and end: descriptors are clipped to the request.
            assertExtents(client.command(0, CMD_BLOCK_STATUS, 6, 2 * PAGE + 10, 4 * PAGE),
                new long[][] {{PAGE - 10, 0}, {2 * PAGE, hole}, {PAGE + 10, 0}});

            // Zero pages 5-6 and page 2 without NO_HOLE (may punch holes): all holes again, except pages 10-11.
            assertEquals(0, client.command(0, CMD_WRITE_ZEROES, 7, 5 * PAGE, 2 * PAGE).errno());
            assertEquals(0, client.command(0, CMD_WRITE_ZEROES, 8, 2 * PAGE, PAGE).errno());
            assertExtents(client.command(0, CMD_BLOCK_STATUS, 9, 0, 16 * PAGE), new long[][] {
                {10 * PAGE, hole}, {2 * PAGE, 0}, {4 * PAGE, hole}});

            assertEquals(EINVAL, client.command(0, CMD_BLOCK_STATUS, 10, TestServer.HOLEY_SIZE, 1).errno(),
                "block status beyond the end");
            assertArrayEquals(new byte[3 * PAGE], client.read(0, 11, 5 * PAGE, 3 * PAGE).data(),
                "holes read as zeroes");
        }
    }

    @Test
    void shouldPunchHolesWithTrim() throws Exception
    {
        try (RawNbdClient client = server.open("disk", true, true))
        {
            assertExtents(client.command(0, CMD_BLOCK_STATUS, 1, 0, 8 * PAGE), new long[][] {{8 * PAGE, 0}});
            // Pages 2 and 3 lie wholly inside the trimmed range; pages 1 and 4 only partly, so they stay.
            assertEquals(0, client.command(0, CMD_TRIM, 2, PAGE + 1, 3 * PAGE).errno());
            assertExtents(client.command(0, CMD_BLOCK_STATUS, 3, 0, 8 * PAGE),
                new long[][] {{2 * PAGE, 0}, {2 * PAGE, STATE_HOLE | STATE_ZERO}, {4 * PAGE, 0}});
            assertFalse(server.disk.isAllocated(2));
        }
    }

    @Test
    void shouldReturnExactlyOneDescriptorWithReqOne() throws Exception
    {
        try (RawNbdClient client = server.open("holey", true, true))
        {
            assertEquals(0, client.write(0, 1, 4 * PAGE, new byte[4 * PAGE]).errno());
            final Reply first = client.command(CMD_FLAG_REQ_ONE, CMD_BLOCK_STATUS, 2, 0, 16 * PAGE);
            assertExtents(first, new long[][] {{4 * PAGE, STATE_HOLE | STATE_ZERO}});
            final Reply second = client.command(CMD_FLAG_REQ_ONE, CMD_BLOCK_STATUS, 3, 4 * PAGE, 16 * PAGE);
            assertExtents(second, new long[][] {{4 * PAGE, 0}});
            final Reply clipped = client.command(CMD_FLAG_REQ_ONE | CMD_FLAG_FUA, CMD_BLOCK_STATUS, 4, 5 * PAGE, 100);
            assertExtents(clipped, new long[][] {{100, 0}});
            for (final Reply reply : List.of(first, second, clipped))
            {
                assertEquals(1, reply.chunks().size());
                assertEquals(4 + 8, reply.chunks().get(0).payload().length, "one descriptor");
            }
        }
    }

    @Test
    void shouldCarryErrnoAndMessageInStructuredErrorChunk() throws Exception
    {
        server.disk.failAt(8192, EIO);
        try (RawNbdClient client = server.open("disk", true, false))
        {
            final Reply read = client.read(0, 1, 4096, 8192);
            assertEquals(EIO, read.errno());
            assertErrorChunkOnly(read);
            assertNotNull(read.message());
            assertTrue(read.message().contains("injected"), "backend message passed on: " + read.message());
            final Chunk chunk = read.chunks().get(0);
            assertEquals(REPLY_TYPE_ERROR, chunk.type());
            assertEquals(REPLY_FLAG_DONE, chunk.flags());
            final ByteBuffer payload = ByteBuffer.wrap(chunk.payload());
            assertEquals(EIO, payload.getInt());
            assertEquals(chunk.payload().length - 6, payload.getShort() & 0xffff, "message length");

            final Reply write = client.write(0, 2, 8000, new byte[500]);
            assertEquals(EIO, write.errno());
            assertErrorChunkOnly(write);

            final Reply invalid = client.read(0, 3, TestServer.DISK_SIZE, 1);
            assertEquals(EINVAL, invalid.errno());
            assertTrue(invalid.message().contains("beyond the end"), invalid.message());

            final Reply ok = client.read(0, 4, 0, 8192);
            assertEquals(0, ok.errno(), "connection usable after errors");
            assertArrayEquals(server.disk.contents(0, 8192), ok.data());
        }
    }

    @Test
    void shouldReplyEioWithoutPayloadToFailedSimpleRead() throws Exception
    {
        server.disk.failAt(100_000, EIO);
        try (RawNbdClient client = server.open("disk", false, false))
        {
            // Failing and succeeding reads in one go: had a failed one carried data, the replies would not parse.
            for (int i = 0; i < 10; i++)
            {
                client.queueRead(0, i, i % 2 == 0 ? 98_304 : 0, 4096);
            }
            client.flush();
            for (int i = 0; i < 10; i++)
            {
                final Reply reply = client.readReply();
                assertTrue(reply.simple());
                if (reply.cookie() % 2 == 0)
                {
                    assertEquals(EIO, reply.errno());
                    assertNull(reply.data());
                }
                else
                {
                    assertEquals(0, reply.errno());
                    assertArrayEquals(server.disk.contents(0, 4096), reply.data());
                }
            }
            assertEquals(0, client.read(0, 99, 0, 1).errno(), "connection usable after errors");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldSkipOversizedWritePayloadWithEoverflow(final boolean structured) throws Exception
    {
        try (RawNbdClient client = server.open("disk", structured, false))
        {
            final byte[] before = server.disk.contents(0, 65536);
            final long length = MAX_PAYLOAD_LENGTH + (1 << 20); // 33 MiB
            client.sendRequest(0, CMD_WRITE, 1, 0, length);
            client.sendZeros(length);
            final Reply reply = client.expectReply(1);
            assertEquals(EOVERFLOW, reply.errno());
            final Reply read = client.read(0, 2, 0, 65536);
            assertEquals(0, read.errno(), "the connection stays usable");
            assertArrayEquals(before, read.data(), "nothing was written");
            assertEquals(1, server.disk.seen().size(), "only the read reached the backend");
            assertEquals(EOVERFLOW, client.read(0, 3, 0, MAX_PAYLOAD_LENGTH + 1).errno(), "oversized read");
            assertEquals(0, client.write(0, 4, 0, new byte[] {1, 2, 3}).errno());
        }
    }

    @Test
    void shouldFlushForFuaWrites() throws Exception
    {
        try (RawNbdClient client = server.open("disk", true, false))
        {
            assertEquals(0, client.write(0, 1, 0, new byte[512]).errno());
            assertEquals(0, server.disk.fuaCount());
            assertEquals(0, client.write(CMD_FLAG_FUA, 2, 512, new byte[512]).errno());
            assertEquals(0, client.command(CMD_FLAG_FUA, CMD_WRITE_ZEROES, 3, 1024, 512).errno());
            assertEquals(0, client.command(CMD_FLAG_FUA, CMD_TRIM, 4, 0, 8192).errno());
            assertEquals(3, server.disk.fuaCount(), "the backend sees the FUA flag");
            assertEquals(3, server.disk.flushCount(), "each FUA request was flushed before its reply");
            final List<MemoryNbdBackend.Seen> seen = server.disk.seen();
            assertEquals(0, seen.get(0).flags());
            assertEquals(CMD_FLAG_FUA, seen.get(1).flags());
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldZeroWithWriteZeroesAndFastZero(final boolean structured) throws Exception
    {
        try (RawNbdClient client = server.open("disk", structured, false))
        {
            assertEquals(0, client.command(0, CMD_WRITE_ZEROES, 1, 1000, 5000).errno());
            assertEquals(0, client.command(CMD_FLAG_FAST_ZERO | CMD_FLAG_NO_HOLE, CMD_WRITE_ZEROES, 2, 10_000, 10)
                .errno());
            final byte[] data = client.read(0, 3, 0, 12_000).data();
            final byte[] expected = server.disk.contents(0, 12_000);
            Arrays.fill(expected, 1000, 6000, (byte)0);
            Arrays.fill(expected, 10_000, 10_010, (byte)0);
            assertArrayEquals(expected, data);
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldAnswerPipelinedRequestsWithMatchingCookies(final boolean structured) throws Exception
    {
        final long seed = 0xC00C1E5L + (structured ? 1 : 0);
        System.out.println("seed " + seed);
        final Random random = new Random(seed);
        try (RawNbdClient client = server.open("disk", structured, false))
        {
            // 100 writes to pages 0..99 and 100 reads of pages 128..227 (never written), interleaved, no waiting.
            final Map<Long, Integer> readPages = new HashMap<>();
            final Map<Long, byte[]> written = new HashMap<>();
            final Set<Long> cookies = new HashSet<>();
            for (int i = 0; i < 200; i++)
            {
                long cookie;
                do
                {
                    cookie = random.nextLong();
                }
                while (!cookies.add(cookie));
                final int page = i / 2;
                if (i % 2 == 0)
                {
                    final byte[] data = new byte[PAGE];
                    random.nextBytes(data);
                    written.put((long)page, data);
                    client.queueWrite(0, cookie, (long)page * PAGE, data);
                }
                else
                {
                    readPages.put(cookie, 128 + page);
                    client.queueRead(0, cookie, (long)(128 + page) * PAGE, PAGE);
                }
            }
            client.flush();
            final Set<Long> answered = new HashSet<>();
            for (int i = 0; i < 200; i++)
            {
                final Reply reply = client.readReply();
                assertTrue(cookies.contains(reply.cookie()), "reply for an unknown cookie " + reply.cookie());
                assertTrue(answered.add(reply.cookie()), "two replies for cookie " + reply.cookie());
                assertEquals(0, reply.errno(), reply.message());
                final Integer page = readPages.get(reply.cookie());
                if (page != null)
                {
                    assertArrayEquals(server.disk.contents(page * PAGE, PAGE), reply.data(), "read of page " + page);
                }
            }
            assertEquals(cookies, answered);
            for (final Map.Entry<Long, byte[]> entry : written.entrySet())
            {
                assertArrayEquals(entry.getValue(), server.disk.contents((int)(entry.getKey() * PAGE), PAGE));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldAnswerInFlightWritesOnDiscThenClose(final boolean structured) throws Exception
    {
        try (RawNbdClient client = server.open("disk", structured, false))
        {
            server.disk.hold();
            final List<byte[]> data = new ArrayList<>();
            for (int i = 0; i < 5; i++)
            {
                final byte[] bytes = ("write number " + i).getBytes(StandardCharsets.US_ASCII);
                data.add(bytes);
                client.queueWrite(0, 100 + i, i * 1000L, bytes);
            }
            client.writeRequestHeader(REQUEST_MAGIC, 0, CMD_DISC, 999, 0, 0);
            client.flush();
            assertTrue(server.disk.awaitSubmitted(5, 10_000), "five writes in flight");
            server.disk.release();
            final Set<Long> cookies = new HashSet<>();
            for (int i = 0; i < 5; i++)
            {
                final Reply reply = client.readReply();
                assertEquals(0, reply.errno());
                cookies.add(reply.cookie());
            }
            assertEquals(Set.of(100L, 101L, 102L, 103L, 104L), cookies, "every in-flight write answered");
            assertTrue(client.awaitClosed(), "then the server closes; DISC has no reply");
            for (int i = 0; i < 5; i++)
            {
                assertArrayEquals(data.get(i), server.disk.contents(i * 1000, data.get(i).length));
            }
        }
        server.awaitConnections(0, 10_000);
    }

    @Test
    void shouldCloseOnDiscWithNothingInFlightAndIgnoreLaterRequests() throws Exception
    {
        try (RawNbdClient client = server.open("disk", false, false))
        {
            client.writeRequestHeader(REQUEST_MAGIC, 0, CMD_DISC, 1, 0, 0);
            client.queueWrite(0, 2, 0, new byte[100]); // forbidden after DISC: must not be executed
            client.flush();
            assertTrue(client.awaitClosed());
        }
        server.awaitConnections(0, 10_000);
        assertEquals(0, server.disk.seen().size(), "nothing after DISC reached the backend");
    }

    @Test
    void shouldServeSeveralConnectionsToOneExport() throws Exception
    {
        try (RawNbdClient a = server.open("disk", true, false); RawNbdClient b = server.open("disk", false, false))
        {
            final byte[] data = "shared".getBytes(StandardCharsets.US_ASCII);
            assertEquals(0, a.write(CMD_FLAG_FUA, 1, 12_345, data).errno());
            assertArrayEquals(data, b.read(0, 1, 12_345, data.length).data(), "multi-conn: b sees a's write");
        }
    }

    private static void assertErrorChunkOnly(final Reply reply)
    {
        assertFalse(reply.simple(), "structured replies negotiated");
        assertEquals(1, reply.chunks().size(), "one chunk: " + types(reply));
        assertEquals(REPLY_TYPE_ERROR, reply.chunks().get(0).type());
        assertEquals(REPLY_FLAG_DONE, reply.chunks().get(0).flags());
    }

    private static void assertExtents(final Reply reply, final long[][] expected)
    {
        assertEquals(0, reply.errno(), reply.message());
        assertEquals(List.of(REPLY_TYPE_BLOCK_STATUS), types(reply));
        final List<long[]> extents = reply.extents();
        final List<String> actual = new ArrayList<>();
        for (final long[] extent : extents)
        {
            actual.add(Arrays.toString(extent));
        }
        final List<String> wanted = new ArrayList<>();
        for (final long[] extent : expected)
        {
            wanted.add(Arrays.toString(extent));
        }
        assertEquals(wanted, actual, "descriptors {length, flags}");
    }

    private static List<Integer> types(final Reply reply)
    {
        final List<Integer> types = new ArrayList<>();
        for (final Chunk chunk : reply.chunks())
        {
            types.add(chunk.type());
        }
        return types;
    }
}
