package io.gantry.engine.synth;

import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import io.gantry.api.inference.SamplingParams;
import io.gantry.backend.cpu.CpuBackend;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.GgufFormatException;
import io.gantry.engine.gguf.GgufTensorInfo;
import io.gantry.engine.gguf.GgufWriter;
import io.gantry.engine.model.BlockTables;
import io.gantry.engine.model.Generator;
import io.gantry.engine.model.ModelConfig;
import io.gantry.engine.model.ModelWeights;
import io.gantry.engine.model.StepBatch;
import io.gantry.engine.model.Transformer;
import io.gantry.engine.tokenizer.Tokenizer;
import io.gantry.engine.tokenizer.Tokenizers;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelSynthesizerTest {

    /** Small, but with grouped-query attention and matrices whose rows are several Q4_0 blocks. */
    private static final LlamaShape TINY = new LlamaShape(64, 2, 4, 2, 96, 256);
    /** Rows of whole K super-blocks (256), and layers enough for Q4_K_M's choice of Q6_K ones: 0, 3, 6 and 7. */
    private static final LlamaShape K_SHAPE = new LlamaShape(256, 8, 4, 2, 512, 64);

    @TempDir
    Path folder;
    private Path vocabularyPath;

    @BeforeEach
    void writeVocabulary() throws IOException {
        vocabularyPath = TinyVocabulary.write(folder.resolve("vocab.gguf"));
    }

    private Path synthesize(String file, LlamaShape shape, FileType type, long seed, int threads) throws IOException {
        try (GgufFile vocabulary = GgufFile.open(vocabularyPath)) {
            WrittenModel written = ModelSynthesizer.write(new ModelSynthesizer.Spec("tiny", shape, type, seed),
                    vocabulary, folder.resolve(file), threads);
            assertEquals(shape.parameters(TinyVocabulary.size()), written.parameters());
            assertEquals(Files.size(written.path()), written.fileBytes());
            return written.path();
        }
    }

    @Test
    void followsTheRecipe() throws IOException {
        Path path = synthesize("tiny-f16.gguf", TINY, FileType.F16, 1, 2);
        try (GgufFile file = GgufFile.open(path); GgufFile vocabulary = GgufFile.open(vocabularyPath)) {
            assertEquals("llama", file.getString("general.architecture"));
            assertEquals(1, file.getInt("general.file_type"));
            assertFalse(file.has("general.quantization_version"));
            assertEquals(10_000f, file.getFloat("llama.rope.freq_base"));
            assertEquals(1e-5f, file.getFloat("llama.attention.layer_norm_rms_epsilon"));
            assertEquals(256, file.getInt("llama.context_length"));
            assertEquals(16, file.getInt("llama.rope.dimension_count"));
            for (String key : vocabulary.metadata().keySet()) {
                if (key.startsWith("tokenizer.")) {
                    assertEquals(vocabulary.metadata().get(key), file.metadata().get(key), key);
                }
            }
            assertEquals(2 + 9 * TINY.blockCount() + 1, file.tensorInfos().size());
            assertTrue(file.hasTensor("output.weight"), "output is its own tensor, not tied to token_embd");
            for (GgufTensorInfo info : file.tensorInfos()) {
                float[] values = values(file.tensor(info.name()));
                if (info.dims().length == 1) {
                    assertEquals(TensorType.F32, info.type(), info.name());
                    for (float value : values) {
                        assertEquals(1f, value, info.name());
                    }
                } else {
                    assertEquals(TensorType.F16, info.type(), info.name());
                    assertNormal(info.name(), values, 1.0 / info.cols());
                }
            }
        }
    }

    private static float[] values(HostTensor tensor) {
        float[] values = new float[tensor.rows() * tensor.cols()];
        TensorEncoding.decode(tensor.type(), tensor.data(), 0, values, 0, values.length);
        return values;
    }

    /** Mean and variance within five standard errors of N(0, variance). */
    private static void assertNormal(String name, float[] values, double variance) {
        double sum = 0;
        double squares = 0;
        for (float value : values) {
            sum += value;
            squares += (double) value * value;
        }
        int n = values.length;
        double mean = sum / n;
        double sampleVariance = squares / n - mean * mean;
        assertTrue(Math.abs(mean) < 5 * Math.sqrt(variance / n), name + ": mean " + mean);
        assertTrue(Math.abs(sampleVariance - variance) < 5 * variance * Math.sqrt(2.0 / n),
                name + ": variance " + sampleVariance + ", expected " + variance);
    }

    @Test
    void theSameSeedGivesTheSameBytesOnAnyNumberOfThreads() throws IOException {
        byte[] one = Files.readAllBytes(synthesize("a.gguf", TINY, FileType.Q4_0, 42, 1));
        byte[] three = Files.readAllBytes(synthesize("b.gguf", TINY, FileType.Q4_0, 42, 3));
        byte[] otherSeed = Files.readAllBytes(synthesize("c.gguf", TINY, FileType.Q4_0, 43, 3));
        assertArrayEquals(one, three);
        assertEquals(one.length, otherSeed.length);
        assertFalse(Arrays.equals(one, otherSeed));
    }

    @Test
    void quantizingTheF16ModelGivesTheSynthesisedQuantizedModel() throws IOException {
        for (LlamaShape shape : List.of(TINY, K_SHAPE)) {
            Path f16 = synthesize("f16.gguf", shape, FileType.F16, 5, 2);
            List<FileType> types = shape == TINY ? List.of(FileType.Q8_0, FileType.Q4_0)
                    : List.of(FileType.Q4_K_M, FileType.Q6_K);
            for (FileType type : types) {
                Path direct = synthesize("direct.gguf", shape, type, 5, 2);
                try (GgufFile input = GgufFile.open(f16)) {
                    ModelQuantizer.Result result = ModelQuantizer.quantize(input, type,
                            folder.resolve("converted.gguf"), 2);
                    assertEquals(2 + 7 * shape.blockCount(), result.converted());
                    assertEquals(List.of(), result.keptAsInSource());
                    assertArrayEquals(Files.readAllBytes(direct), Files.readAllBytes(result.written().path()),
                            type.name());
                }
            }
        }
    }

    @Test
    void q4_K_MWritesQ6_KForTheOutputAndHalfTheLayersValuesAndDownProjections() throws IOException {
        Path path = synthesize("q4_k_m.gguf", K_SHAPE, FileType.Q4_K_M, 2, 2);
        try (GgufFile file = GgufFile.open(path)) {
            assertEquals(15, file.getInt("general.file_type"));
            assertEquals(2, file.getInt("general.quantization_version"));
            assertEquals(TensorType.Q6_K, file.tensorInfo("output.weight").orElseThrow().type());
            assertEquals(TensorType.Q4_K, file.tensorInfo("token_embd.weight").orElseThrow().type());
            for (int layer = 0; layer < K_SHAPE.blockCount(); layer++) {
                TensorType sensitive = List.of(0, 3, 6, 7).contains(layer) ? TensorType.Q6_K : TensorType.Q4_K;
                for (String matrix : List.of("attn_v", "ffn_down")) {
                    String name = "blk." + layer + "." + matrix + ".weight";
                    assertEquals(sensitive, file.tensorInfo(name).orElseThrow().type(), name);
                }
                for (String matrix : List.of("attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up")) {
                    String name = "blk." + layer + "." + matrix + ".weight";
                    assertEquals(TensorType.Q4_K, file.tensorInfo(name).orElseThrow().type(), name);
                }
            }
        }
        assertEquals(TensorType.Q6_K, FileType.Q4_K_M.matrixType("token_embd.weight", 8, false),
                "a tied output gives the embedding Q6_K");
    }

    @Test
    void quantizingKeepsMatricesWhoseRowsAreNotWholeBlocksAndRefusesToRequantize() throws IOException {
        LlamaShape oddFfn = new LlamaShape(64, 1, 4, 4, 48, 128);
        Path f16 = synthesize("odd.gguf", oddFfn, FileType.F16, 1, 1);
        Path q8 = folder.resolve("odd-q8_0.gguf");
        try (GgufFile input = GgufFile.open(f16)) {
            ModelQuantizer.Result result = ModelQuantizer.quantize(input, FileType.Q8_0, q8, 1);
            assertEquals(List.of("blk.0.ffn_down.weight"), result.keptAsInSource());
        }
        try (GgufFile quantized = GgufFile.open(q8)) {
            assertEquals(TensorType.F16, quantized.tensorInfo("blk.0.ffn_down.weight").orElseThrow().type());
            assertEquals(TensorType.Q8_0, quantized.tensorInfo("blk.0.ffn_up.weight").orElseThrow().type());
            assertEquals(7, quantized.getInt("general.file_type"));
            assertEquals(2, quantized.getInt("general.quantization_version"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ModelQuantizer.quantize(quantized, FileType.Q4_0, folder.resolve("again.gguf"), 1));
            assertTrue(e.getMessage().contains("start from the F16 file"), e.getMessage());
        }
        assertFalse(Files.exists(folder.resolve("again.gguf.part")), "a failed write leaves no partial file");
    }

    @Test
    void everyFormatLoadsAndGenerates() throws IOException {
        for (FileType type : FileType.values()) {
            LlamaShape shape = type.matrixTypes()[0].blockElements() > 32 ? K_SHAPE : TINY;
            Path path = synthesize("tiny-" + type + ".gguf", shape, type, 3, 2);
            try (GgufFile file = GgufFile.open(path); CpuBackend backend = new CpuBackend(2, true)) {
                ModelConfig config = ModelConfig.fromGguf(file);
                assertEquals(TinyVocabulary.size(), config.vocabularySize());
                assertEquals(2, config.headCountKv());
                Tokenizer tokenizer = Tokenizers.fromGguf(file);
                try (ModelWeights weights = ModelWeights.upload(file, config, backend);
                        Transformer transformer = new Transformer(weights, 16, 1, 64)) {
                    int[] prompt = tokenizer.encode("the cat sat", true, false);
                    Generator.Result result = new Generator(transformer, tokenizer).generate(
                            new Generator.Request(prompt, SamplingParams.GREEDY, 12, true, -1), (s, t) -> { });
                    assertEquals(12, result.tokens().length, type.name());
                    for (int token : result.tokens()) {
                        assertTrue(token >= 0 && token < config.vocabularySize());
                    }
                }
            }
        }
    }

    /**
     * The vector kernels multiply Q4_0 weights with the batch quantized to 8 bits, as ggml does; the scalar kernels
     * with float activations. Over a whole model, prompt and decode steps, their logits stay within 5% of the
     * largest logit: on this random 64-wide model they differ by 1.4% to 3.1% (2% to 2.8% at 256 wide). A wrong
     * scale or nibble would put them apart by the logits' own size.
     */
    @Test
    void q4_0LogitsOfQuantizedActivationsStayCloseToFloatActivations() throws IOException {
        Path path = synthesize("tiny-q4_0.gguf", TINY, FileType.Q4_0, 4, 2);
        float[][] quantized = logits(path, true);
        float[][] exact = logits(path, false);
        for (int step = 0; step < exact.length; step++) {
            double largest = 0;
            double worst = 0;
            for (int i = 0; i < exact[step].length; i++) {
                largest = Math.max(largest, Math.abs(exact[step][i]));
                worst = Math.max(worst, Math.abs(exact[step][i] - quantized[step][i]));
            }
            assertTrue(worst <= 5e-2 * largest, "step " + step + ": logits differ by " + worst + ", largest " + largest);
            assertTrue(worst > 0, "the vector kernels quantize the batch, so some logit differs");
        }
    }

    /** @return the logits of a 24-token prompt's last token, then of 4 greedy decode steps */
    private static float[][] logits(Path path, boolean vector) throws IOException {
        int prompt = 24;
        int steps = 5;
        try (GgufFile file = GgufFile.open(path); CpuBackend backend = new CpuBackend(2, vector)) {
            ModelConfig config = ModelConfig.fromGguf(file);
            int[] table = BlockTables.consecutive(new int[] {prompt + steps}, 16, 64)[0];
            int[] tokens = new Random(5).ints(prompt + steps, 0, config.vocabularySize()).toArray();
            float[][] logits = new float[steps][];
            try (ModelWeights weights = ModelWeights.upload(file, config, backend);
                    Transformer transformer = new Transformer(weights, prompt, 1, 64)) {
                StepBatch batch = new StepBatch(1, prompt, 16);
                for (int step = 0; step < steps; step++) {
                    batch.clear();
                    int start = step == 0 ? 0 : prompt + step - 1;
                    batch.add(tokens, start, step == 0 ? prompt : 1, start, table, true);
                    logits[step] = Arrays.copyOf(transformer.forward(batch), config.vocabularySize());
                }
            }
            return logits;
        }
    }

    @Test
    void rejectsWhatCannotBeWritten() throws IOException {
        assertThrows(IllegalArgumentException.class, () -> new ModelSynthesizer.Spec("x",
                new LlamaShape(80, 1, 4, 4, 96, 128), FileType.Q4_0, 1), "80 is not a multiple of 32");
        assertThrows(IllegalArgumentException.class, () -> new ModelSynthesizer.Spec("x", TINY, FileType.Q4_K_M, 1));
        assertThrows(IllegalArgumentException.class, () -> new LlamaShape(64, 1, 5, 5, 96, 128), "heads do not divide");
        assertThrows(IllegalArgumentException.class, () -> new LlamaShape(64, 1, 4, 3, 96, 128), "KV heads");

        Path noTokens = folder.resolve("no-tokens.gguf");
        new GgufWriter().putString("general.architecture", "llama").write(noTokens);
        try (GgufFile file = GgufFile.open(noTokens)) {
            assertThrows(GgufFormatException.class, () -> ModelSynthesizer.write(
                    new ModelSynthesizer.Spec("x", TINY, FileType.F16, 1), file, folder.resolve("x.gguf"), 1));
        }
        try (GgufFile vocabulary = GgufFile.open(vocabularyPath)) {
            IOException e = assertThrows(IOException.class, () -> ModelSynthesizer.write(
                    new ModelSynthesizer.Spec("x", TINY, FileType.F16, 1), vocabulary,
                    folder.resolve("missing/x.gguf"), 1));
            assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        }
    }

    @Test
    void thePresetsHaveTheBenchmarkSizes() {
        assertEquals(134_105_856L, LlamaShape.preset("bench-110m").orElseThrow().parameters(32_000));
        assertEquals(1_104_218_112L, LlamaShape.preset("bench-1b").orElseThrow().parameters(32_000));
        assertTrue(LlamaShape.preset("bench-7b").isEmpty());
    }
}
