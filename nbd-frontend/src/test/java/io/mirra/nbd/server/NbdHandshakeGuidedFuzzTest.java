package io.mirra.nbd.server;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.mirra.test.LeakGuard;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Coverage-guided fuzzing of the NBD handshake ({@link NbdHandshakeHandler}: client flags and option haggling) and
 * of the transmission phase it installs: see {@link NbdHandshakeFuzzHarness} for the properties checked and
 * docs/fuzzing.md for how to run it. Without {@code JAZZER_FUZZ} it replays the seeds in
 * {@code NbdHandshakeGuidedFuzzTestInputs/handshake}.
 */
@ExtendWith(LeakGuard.class)
class NbdHandshakeGuidedFuzzTest
{
    private static NbdHandshakeFuzzHarness.SwallowedExceptions logs;
    private String inputName = "";

    @BeforeAll
    static void captureLogs()
    {
        logs = new NbdHandshakeFuzzHarness.SwallowedExceptions();
    }

    @AfterAll
    static void restoreLogs()
    {
        logs.close();
    }

    @BeforeEach
    void rememberInputName(final TestInfo info)
    {
        inputName = info.getDisplayName();
    }

    @Timeout(10) // per input: the per-input timeout while fuzzing
    @FuzzTest
    void handshake(final FuzzedDataProvider data)
    {
        NbdHandshakeFuzzHarness.handshake(data, inputName, logs);
    }
}
