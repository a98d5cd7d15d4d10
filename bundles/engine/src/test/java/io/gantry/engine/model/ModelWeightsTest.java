package io.gantry.engine.model;

import io.gantry.backend.cpu.CpuBackend;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.GgufFormatException;
import io.gantry.engine.gguf.GgufValue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelWeightsTest {

    @TempDir
    Path folder;

    @Test
    void missingTensorsNameTheFileAndTheTensor() throws IOException {
        SyntheticModel model = new SyntheticModel("llama", 1);
        model.omitted.add("blk.1.ffn_up.weight");
        assertUploadFails(model, "'blk.1.ffn_up.weight'");

        SyntheticModel qwen = new SyntheticModel("qwen2", 1);
        assertUploadFails(qwen, "'blk.0.attn_q.bias'");
    }

    @Test
    void shapesAreCheckedAgainstTheMetadata() throws IOException {
        SyntheticModel model = new SyntheticModel("llama", 1);
        model.metadata.put("llama.feed_forward_length", GgufValue.ofUInt32(32));
        assertUploadFails(model, "'blk.0.ffn_gate.weight' has 24 rows of 16 but the model's metadata needs 32 rows of 16");
    }

    @Test
    void outputIsTiedWhenAbsentAndLlamaBiasesAreOptional() throws IOException {
        SyntheticModel model = new SyntheticModel("llama", 1);
        model.tiedOutput = true;
        model.qkvBias = true;
        try (LoadedModel loaded = LoadedModel.open(model.write(folder.resolve("tied.gguf")))) {
            assertSame(loaded.weights.tokenEmbedding(), loaded.weights.output());
            assertNotNull(loaded.weights.layers().getFirst().keyBias());
        }
        try (LoadedModel loaded = LoadedModel.open(new SyntheticModel("llama", 1).write(folder.resolve("plain.gguf")))) {
            assertNull(loaded.weights.layers().getFirst().keyBias());
        }
    }

    private void assertUploadFails(SyntheticModel model, String part) throws IOException {
        Path path = model.write(folder.resolve("model.gguf"));
        try (GgufFile file = GgufFile.open(path); CpuBackend backend = new CpuBackend(1, true)) {
            ModelConfig config = ModelConfig.fromGguf(file);
            GgufFormatException e = assertThrows(GgufFormatException.class,
                    () -> ModelWeights.upload(file, config, backend));
            assertTrue(e.getMessage().startsWith(path.toString()), e.getMessage());
            assertTrue(e.getMessage().contains(part), e.getMessage());
        }
    }
}
