package io.gantry.engine.model;

import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.RopeSpec;
import io.gantry.api.backend.TensorType;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.GgufFormatException;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Locale;

/**
 * The shape of a transformer, read from a GGUF file's metadata with llama.cpp's key names and defaults.
 * Immutable.
 *
 * @param architecture      which family, and so which variations of the block
 * @param embeddingLength   width of the residual stream
 * @param blockCount        transformer layers
 * @param feedForwardLength width of the SwiGLU hidden layer
 * @param headCount         query heads
 * @param headCountKv       key/value heads (fewer than {@code headCount} for grouped-query attention)
 * @param headDim           elements per head
 * @param rmsEps            the RMSNorm epsilon
 * @param contextLength     the longest sequence the model was made for
 * @param vocabularySize    tokens in the vocabulary, which is also the number of logits
 * @param rope              the rotary position embedding
 */
public record ModelConfig(Architecture architecture, int embeddingLength, int blockCount, int feedForwardLength,
        int headCount, int headCountKv, int headDim, float rmsEps, int contextLength, int vocabularySize,
        RopeSpec rope) {

    /** The model families Gantry runs; each is the llama block with small variations. */
    public enum Architecture {
        /** Llama 2/3, TinyLlama, SmolLM, Mistral: adjacent-pair RoPE, no biases. */
        LLAMA("llama", RopeSpec.Style.NORMAL, false),
        /** Qwen2 and Qwen2.5: NeoX RoPE and biases on Q, K and V. */
        QWEN2("qwen2", RopeSpec.Style.NEOX, true);

        private final String ggufName;
        private final RopeSpec.Style ropeStyle;
        private final boolean qkvBias;

        Architecture(String ggufName, RopeSpec.Style ropeStyle, boolean qkvBias) {
            this.ggufName = ggufName;
            this.ropeStyle = ropeStyle;
            this.qkvBias = qkvBias;
        }

        /** @return the {@code general.architecture} value, which also prefixes the family's metadata keys */
        public String ggufName() {
            return ggufName;
        }

        /** @return how this family pairs the elements it rotates */
        public RopeSpec.Style ropeStyle() {
            return ropeStyle;
        }

        /** @return whether the Q, K and V projections have biases that the file must contain */
        public boolean qkvBias() {
            return qkvBias;
        }
    }

    /** The tensor llama.cpp's converter writes for Llama 3.1 style RoPE scaling: one divisor per frequency. */
    static final String ROPE_FACTORS_TENSOR = "rope_freqs.weight";

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Checks that the shape is consistent. */
    public ModelConfig {
        if (embeddingLength < 1 || blockCount < 1 || feedForwardLength < 1 || headCount < 1 || headCountKv < 1
                || headDim < 1 || vocabularySize < 1 || contextLength < 1) {
            throw new IllegalArgumentException("Every model dimension must be positive: embedding " + embeddingLength
                    + ", blocks " + blockCount + ", feed-forward " + feedForwardLength + ", heads " + headCount
                    + ", KV heads " + headCountKv + ", head dim " + headDim + ", vocabulary " + vocabularySize
                    + ", context " + contextLength);
        }
        if (headCount % headCountKv != 0) {
            throw new IllegalArgumentException(headCount + " query heads cannot share " + headCountKv + " KV heads evenly");
        }
        if (rope.rotaryDims() > headDim) {
            throw new IllegalArgumentException("RoPE rotates " + rope.rotaryDims() + " dimensions of heads of only "
                    + headDim);
        }
    }

    /** @return elements of one row of queries: {@code headCount * headDim} */
    public int queryLength() {
        return headCount * headDim;
    }

    /** @return elements of one row of keys (or values): {@code headCountKv * headDim} */
    public int kvLength() {
        return headCountKv * headDim;
    }

    /**
     * Reads the configuration of a {@code llama} or {@code qwen2} model.
     *
     * @param file an open GGUF file
     * @return its configuration
     * @throws GgufFormatException naming the file and the key, if the architecture is not supported, a required key
     *                             is missing, or the values do not fit together
     */
    public static ModelConfig fromGguf(GgufFile file) {
        String name = file.getString("general.architecture");
        Architecture architecture = Arrays.stream(Architecture.values())
                .filter(a -> a.ggufName.equals(name))
                .findFirst()
                .orElseThrow(() -> new GgufFormatException(file.name(), "architecture '" + name
                        + "' is not supported (supported: llama, qwen2)"));
        String p = name + ".";
        int embedding = file.getInt(p + "embedding_length");
        int heads = file.getInt(p + "attention.head_count");
        if (heads < 1 || embedding % heads != 0) {
            throw new GgufFormatException(file.name(), p + "attention.head_count = " + heads
                    + " does not divide " + p + "embedding_length = " + embedding);
        }
        int headDim = file.getInt(p + "attention.key_length", embedding / heads);
        int valueLength = file.getInt(p + "attention.value_length", headDim);
        if (valueLength != headDim) {
            throw new GgufFormatException(file.name(), p + "attention.value_length = " + valueLength + " differs from "
                    + p + "attention.key_length = " + headDim + "; Gantry needs keys and values of one length");
        }
        int vocabulary = file.getArray("tokenizer.ggml.tokens").size();
        try {
            return new ModelConfig(architecture, embedding, file.getInt(p + "block_count"),
                    file.getInt(p + "feed_forward_length"), heads, file.getInt(p + "attention.head_count_kv", heads),
                    headDim, file.getFloat(p + "attention.layer_norm_rms_epsilon"), file.getInt(p + "context_length"),
                    vocabulary, rope(file, p, architecture, headDim));
        } catch (IllegalArgumentException e) {
            throw new GgufFormatException(file.name(), e.getMessage(), e);
        }
    }

    private static RopeSpec rope(GgufFile file, String p, Architecture architecture, int headDim) {
        int dims = file.getInt(p + "rope.dimension_count", headDim);
        float base = file.getFloat(p + "rope.freq_base", 10_000f);
        String scaling = file.getString(p + "rope.scaling.type", "none").toLowerCase(Locale.ROOT);
        float scale = switch (scaling) {
            case "none" -> file.has(p + "rope.scale_linear") ? 1 / file.getFloat(p + "rope.scale_linear") : 1f;
            case "linear" -> 1 / file.getFloat(p + "rope.scaling.factor");
            default -> throw new GgufFormatException(file.name(), p + "rope.scaling.type '" + scaling
                    + "' is not supported (supported: none, linear, and Llama 3 factors in " + ROPE_FACTORS_TENSOR + ")");
        };
        RopeSpec plain = new RopeSpec(architecture.ropeStyle(), dims, base, scale, null);
        return file.hasTensor(ROPE_FACTORS_TENSOR) ? llama3(file, p, plain) : plain;
    }

    /**
     * The converter stores Llama 3 scaling only as per-frequency divisors, while {@link RopeSpec} describes it by
     * its parameters. Meta's defaults (with any parameters the file does state) are taken, then checked to give
     * every stored divisor, so that a file with other factors fails here rather than rotating wrongly.
     */
    private static RopeSpec llama3(GgufFile file, String p, RopeSpec plain) {
        HostTensor tensor = file.tensor(ROPE_FACTORS_TENSOR);
        int pairs = plain.rotaryDims() / 2;
        if (tensor.type() != TensorType.F32 || tensor.rows() != 1 || tensor.cols() != pairs) {
            throw new GgufFormatException(file.name(), ROPE_FACTORS_TENSOR + " must be " + pairs + " F32 values, not "
                    + tensor.type() + " " + tensor.rows() + "x" + tensor.cols());
        }
        float[] factors = tensor.data().toArray(F32_LE);
        float largest = 1;
        for (float f : factors) {
            largest = Math.max(largest, f);
        }
        RopeSpec scaled = new RopeSpec(plain.style(), plain.rotaryDims(), plain.freqBase(), plain.freqScale(),
                new RopeSpec.Llama3Scaling(file.getFloat(p + "rope.scaling.factor", largest),
                        file.getFloat(p + "rope.scaling.low_freq_factor", 1f),
                        file.getFloat(p + "rope.scaling.high_freq_factor", 4f),
                        file.getInt(p + "rope.scaling.original_context_length", 8192)));
        for (int i = 0; i < pairs; i++) {
            double implied = plain.frequency(i) / scaled.frequency(i);
            if (Math.abs(implied - factors[i]) > 1e-3 * factors[i]) {
                throw new GgufFormatException(file.name(), ROPE_FACTORS_TENSOR + "[" + i + "] = " + factors[i]
                        + " does not follow Llama 3 scaling " + scaled.llama3() + " (which gives " + implied
                        + "); Gantry cannot apply arbitrary RoPE factors");
            }
        }
        return scaled;
    }
}
