package io.gantry.engine.gguf;

import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reads the real stories260K model and checks it against ../shared/models/SOURCES.md. */
class GgufStories260KTest {

    @Test
    void metadataMatchesSources() throws IOException {
        try (GgufFile file = GgufFile.open(SharedModels.require("stories260K.gguf"))) {
            assertEquals(3, file.version());
            assertEquals("llama", file.getString("general.architecture"));
            assertEquals("llama", file.getString("general.name"));
            assertEquals(5, file.getInt("llama.block_count"));
            assertEquals(64, file.getInt("llama.embedding_length"));
            assertEquals(172, file.getInt("llama.feed_forward_length"));
            assertEquals(8, file.getInt("llama.attention.head_count"));
            assertEquals(4, file.getInt("llama.attention.head_count_kv"));
            assertEquals(8, file.getInt("llama.rope.dimension_count"));
            assertEquals(2048, file.getInt("llama.context_length"));
            assertFalse(file.has("llama.rope.freq_base"));
            assertEquals(1e-5f, file.getFloat("llama.attention.layer_norm_rms_epsilon"));
            assertEquals("llama", file.getString("tokenizer.ggml.model"));
            assertEquals(512, file.getStringArray("tokenizer.ggml.tokens").length);
            assertEquals(512, file.getFloatArray("tokenizer.ggml.scores").length);
            assertEquals(512, file.getIntArray("tokenizer.ggml.token_type").length);
            assertEquals(1, file.getInt("tokenizer.ggml.bos_token_id"));
            assertEquals(2, file.getInt("tokenizer.ggml.eos_token_id"));
            assertEquals(0, file.getInt("tokenizer.ggml.unknown_token_id"));
            assertFalse(file.has("tokenizer.ggml.add_bos_token"));
            assertFalse(file.has("tokenizer.chat_template"));
        }
    }

    @Test
    void tensorsAreAlignedF32ViewsOfTheFile() throws IOException {
        try (GgufFile file = GgufFile.open(SharedModels.require("stories260K.gguf"))) {
            assertEquals(48, file.tensorInfos().size());
            assertEquals(32, file.alignment());
            assertEquals(0, file.dataOffset() % 32);
            long parameters = 0;
            for (GgufTensorInfo info : file.tensorInfos()) {
                assertEquals(TensorType.F32, info.type(), info.name());
                assertEquals(0, info.offset() % 32, info.name());
                parameters += info.elementCount();
            }
            assertEquals(292_800, parameters);

            HostTensor embedding = file.tensor("token_embd.weight");
            assertEquals(512, embedding.rows());
            assertEquals(64, embedding.cols());
            assertTrue(embedding.data().isMapped());
            HostTensor keys = file.tensor("blk.0.attn_k.weight");
            assertEquals(32, keys.rows());
            assertEquals(64, keys.cols());
            HostTensor norm = file.tensor("output_norm.weight");
            assertEquals(1, norm.rows());
            assertEquals(64, norm.cols());
            assertEquals(-1, MemorySegment.mismatch(embedding.data(), 0, embedding.data().byteSize(),
                    file.tensor("output.weight").data(), 0, embedding.data().byteSize()),
                    "output.weight is an exact copy of token_embd.weight");
        }
    }
}
