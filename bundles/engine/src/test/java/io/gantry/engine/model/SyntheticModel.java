package io.gantry.engine.model;

import io.gantry.api.backend.TensorType;
import io.gantry.engine.gguf.GgufArray;
import io.gantry.engine.gguf.GgufValue;
import io.gantry.engine.gguf.GgufWriter;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * A tiny random-weight llama or qwen2 model with F32 tensors, written as GGUF for tests. Fields are set before
 * {@link #write}; the weights it wrote stay in {@link #tensors} for a reference computation.
 */
final class SyntheticModel {

    final String architecture;
    int embedding = 16;
    int layers = 2;
    int feedForward = 24;
    int heads = 4;
    int kvHeads = 2;
    int vocabulary = 40;
    int context = 64;
    float eps = 1e-5f;
    float freqBase = 10_000f;
    boolean tiedOutput;
    boolean qkvBias;
    /** Metadata keys and tensor names to leave out. */
    final Set<String> omitted = new HashSet<>();
    /** Metadata to add or replace. */
    final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    /** Every tensor written: name to data (row after row), and to its GGUF shape. */
    final Map<String, float[]> tensors = new LinkedHashMap<>();
    final Map<String, long[]> shapes = new LinkedHashMap<>();
    private final Random random;

    SyntheticModel(String architecture, long seed) {
        this.architecture = architecture;
        this.random = new Random(seed);
    }

    int headDim() {
        return embedding / heads;
    }

    /** Adds a tensor beyond the model's own, e.g. {@code rope_freqs.weight}. */
    void tensor(String name, float[] data, long... shape) {
        tensors.put(name, data);
        shapes.put(name, shape);
    }

    Path write(Path path) throws IOException {
        String p = architecture + ".";
        Map<String, GgufValue> keys = new LinkedHashMap<>();
        keys.put("general.architecture", GgufValue.ofString(architecture));
        keys.put(p + "embedding_length", GgufValue.ofUInt32(embedding));
        keys.put(p + "block_count", GgufValue.ofUInt32(layers));
        keys.put(p + "feed_forward_length", GgufValue.ofUInt32(feedForward));
        keys.put(p + "attention.head_count", GgufValue.ofUInt32(heads));
        keys.put(p + "attention.head_count_kv", GgufValue.ofUInt32(kvHeads));
        keys.put(p + "attention.layer_norm_rms_epsilon", GgufValue.ofFloat32(eps));
        keys.put(p + "rope.freq_base", GgufValue.ofFloat32(freqBase));
        keys.put(p + "context_length", GgufValue.ofUInt32(context));
        String[] tokens = new String[vocabulary];
        for (int i = 0; i < vocabulary; i++) {
            tokens[i] = "t" + i;
        }
        keys.put("tokenizer.ggml.tokens", GgufValue.ofArray(GgufArray.ofStrings(tokens)));
        keys.putAll(metadata);
        GgufWriter writer = new GgufWriter();
        keys.forEach((key, value) -> {
            if (!omitted.contains(key)) {
                writer.put(key, value);
            }
        });

        int kv = kvHeads * headDim();
        matrix("token_embd.weight", vocabulary, embedding, 1f);
        norm("output_norm.weight", embedding);
        if (!tiedOutput) {
            matrix("output.weight", vocabulary, embedding, 0.3f);
        }
        for (int l = 0; l < layers; l++) {
            String b = "blk." + l + ".";
            norm(b + "attn_norm.weight", embedding);
            matrix(b + "attn_q.weight", embedding, embedding, 0.3f);
            matrix(b + "attn_k.weight", kv, embedding, 0.3f);
            matrix(b + "attn_v.weight", kv, embedding, 0.3f);
            if (qkvBias) {
                matrix(b + "attn_q.bias", 1, embedding, 0.5f);
                matrix(b + "attn_k.bias", 1, kv, 0.5f);
                matrix(b + "attn_v.bias", 1, kv, 0.5f);
            }
            matrix(b + "attn_output.weight", embedding, embedding, 0.3f);
            norm(b + "ffn_norm.weight", embedding);
            matrix(b + "ffn_gate.weight", feedForward, embedding, 0.3f);
            matrix(b + "ffn_up.weight", feedForward, embedding, 0.3f);
            matrix(b + "ffn_down.weight", embedding, feedForward, 0.3f);
        }
        tensors.forEach((name, data) -> {
            if (!omitted.contains(name)) {
                writer.addTensor(name, TensorType.F32, shapes.get(name), MemorySegment.ofArray(data));
            }
        });
        writer.write(path);
        return path;
    }

    private void matrix(String name, int rows, int cols, float scale) {
        float[] data = new float[rows * cols];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) random.nextGaussian() * scale;
        }
        tensor(name, data, rows == 1 ? new long[] {cols} : new long[] {cols, rows});
    }

    private void norm(String name, int length) {
        float[] data = new float[length];
        for (int i = 0; i < length; i++) {
            data[i] = 1 + (float) random.nextGaussian() * 0.1f;
        }
        tensor(name, data, length);
    }
}
