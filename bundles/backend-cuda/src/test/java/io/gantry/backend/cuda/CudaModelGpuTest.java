package io.gantry.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.backend.DeviceBackend;
import io.gantry.backend.cpu.CpuBackend;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.model.BlockTables;
import io.gantry.engine.model.Generator;
import io.gantry.engine.model.ModelConfig;
import io.gantry.engine.model.ModelWeights;
import io.gantry.engine.model.StepBatch;
import io.gantry.engine.model.Transformer;
import io.gantry.engine.synth.FileType;
import io.gantry.engine.synth.LlamaShape;
import io.gantry.engine.synth.ModelSynthesizer;
import io.gantry.engine.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Whole models on CUDA against the CPU backend's scalar kernels (its vector kernels multiply Q4_0 weights with
 * activations quantized to 8 bits, which alone moves logits by about 2%): stories260K's 256-token greedy reference reproduced exactly,
 * and logits of a prefill step and decode steps within {@value #LOGIT_TOLERANCE} of the largest logit's
 * magnitude on the random fixture and on generated models of every writable format. Skips where no CUDA
 * device or no shared models folder is available.
 */
class CudaModelGpuTest {

    /** Tensor-core prefill rounds activations to F16; decode products run in F32. */
    private static final double LOGIT_TOLERANCE = 1e-2;

    private static CudaBackend cuda;

    @BeforeAll
    static void openDevice() {
        cuda = CudaKernelsGpuTest.openOrSkip();
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void stories260KGreedyOutputIsTheReference() throws IOException {
        Path model = sharedModel("stories260K.gguf");
        List<String> reference = Files.readAllLines(sharedModel("stories260K.expected.txt"));
        String idsLine = reference.stream().filter(l -> l.startsWith("TOKEN_IDS")).findFirst().orElseThrow();
        int[] expected = Arrays.stream(idsLine.substring(idsLine.indexOf('[') + 1, idsLine.lastIndexOf(']')).split(","))
                .map(String::strip).mapToInt(Integer::parseInt).toArray();
        try (GgufFile file = GgufFile.open(model)) {
            ModelConfig config = ModelConfig.fromGguf(file);
            try (ModelWeights weights = ModelWeights.upload(file, config, cuda);
                    Transformer transformer = new Transformer(weights, 16, 1, 512)) {
                var tokenizer = Tokenizers.fromGguf(file);
                Generator.Result result = new Generator(transformer, tokenizer).generate(
                        Generator.Request.greedy(new int[] {tokenizer.bosId()}, expected.length), (s, t) -> { });
                assertArrayEquals(expected, result.tokens());
            }
        }
    }

    @Test
    void randomFixtureLogitsMatchTheCpuBackend() throws IOException {
        compareWithCpu(sharedModel("fixtures/llama-2-tiny-random.gguf"));
    }

    @ParameterizedTest
    @EnumSource(value = FileType.class, names = {"F32", "F16", "Q8_0", "Q4_0"})
    void generatedModelLogitsMatchTheCpuBackend(FileType type, @TempDir Path directory) throws IOException {
        Path model = directory.resolve("synth-" + type + ".gguf");
        try (GgufFile vocabulary = GgufFile.open(sharedModel("stories260K.gguf"))) {
            ModelSynthesizer.write(new ModelSynthesizer.Spec("gpu-test", new LlamaShape(256, 2, 8, 2, 512, 512), type,
                    7), vocabulary, model, 2);
        }
        compareWithCpu(model);
    }

    /** Runs one 40-token prefill step for two sequences, then 4 decode steps, on both backends. */
    private static void compareWithCpu(Path model) throws IOException {
        try (GgufFile file = GgufFile.open(model); CpuBackend cpu = new CpuBackend(2, false)) {
            ModelConfig config = ModelConfig.fromGguf(file);
            float[][] cpuLogits = run(file, config, cpu);
            float[][] cudaLogits = run(file, config, cuda);
            for (int step = 0; step < cpuLogits.length; step++) {
                double largest = 0;
                double worst = 0;
                for (int i = 0; i < cpuLogits[step].length; i++) {
                    largest = Math.max(largest, Math.abs(cpuLogits[step][i]));
                    worst = Math.max(worst, Math.abs(cpuLogits[step][i] - cudaLogits[step][i]));
                }
                double allowed = LOGIT_TOLERANCE * largest;
                double difference = worst;
                int s = step;
                assertTrue(difference <= allowed, () -> model.getFileName() + " step " + s + ": logits differ by "
                        + difference + ", allowed " + allowed);
            }
        }
    }

    private static float[][] run(GgufFile file, ModelConfig config, DeviceBackend backend) {
        int blockSize = 16;
        int prompt = 40;
        int steps = 5;
        int[][] tables = BlockTables.consecutive(new int[] {prompt + steps, prompt + steps}, blockSize, 256);
        Random random = new Random(11);
        int[][] tokens = new int[2][prompt + steps];
        for (int[] sequence : tokens) {
            for (int i = 0; i < sequence.length; i++) {
                sequence[i] = random.nextInt(config.vocabularySize());
            }
        }
        float[][] logits = new float[steps][];
        try (ModelWeights weights = ModelWeights.upload(file, config, backend);
                Transformer transformer = new Transformer(weights, 2 * prompt, 2, 256)) {
            StepBatch batch = new StepBatch(2, 2 * prompt, blockSize);
            for (int step = 0; step < steps; step++) {
                batch.clear();
                for (int s = 0; s < 2; s++) {
                    int start = step == 0 ? 0 : prompt + step - 1;
                    int count = step == 0 ? prompt : 1;
                    batch.add(tokens[s], start, count, start, tables[s], true);
                }
                float[] out = transformer.forward(batch);
                logits[step] = Arrays.copyOf(out, 2 * config.vocabularySize());
            }
        }
        return logits;
    }

    private static Path sharedModel(String name) {
        String root = System.getProperty("gantry.shared.models");
        Path path = root == null ? null : Path.of(root, name);
        Assumptions.assumeTrue(path != null && Files.isReadable(path),
                "Shared model " + name + " is not available (gantry.shared.models = " + root + ")");
        return path;
    }
}
