package io.gantry.engine.model;

import io.gantry.api.backend.TensorType;
import io.gantry.engine.gguf.SharedModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * Sequences that share steps must get the same logits as each run alone: whole prompts prefilled together,
 * and continuous batching where prompts arrive late, are cut into chunks and share steps with decodes, with
 * KV blocks scattered through the pool.
 */
class BatchEquivalenceTest {

    private static final int BLOCK_SIZE = 4;
    private static final float TOLERANCE = 1e-4f;
    /** Each sequence: a prompt, then tokens fed one at a time as if they had been generated. */
    private static final int[][] TOKENS = {
            {1, 403, 407, 261, 378, 432, 383, 286, 261, 376},
            {1, 300, 301, 302, 303, 304, 305},
            {1, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150},
    };
    private static final int[] PROMPT_LENGTHS = {6, 3, 9};

    private static LoadedModel model;

    @BeforeAll
    static void load() throws IOException {
        model = LoadedModel.open(SharedModels.require("stories260K.gguf"));
    }

    @AfterAll
    static void unload() {
        if (model != null) {
            model.close();
        }
    }

    @ParameterizedTest(name = "{0} KV pool")
    @EnumSource(value = TensorType.class, names = {"F32", "F16"})
    void promptsPrefilledTogetherMatchEachAlone(TensorType kvType) {
        float[][][] alone = alone(kvType);
        float[][][] together = run(new int[] {0, 0, 0}, 64, scatteredTables(), kvType);
        assertSameLogits(alone, together);
    }

    @ParameterizedTest(name = "{0} KV pool")
    @EnumSource(value = TensorType.class, names = {"F32", "F16"})
    void chunkedLateAndMixedStepsMatchEachAlone(TensorType kvType) {
        float[][][] alone = alone(kvType);
        float[][][] continuous = run(new int[] {0, 1, 3}, 4, scatteredTables(), kvType);
        assertSameLogits(alone, continuous);
    }

    private static float[][][] alone(TensorType kvType) {
        float[][][] logits = new float[TOKENS.length][][];
        for (int s = 0; s < TOKENS.length; s++) {
            int[][] only = new int[TOKENS.length][];
            only[s] = BlockTables.consecutive(new int[] {TOKENS[s].length}, BLOCK_SIZE, 64)[0];
            int[] starts = new int[TOKENS.length];
            Arrays.fill(starts, Integer.MAX_VALUE);
            starts[s] = 0;
            logits[s] = run(starts, 64, only, kvType)[s];
        }
        return logits;
    }

    /** Every sequence's blocks, taken from the end of the pool backwards, so no table is consecutive. */
    private static int[][] scatteredTables() {
        int[] lengths = new int[TOKENS.length];
        for (int s = 0; s < TOKENS.length; s++) {
            lengths[s] = TOKENS[s].length;
        }
        int[][] tables = BlockTables.consecutive(lengths, BLOCK_SIZE, 64);
        int blocks = 64 / BLOCK_SIZE;
        for (int[] table : tables) {
            for (int b = 0; b < table.length; b++) {
                table[b] = blocks - 1 - table[b];
            }
        }
        return tables;
    }

    /**
     * Feeds every sequence from its start step on, at most {@code rowsPerStep} tokens per step in sequence order:
     * the prompt in chunks, then one token per step.
     *
     * @return per sequence, per position from the prompt's last on, the logits there
     */
    private static float[][][] run(int[] startSteps, int rowsPerStep, int[][] blockTables, TensorType kvType) {
        int vocabulary = model.config.vocabularySize();
        float[][][] logits = new float[TOKENS.length][][];
        int[] computed = new int[TOKENS.length];
        int[] rows = new int[TOKENS.length];
        try (Transformer transformer = model.transformer(rowsPerStep, TOKENS.length, 64, kvType)) {
            StepBatch batch = new StepBatch(TOKENS.length, rowsPerStep, BLOCK_SIZE);
            for (int step = 0; step < 100; step++) {
                batch.clear();
                int budget = rowsPerStep;
                for (int s = 0; s < TOKENS.length; s++) {
                    int known = Math.max(PROMPT_LENGTHS[s], computed[s] + 1);
                    int count = Math.min(Math.min(known, TOKENS[s].length) - computed[s], budget);
                    if (step < startSteps[s] || count <= 0) {
                        rows[s] = -1;
                        continue;
                    }
                    boolean needsLogits = computed[s] + count >= PROMPT_LENGTHS[s];
                    rows[s] = batch.add(TOKENS[s], computed[s], count, computed[s], blockTables[s], needsLogits);
                    computed[s] += count;
                    budget -= count;
                }
                if (batch.rows() == 0) {
                    break;
                }
                float[] result = transformer.forward(batch);
                for (int s = 0; s < TOKENS.length; s++) {
                    if (rows[s] >= 0) {
                        if (logits[s] == null) {
                            logits[s] = new float[TOKENS[s].length - PROMPT_LENGTHS[s] + 1][];
                        }
                        logits[s][computed[s] - PROMPT_LENGTHS[s]] = Arrays.copyOfRange(result,
                                rows[s] * vocabulary, (rows[s] + 1) * vocabulary);
                    }
                }
            }
        }
        return logits;
    }

    private static void assertSameLogits(float[][][] expected, float[][][] actual) {
        for (int s = 0; s < expected.length; s++) {
            for (int p = 0; p < expected[s].length; p++) {
                assertNotNull(actual[s][p], "no logits for sequence " + s + " at step " + p);
                float scale = 0;
                for (float logit : expected[s][p]) {
                    scale = Math.max(scale, Math.abs(logit));
                }
                for (int i = 0; i < expected[s][p].length; i++) {
                    assertEquals(expected[s][p][i], actual[s][p][i], TOLERANCE * scale,
                            "sequence " + s + ", position " + (PROMPT_LENGTHS[s] - 1 + p) + ", token " + i);
                }
            }
        }
    }
}
