package io.gantry.engine.model;

import io.gantry.api.inference.FinishReason;
import io.gantry.engine.gguf.SharedModels;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The one real trained model: greedy decoding must reproduce llama2.c's output token for token. */
class Stories260KGenerationTest {

    @Test
    void greedyFromBosReproducesTheReference() throws IOException {
        var model = SharedModels.require("stories260K.gguf");
        ReferenceOutput expected = ReferenceOutput.read(SharedModels.require("stories260K.expected.txt"));
        try (LoadedModel loaded = LoadedModel.open(model); Transformer transformer = loaded.transformer(16, 1, 512)) {
            StringBuilder streamed = new StringBuilder();
            Generator.Result result = new Generator(transformer, loaded.tokenizer).generate(
                    Generator.Request.greedy(new int[] {loaded.tokenizer.bosId()}, expected.ids().length),
                    (sequence, token) -> streamed.append(token.text()));

            assertArrayEquals(expected.ids(), result.tokens());
            assertEquals(FinishReason.LENGTH, result.finishReason());
            assertEquals(expected.text(), loaded.tokenizer.decode(result.tokens()));
            // The stream keeps SentencePiece's dummy-prefix space, which decode() drops after BOS.
            assertEquals(" " + expected.text(), streamed.toString());
            assertEquals(streamed.toString(), result.text());
        }
    }
}
