package io.mirra.systemtest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.opentest4j.AssertionFailedError;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The test support itself: a missing client fails (never skips) naming its package; output reaches messages. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ClientsTest
{
    @Test
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void shouldFailNamingTheDebianPackageWhenAClientIsMissing()
    {
        final AssertionFailedError error = assertThrows(AssertionFailedError.class,
            () -> Clients.require("mirra-no-such-client", "mirra-no-such-package"));
        assertTrue(error.getMessage().contains("mirra-no-such-client is not installed"), error.getMessage());
        assertTrue(error.getMessage().contains("apt-get install -y mirra-no-such-package"), error.getMessage());
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void shouldReportCommandExitCodeAndOutputOfAFailedClient()
    {
        final Clients.Result result = Clients.run(Duration.ofSeconds(5), "/bin/sh", "-c",
            "echo to-stdout; echo to-stderr >&2; exit 3");
        assertEquals(3, result.exitCode());
        final AssertionFailedError error = assertThrows(AssertionFailedError.class, result::assertSuccess);
        assertTrue(error.getMessage().contains("command: /bin/sh -c"), error.getMessage());
        assertTrue(error.getMessage().contains("exit code: 3"), error.getMessage());
        assertTrue(error.getMessage().contains("to-stdout") && error.getMessage().contains("to-stderr"),
            error.getMessage());
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void shouldKillAndFailAClientThatOutlivesItsTimeout()
    {
        final AssertionFailedError error = assertThrows(AssertionFailedError.class,
            () -> Clients.run(Duration.ofMillis(300), "/bin/sh", "-c", "echo started; exec tail -f /dev/null"));
        assertTrue(error.getMessage().contains("did not finish within PT0.3S"), error.getMessage());
        assertTrue(error.getMessage().contains("started"), error.getMessage());
    }
}
