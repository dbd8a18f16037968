package io.mirra.engine.storage;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The test-only failing disk: every request fails with the injected errno until healed, and nothing reaches it. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class FaultInjectingStoreTest
{
    @TempDir
    Path dir;

    @Test
    void shouldFailEveryRequestWithTheInjectedErrnoUntilHealed() throws Exception
    {
        try (FaultInjectingStore store = new FaultInjectingStore(FileBlockStore.openOrCreate(dir.resolve("d"), 1 << 20,
            false)))
        {
            store.write(ByteBuffer.wrap(new byte[] {1}), 0);
            store.failWith(StorageException.ENOSPC);
            final StorageException write = assertThrows(StorageException.class,
                () -> store.write(ByteBuffer.wrap(new byte[] {2}), 0));
            assertEquals(StorageException.ENOSPC, write.errno());
            assertTrue(write.getMessage().contains("injected fault on write"), write.getMessage());
            assertEquals(StorageException.ENOSPC, assertThrows(StorageException.class,
                () -> store.read(ByteBuffer.allocate(1), 0)).errno());
            assertEquals(StorageException.ENOSPC, assertThrows(StorageException.class, store::flush).errno());
            store.failWith(0);
            final ByteBuffer back = ByteBuffer.allocate(1);
            store.read(back, 0);
            assertEquals(1, back.get(0), "the failed write never reached the disk");
        }
    }
}
