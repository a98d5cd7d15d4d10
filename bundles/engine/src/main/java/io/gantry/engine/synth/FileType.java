package io.gantry.engine.synth;

import io.gantry.api.backend.TensorType;

import java.util.Arrays;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a model file's matrices are written in, named and numbered ({@code general.file_type}) as llama.cpp's file
 * types: one format for every matrix, or {@link #Q4_K_M}, llama.cpp's most used mix.
 */
public enum FileType {
    /** Every matrix F32. */
    F32(0, TensorType.F32),
    /** Every matrix F16. */
    F16(1, TensorType.F16),
    /** Every matrix Q4_0. */
    Q4_0(2, TensorType.Q4_0),
    /** Every matrix Q8_0. */
    Q8_0(7, TensorType.Q8_0),
    /**
     * Q4_K, with Q6_K for the output matrix (the token embedding where the output is tied to it) and for
     * {@code attn_v} and {@code ffn_down} in half the layers: the first and last eighth and every third between
     * (llama.cpp's {@code use_more_bits}).
     */
    Q4_K_M(15, TensorType.Q4_K),
    /** Every matrix Q6_K. */
    Q6_K(18, TensorType.Q6_K);

    /** A transformer block's tensor, its block number in group 1. */
    private static final Pattern LAYER_TENSOR = Pattern.compile("blk\\.(\\d{1,9})\\.");

    private final int number;
    private final TensorType base;

    FileType(int number, TensorType base) {
        this.number = number;
        this.base = base;
    }

    /** @return the value of {@code general.file_type} */
    public int number() {
        return number;
    }

    /** @return the file type numbered {@code number} in {@code general.file_type}, if it is one of these */
    public static Optional<FileType> ofNumber(long number) {
        return Arrays.stream(values()).filter(type -> type.number == number).findFirst();
    }

    /** @return the name llama.cpp's tools show: {@code Q4_K - Medium} for {@link #Q4_K_M}, else the format's */
    public String label() {
        return this == Q4_K_M ? "Q4_K - Medium" : name();
    }

    /** @return whether the file holds block-quantized matrices, and so carries {@code general.quantization_version} */
    public boolean quantized() {
        return base.blockElements() > 1;
    }

    /** @return the formats the matrices may be written in: the base format, and Q6_K for {@link #Q4_K_M} */
    public TensorType[] matrixTypes() {
        return this == Q4_K_M ? new TensorType[] {base, TensorType.Q6_K} : new TensorType[] {base};
    }

    /**
     * @param name      a matrix's GGUF name
     * @param layers    the model's transformer blocks
     * @param hasOutput whether the model has an {@code output.weight} of its own (else the token embedding serves)
     * @return the format to write the matrix in
     */
    public TensorType matrixType(String name, int layers, boolean hasOutput) {
        if (this != Q4_K_M) {
            return base;
        }
        if (name.equals("output.weight") || !hasOutput && name.equals("token_embd.weight")) {
            return TensorType.Q6_K;
        }
        boolean sensitive = name.endsWith(".attn_v.weight") || name.endsWith(".ffn_down.weight");
        int layer = layerOf(name);
        return sensitive && layer >= 0 && usesMoreBits(layer, layers) ? TensorType.Q6_K : base;
    }

    /** @return the transformer block a tensor named {@code blk.N.*} belongs to, or -1 for any other name */
    static int layerOf(String name) {
        Matcher layerTensor = LAYER_TENSOR.matcher(name);
        return layerTensor.lookingAt() ? Integer.parseInt(layerTensor.group(1)) : -1;
    }

    /** @return whether layer {@code layer} of {@code layers} is one of the more sensitive half */
    private static boolean usesMoreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }
}
