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
 * Coverage-guided fuzzing of {@link NbdRequestDecoder} (the transmission phase's requests): see
 * {@link NbdRequestDecoderFuzzHarness} for the properties checked and docs/fuzzing.md for how to run it. Without
 * {@code JAZZER_FUZZ} it replays the seeds in {@code NbdRequestDecoderGuidedFuzzTestInputs/decode}.
 */
@ExtendWith(LeakGuard.class)
class NbdRequestDecoderGuidedFuzzTest
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
    void decode(final FuzzedDataProvider data)
    {
        NbdRequestDecoderFuzzHarness.decode(data, inputName);
    }
}
