package io.mirra.node.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Size parsing and the "did you mean" hints. */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class SizesTest
{
    @Test
    void shouldParseBinaryUnits()
    {
        assertEquals(4096, Sizes.parse("4096"));
        assertEquals(4096, Sizes.parse("4K"));
        assertEquals(4096, Sizes.parse("4k"));
        assertEquals(4096, Sizes.parse("4KiB"));
        assertEquals(512L << 20, Sizes.parse("512M"));
        assertEquals(1L << 30, Sizes.parse("1G"));
        assertEquals(10L << 30, Sizes.parse("10GiB"));
        assertEquals(2L << 40, Sizes.parse("2T"));
        assertEquals(1L << 50, Sizes.parse("1PiB"));
    }

    @Test
    void shouldRejectNonSizes()
    {
        assertEquals(-1, Sizes.parse("1.5G"));
        assertEquals(-1, Sizes.parse("1GB"));
        assertEquals(-1, Sizes.parse("-4K"));
        assertEquals(-1, Sizes.parse("G"));
        assertEquals(-2, Sizes.parse("9223372036854775808"));
        assertEquals(-2, Sizes.parse("9000000P"));
    }

    @Test
    void shouldFormatSizes()
    {
        assertEquals("6 KiB", Sizes.format(6144));
        assertEquals("1000 bytes", Sizes.format(1000));
        assertEquals("1 GiB", Sizes.format(1L << 30));
        assertEquals("0 bytes", Sizes.format(0));
    }

    @Test
    void shouldSuggestCloseKeysOnly()
    {
        final List<String> keys = List.of("address", "nbd", "admin", "state-dir");
        assertEquals(", did you mean 'address'?", KeyHints.suggest("adress", keys));
        assertEquals(", did you mean 'state-dir'?", KeyHints.suggest("state_dir", keys));
        assertEquals("; allowed here: address, nbd, admin, state-dir", KeyHints.suggest("colour", keys));
    }
}
