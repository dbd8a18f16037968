package io.mirra.transport.netty;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/**
 * Coverage-guided fuzzing of a stream's handshake ({@link PeerHandshakeHandler} behind {@link FrameDecoder}) and of
 * the stream after it: see {@link PeerHandshakeFuzzHarness} for the properties checked and docs/fuzzing.md for how
 * to run it. Without {@code JAZZER_FUZZ} it replays the seeds in {@code PeerHandshakeGuidedFuzzTestInputs/handshake}.
 */
class PeerHandshakeGuidedFuzzTest
{
    private static FrameDecoderFuzzHarness.QuietLogs quietLogs;
    private String inputName = "";

    @BeforeAll
    static void muteLogs()
    {
        quietLogs = new FrameDecoderFuzzHarness.QuietLogs();
    }

    @AfterAll
    static void restoreLogs()
    {
        quietLogs.close();
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
        PeerHandshakeFuzzHarness.handshake(data, inputName);
    }
}
