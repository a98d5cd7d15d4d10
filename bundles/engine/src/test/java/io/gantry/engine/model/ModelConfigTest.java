package io.gantry.engine.model;

import io.gantry.api.backend.RopeSpec;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.GgufFormatException;
import io.gantry.engine.gguf.GgufValue;
import io.gantry.engine.gguf.SharedModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelConfigTest {

    @TempDir
    Path folder;

    @Test
    void readsStories260K() throws IOException {
        try (GgufFile file = GgufFile.open(SharedModels.require("stories260K.gguf"))) {
            ModelConfig config = ModelConfig.fromGguf(file);
            assertEquals(new ModelConfig(ModelConfig.Architecture.LLAMA, 64, 5, 172, 8, 4, 8, 1e-5f, 2048, 512,
                    new RopeSpec(RopeSpec.Style.NORMAL, 8, 10_000f, 1f, null)), config);
            assertEquals(64, config.queryLength());
            assertEquals(32, config.kvLength());
        }
    }

    @Test
    void qwen2RotatesNeoXStyleAndDefaultsKvHeadsToHeads() throws IOException {
        SyntheticModel model = new SyntheticModel("qwen2", 1);
        model.freqBase = 1_000_000f;
        model.omitted.add("qwen2.attention.head_count_kv");
        ModelConfig config = read(model);
        assertEquals(ModelConfig.Architecture.QWEN2, config.architecture());
        assertEquals(new RopeSpec(RopeSpec.Style.NEOX, 4, 1_000_000f, 1f, null), config.rope());
        assertEquals(4, config.headCountKv());
        assertEquals(40, config.vocabularySize());
    }

    @Test
    void unknownArchitecturesAndMissingKeysNameTheFileAndTheKey() throws IOException {
        SyntheticModel gpt2 = new SyntheticModel("gpt2", 1);
        Path gpt2File = gpt2.write(folder.resolve("gpt2.gguf"));
        assertMessage(gpt2File, "architecture 'gpt2' is not supported");

        for (String key : new String[] {"llama.block_count", "llama.attention.layer_norm_rms_epsilon",
                "llama.context_length", "tokenizer.ggml.tokens"}) {
            SyntheticModel model = new SyntheticModel("llama", 1);
            model.omitted.add(key);
            assertMessage(model.write(folder.resolve("missing.gguf")), "'" + key + "'");
        }
    }

    @Test
    void linearRopeScalingDividesTheFrequencies() throws IOException {
        SyntheticModel model = new SyntheticModel("llama", 1);
        model.metadata.put("llama.rope.scaling.type", GgufValue.ofString("linear"));
        model.metadata.put("llama.rope.scaling.factor", GgufValue.ofFloat32(4f));
        assertEquals(0.25f, read(model).rope().freqScale());

        SyntheticModel yarn = new SyntheticModel("llama", 1);
        yarn.metadata.put("llama.rope.scaling.type", GgufValue.ofString("yarn"));
        assertMessage(yarn.write(folder.resolve("yarn.gguf")), "rope.scaling.type 'yarn' is not supported");
    }

    @Test
    void llama3FrequencyFactorsBecomeLlama3Scaling() throws IOException {
        SyntheticModel model = new SyntheticModel("llama", 1);
        model.freqBase = 500_000f;
        model.embedding = 64; // head dim 16: some frequencies kept, some scaled, some smoothed
        float[] factors = llama3Factors(16, 500_000, 8, 1, 4, 8192);
        model.tensor(ModelConfig.ROPE_FACTORS_TENSOR, factors, factors.length);
        RopeSpec rope = read(model).rope();
        assertEquals(new RopeSpec.Llama3Scaling(8, 1, 4, 8192), rope.llama3());
        assertEquals(1f, rope.freqScale());

        factors[4] *= 1.5f; // a smoothed frequency
        SyntheticModel other = new SyntheticModel("llama", 1);
        other.freqBase = 500_000f;
        other.embedding = 64;
        other.tensor(ModelConfig.ROPE_FACTORS_TENSOR, factors, factors.length);
        assertMessage(other.write(folder.resolve("factors.gguf")), "rope_freqs.weight[4]");
    }

    @Test
    void noScalingWithoutFactorsOrScalingKeys() throws IOException {
        RopeSpec rope = read(new SyntheticModel("llama", 1)).rope();
        assertNull(rope.llama3());
        assertEquals(1f, rope.freqScale());
    }

    /** The factors as llama.cpp's converter computes them from a Hugging Face {@code rope_scaling}. */
    private static float[] llama3Factors(int dims, double base, double factor, double low, double high, int context) {
        float[] factors = new float[dims / 2];
        for (int i = 0; i < factors.length; i++) {
            double wavelength = 2 * Math.PI * Math.pow(base, 2.0 * i / dims);
            if (wavelength < context / high) {
                factors[i] = 1;
            } else if (wavelength > context / low) {
                factors[i] = (float) factor;
            } else {
                double smooth = (context / wavelength - low) / (high - low);
                factors[i] = (float) (1 / ((1 - smooth) / factor + smooth));
            }
        }
        return factors;
    }

    private ModelConfig read(SyntheticModel model) throws IOException {
        try (GgufFile file = GgufFile.open(model.write(folder.resolve("model.gguf")))) {
            return ModelConfig.fromGguf(file);
        }
    }

    private static void assertMessage(Path path, String part) throws IOException {
        try (GgufFile file = GgufFile.open(path)) {
            GgufFormatException e = assertThrows(GgufFormatException.class, () -> ModelConfig.fromGguf(file));
            assertTrue(e.getMessage().startsWith(path.toString()), e.getMessage());
            assertTrue(e.getMessage().contains(part), e.getMessage());
        }
    }
}
