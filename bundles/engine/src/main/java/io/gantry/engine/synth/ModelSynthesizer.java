package io.gantry.engine.synth;

import io.gantry.api.backend.TensorType;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.GgufFormatException;
import io.gantry.engine.gguf.GgufValue;
import io.gantry.engine.gguf.GgufWriter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Writes random-weight llama models of any shape, for benchmarks: real models of the benchmark sizes are not at
 * hand everywhere, and token speed does not depend on the weights' values. The recipe:
 * <ul>
 * <li>the vocabulary, its scores, token types and special tokens are copied from a tokenizer GGUF (every
 *     {@code tokenizer.*} key);</li>
 * <li>every matrix is drawn from N(0, 1/cols) and rounded to F16, then written in the requested format (so a Q8_0
 *     or Q4_0 model holds the same bytes as the F16 model of the same seed {@linkplain ModelQuantizer quantized});
 *     {@code token_embd} and {@code output} are separate tensors;</li>
 * <li>norm weights are 1, stored F32;</li>
 * <li>{@code rope.freq_base} 10000, RMS epsilon 1e-5.</li>
 * </ul>
 * The same seed, shape, type and vocabulary give the same file, byte for byte, on any number of threads.
 */
public final class ModelSynthesizer {

    private static final float FREQ_BASE = 10_000f;
    private static final float RMS_EPS = 1e-5f;
    private static final String TOKENS_KEY = "tokenizer.ggml.tokens";

    /**
     * What to write.
     *
     * @param name       the model's {@code general.name}
     * @param shape      its dimensions
     * @param fileType   the formats of the matrices
     * @param seed       the random seed
     */
    public record Spec(String name, LlamaShape shape, FileType fileType, long seed) {

        /** Checks that the matrices fit the formats' blocks. */
        public Spec {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(shape, "shape");
            Objects.requireNonNull(fileType, "fileType");
            for (TensorType type : fileType.matrixTypes()) {
                int block = type.blockElements();
                if (shape.embeddingLength() % block != 0 || shape.feedForwardLength() % block != 0) {
                    throw new IllegalArgumentException(type + " stores rows in blocks of " + block + ": dim "
                            + shape.embeddingLength() + " and ffn " + shape.feedForwardLength()
                            + " must both be multiples of " + block);
                }
            }
        }
    }

    private ModelSynthesizer() {
    }

    /**
     * Writes a model, replacing any file at {@code output}.
     *
     * @param spec       what to write
     * @param vocabulary an open GGUF file with {@code tokenizer.*} metadata (tensors, if any, are ignored)
     * @param output     the file to write
     * @param threads    threads that draw and encode the weights
     * @return what was written
     * @throws GgufFormatException if {@code vocabulary} has no token list
     * @throws IOException         if the file cannot be written
     */
    public static WrittenModel write(Spec spec, GgufFile vocabulary, Path output, int threads) throws IOException {
        if (!vocabulary.has(TOKENS_KEY)) {
            throw new GgufFormatException(vocabulary.name(), "has no " + TOKENS_KEY + ", so it is no vocabulary");
        }
        int vocabularySize = vocabulary.getArray(TOKENS_KEY).size();
        LlamaShape shape = spec.shape();
        FileType fileType = spec.fileType();

        GgufWriter writer = new GgufWriter()
                .putString("general.architecture", "llama")
                .putString("general.name", spec.name())
                .putString("general.description", "Random weights for benchmarks: matrices N(0, 1/cols) rounded "
                        + "to F16, norms 1; seed " + spec.seed())
                .putUInt32("general.file_type", fileType.number());
        if (fileType.quantized()) {
            writer.putUInt32(ModelQuantizer.QUANTIZATION_VERSION_KEY, ModelQuantizer.QUANTIZATION_VERSION);
        }
        writer.putUInt32("llama.context_length", shape.contextLength())
                .putUInt32("llama.embedding_length", shape.embeddingLength())
                .putUInt32("llama.block_count", shape.blockCount())
                .putUInt32("llama.feed_forward_length", shape.feedForwardLength())
                .putUInt32("llama.attention.head_count", shape.headCount())
                .putUInt32("llama.attention.head_count_kv", shape.headCountKv())
                .putUInt32("llama.rope.dimension_count", shape.headDim())
                .putFloat32("llama.rope.freq_base", FREQ_BASE)
                .putFloat32("llama.attention.layer_norm_rms_epsilon", RMS_EPS)
                .putUInt32("llama.vocab_size", vocabularySize);
        for (Map.Entry<String, GgufValue> entry : vocabulary.metadata().entrySet()) {
            if (entry.getKey().startsWith("tokenizer.")) {
                writer.put(entry.getKey(), entry.getValue());
            }
        }

        int dim = shape.embeddingLength();
        int ffn = shape.feedForwardLength();
        Tensors tensors = new Tensors(spec);
        tensors.matrix("token_embd.weight", vocabularySize, dim);
        for (int layer = 0; layer < shape.blockCount(); layer++) {
            String b = "blk." + layer + ".";
            tensors.norm(b + "attn_norm.weight", dim);
            tensors.matrix(b + "attn_q.weight", dim, dim);
            tensors.matrix(b + "attn_k.weight", shape.kvLength(), dim);
            tensors.matrix(b + "attn_v.weight", shape.kvLength(), dim);
            tensors.matrix(b + "attn_output.weight", dim, dim);
            tensors.norm(b + "ffn_norm.weight", dim);
            tensors.matrix(b + "ffn_gate.weight", ffn, dim);
            tensors.matrix(b + "ffn_up.weight", ffn, dim);
            tensors.matrix(b + "ffn_down.weight", dim, ffn);
        }
        tensors.norm("output_norm.weight", dim);
        tensors.matrix("output.weight", vocabularySize, dim);
        return ModelFiles.write(writer, tensors.planned, output, threads);
    }

    /** The tensor list, in file order. */
    private static final class Tensors {
        private final Spec spec;
        private final List<ModelFiles.PlannedTensor> planned = new ArrayList<>();

        Tensors(Spec spec) {
            this.spec = spec;
        }

        void matrix(String name, int rows, int cols) {
            TensorType type = spec.fileType().matrixType(name, spec.shape().blockCount(), true);
            planned.add(ModelFiles.PlannedTensor.encoded(name, type,
                    RowSource.gaussianF16(ModelFiles.tensorSeed(spec.seed(), name), cols), cols, rows));
        }

        void norm(String name, int length) {
            planned.add(ModelFiles.PlannedTensor.encoded(name, TensorType.F32, RowSource.ones(length), length));
        }
    }
}
