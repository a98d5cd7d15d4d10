package io.gantry.engine.model;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Both families against a plain double-precision forward pass: llama with adjacent-pair RoPE and an untied output,
 * qwen2 with NeoX RoPE, QKV biases and the output tied to the embedding. A prompt is prefilled in one step, then
 * the rest is decoded a token per step.
 */
class ArchitectureReferenceTest {

    private static final int[] TOKENS = {1, 7, 22, 3, 39, 0, 15, 8};
    private static final int PREFILL = 4;

    @TempDir
    Path folder;

    @ParameterizedTest
    @CsvSource({"llama, false, false", "qwen2, true, true"})
    void logitsMatchTheReference(String architecture, boolean neox, boolean qwenStyle) throws IOException {
        SyntheticModel synthetic = new SyntheticModel(architecture, 17);
        synthetic.qkvBias = qwenStyle;
        synthetic.tiedOutput = qwenStyle;
        Path file = synthetic.write(folder.resolve(architecture + ".gguf"));
        ReferenceForward reference = new ReferenceForward(synthetic, neox, TOKENS.length);
        try (LoadedModel model = LoadedModel.open(file); Transformer transformer = model.transformer(PREFILL, 1, 32)) {
            assertEquals(qwenStyle, model.weights.output() == model.weights.tokenEmbedding());
            int[] blockTable = BlockTables.consecutive(new int[] {TOKENS.length}, 4, transformer.kvSlots())[0];
            StepBatch batch = new StepBatch(1, PREFILL, 4);
            for (int position = 0; position < TOKENS.length; position++) {
                double[] expected = reference.next(TOKENS[position], position);
                if (position < PREFILL - 1) {
                    continue;
                }
                batch.clear();
                int from = position == PREFILL - 1 ? 0 : position;
                batch.add(TOKENS, from, position + 1 - from, from, blockTable, true);
                float[] logits = transformer.forward(batch);
                double scale = 0;
                for (double logit : expected) {
                    scale = Math.max(scale, Math.abs(logit));
                }
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], logits[i], 1e-4 * scale, "position " + position + ", token " + i);
                }
            }
        }
    }
}
