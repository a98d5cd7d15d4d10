package io.gantry.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.SamplingParams;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.SharedModels;
import io.gantry.engine.tokenizer.Tokenizer;
import io.gantry.engine.tokenizer.Tokenizers;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Stop conditions and the streamed text, driven by logits that force chosen tokens. */
class SequenceOutputTest {

    private static Tokenizer tokenizer;

    @BeforeAll
    static void load() throws IOException {
        try (GgufFile file = GgufFile.open(SharedModels.require("stories260K.gguf"))) {
            tokenizer = Tokenizers.fromGguf(file);
        }
    }

    /** Feeds the tokens of {@code text} one by one (SentencePiece gives them a leading space); returns the pieces. */
    private static List<String> stream(SequenceOutput output, String text) {
        List<String> pieces = new ArrayList<>();
        for (int token : tokenizer.encode(text, false, false)) {
            float[] logits = new float[tokenizer.vocabularySize()];
            logits[token] = 100;
            GeneratedToken generated = output.next(logits, 0);
            pieces.add(generated == null ? "<end>" + output.finish() : generated.text());
            if (output.finishReason() != null) {
                break;
            }
        }
        return pieces;
    }

    private static SequenceOutput output(int maxTokens, int[] stopTokens, List<String> stops) {
        return new SequenceOutput(tokenizer, new int[] {tokenizer.bosId()}, 100, SamplingParams.GREEDY, maxTokens,
                false, stopTokens, stops, -1);
    }

    @Test
    void aStopStringSpanningTokensEndsGenerationAndIsLeftOut() {
        SequenceOutput output = output(50, new int[0], List.of("cat sat"));
        List<String> pieces = stream(output, "The big cat sat down");
        assertEquals(FinishReason.STOP, output.finishReason());
        assertEquals(" The big ", output.text());
        assertEquals(" The big ", String.join("", pieces));
    }

    @Test
    void textThatOnlyStartsLikeAStopStringIsReleasedWhenItCannotMatch() {
        SequenceOutput output = output(50, new int[0], List.of("cat sat"));
        List<String> pieces = stream(output, "The cat ran away");
        assertEquals(" The cat ran away", String.join("", pieces));
        assertNull(output.finishReason());
    }

    @Test
    void heldBackTextIsReleasedWhenMaxTokensEndsGeneration() {
        int tokens = tokenizer.encode("The cat", false, false).length;
        SequenceOutput output = output(tokens, new int[0], List.of("cat sat"));
        List<String> pieces = stream(output, "The cat sat");
        assertEquals(FinishReason.LENGTH, output.finishReason());
        assertEquals(" The cat", String.join("", pieces));
        assertEquals(" The cat", output.text());
    }

    @Test
    void stopTokenIdsEndGenerationWithoutBeingOutput() {
        int dog = tokenizer.encode("The dog", false, false)[1];
        SequenceOutput output = output(50, new int[] {dog}, List.of());
        List<String> pieces = stream(output, "The dog ran");
        assertEquals(FinishReason.STOP, output.finishReason());
        assertEquals(List.of(" The", "<end>"), pieces);
        assertEquals(1, output.generatedLength());
    }
}
