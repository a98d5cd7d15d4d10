package io.gantry.engine.synth;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Optional;
import java.util.SequencedMap;

/**
 * The shape of a llama model apart from its vocabulary, which comes from the tokenizer it is given.
 *
 * @param embeddingLength   width of the residual stream
 * @param blockCount        transformer layers
 * @param headCount         query heads; divides {@code embeddingLength} into heads of an even length
 * @param headCountKv       key/value heads; divides {@code headCount}
 * @param feedForwardLength width of the SwiGLU hidden layer
 * @param contextLength     the context length the file declares
 */
public record LlamaShape(int embeddingLength, int blockCount, int headCount, int headCountKv, int feedForwardLength,
        int contextLength) {

    /** The benchmark shapes, by name, as the performance anchors define them. */
    public static final SequencedMap<String, LlamaShape> PRESETS = presets();

    /** Checks that the dimensions fit together. */
    public LlamaShape {
        if (embeddingLength < 1 || blockCount < 1 || headCount < 1 || headCountKv < 1 || feedForwardLength < 1
                || contextLength < 1) {
            throw new IllegalArgumentException("Every dimension must be positive: dim " + embeddingLength
                    + ", layers " + blockCount + ", heads " + headCount + ", KV heads " + headCountKv + ", ffn "
                    + feedForwardLength + ", context " + contextLength);
        }
        if (embeddingLength % headCount != 0 || embeddingLength / headCount % 2 != 0) {
            throw new IllegalArgumentException(headCount + " heads do not divide dim " + embeddingLength
                    + " into heads of an even length (RoPE rotates pairs)");
        }
        if (headCount % headCountKv != 0) {
            throw new IllegalArgumentException(headCount + " query heads cannot share " + headCountKv
                    + " KV heads evenly");
        }
    }

    /** @return elements per attention head */
    public int headDim() {
        return embeddingLength / headCount;
    }

    /** @return rows of the K and V projections: {@code headCountKv * headDim} */
    public int kvLength() {
        return headCountKv * headDim();
    }

    /**
     * @param vocabularySize tokens in the vocabulary
     * @return the number of weights, with {@code token_embd} and {@code output} counted separately
     */
    public long parameters(int vocabularySize) {
        long dim = embeddingLength;
        long perBlock = 2 * dim // the two norms
                + 2 * dim * dim // Q and output projections
                + 2 * kvLength() * dim // K and V
                + 3 * dim * feedForwardLength; // gate, up, down
        return 2 * vocabularySize * dim + dim + blockCount * perBlock;
    }

    /** @return the preset called {@code name}, if there is one */
    public static Optional<LlamaShape> preset(String name) {
        return Optional.ofNullable(PRESETS.get(name));
    }

    private static SequencedMap<String, LlamaShape> presets() {
        SequencedMap<String, LlamaShape> presets = new LinkedHashMap<>();
        presets.put("bench-110m", new LlamaShape(768, 12, 12, 12, 2048, 4096));
        presets.put("bench-1b", new LlamaShape(2048, 16, 32, 8, 8192, 4096));
        return Collections.unmodifiableSequencedMap(presets);
    }

    @Override
    public String toString() {
        return "dim " + embeddingLength + ", " + blockCount + " layers, " + headCount + " heads, " + headCountKv
                + " KV heads, ffn " + feedForwardLength + ", context " + contextLength;
    }
}
