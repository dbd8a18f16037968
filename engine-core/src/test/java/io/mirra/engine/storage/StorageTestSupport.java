package io.mirra.engine.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Helpers shared by the storage tests: patterned buffers, extents as text, allocated blocks, external commands.
 */
final class StorageTestSupport
{
    static final int KIB = 1024;
    static final int MIB = 1024 * KIB;

    private StorageTestSupport()
    {
    }

    /**
     * @return a buffer of {@code length} bytes whose value depends on the absolute byte offset and a seed.
     */
    static ByteBuffer pattern(final boolean direct, final int length, final long byteOffset, final int seed)
    {
        final ByteBuffer buffer = direct ? ByteBuffer.allocateDirect(length) : ByteBuffer.allocate(length);
        for (int i = 0; i < length; i++)
        {
            buffer.put(i, patternByte(byteOffset + i, seed));
        }
        return buffer;
    }

    static byte patternByte(final long byteOffset, final int seed)
    {
        final long mixed = (byteOffset * 0x9E3779B97F4A7C15L) ^ seed;
        final byte value = (byte)(mixed >>> 56);
        return 0 == value ? 1 : value; // never zero, so that "reads as zeros" cannot pass by accident
    }

    static ByteBuffer read(final BlockStore store, final long byteOffset, final int length) throws StorageException
    {
        final ByteBuffer buffer = ByteBuffer.allocateDirect(length);
        store.read(buffer, byteOffset);
        assertEquals(length, buffer.position(), "read must fill the buffer");
        return buffer.flip();
    }

    static void assertPattern(final ByteBuffer buffer, final long byteOffset, final int seed)
    {
        for (int i = buffer.position(); i < buffer.limit(); i++)
        {
            final byte expected = patternByte(byteOffset + i - buffer.position(), seed);
            if (buffer.get(i) != expected)
            {
                fail("byte at offset " + (byteOffset + i - buffer.position()) + " is " + buffer.get(i) + ", expected " +
                    expected);
            }
        }
    }

    static void assertZeros(final ByteBuffer buffer, final long byteOffset)
    {
        for (int i = buffer.position(); i < buffer.limit(); i++)
        {
            if (0 != buffer.get(i))
            {
                fail("byte at offset " + (byteOffset + i - buffer.position()) + " is " + buffer.get(i) +
                    ", expected 0");
            }
        }
    }

    /**
     * @return the runs as text, e.g. "D65536 H196608", where D is data and H is a hole.
     */
    static String extents(final BlockStore store, final long byteOffset, final long length) throws StorageException
    {
        final StringBuilder runs = new StringBuilder();
        store.extents(
            byteOffset,
            length,
            (runLength, hole) ->
            {
                runs.append(runs.length() > 0 ? " " : "").append(hole ? 'H' : 'D').append(runLength);
                return true;
            });
        return runs.toString();
    }

    /**
     * @return st_blocks of the file (512-byte units), as {@code stat -c %b} prints it.
     */
    static long allocatedBlocks(final Path path) throws IOException, InterruptedException
    {
        return Long.parseLong(run(List.of("stat", "-c", "%b", path.toString())).trim());
    }

    /**
     * Run a command to completion; fail the test with its output when it exits non-zero.
     *
     * @return its standard output and error.
     */
    static String run(final List<String> command) throws IOException, InterruptedException
    {
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(30, TimeUnit.SECONDS))
        {
            process.destroyForcibly();
            fail(command + " did not finish within 30 s; output: " + output);
        }
        if (0 != process.exitValue())
        {
            fail(command + " exited with " + process.exitValue() + "; output: " + output);
        }
        return output;
    }

    static StorageException assertStorageError(final int errno, final StorageCall call)
    {
        final StorageException ex = assertThrows(StorageException.class, call::run);
        assertEquals(errno, ex.errno(), () -> "errno of: " + ex.getMessage());
        return ex;
    }

    @FunctionalInterface
    interface StorageCall
    {
        void run() throws Exception;
    }
}
