package io.gantry.backend.cpu;

import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;

/**
 * How the CPU decodes and multiplies one {@link TensorType}: a vector kernel and, beside it, a scalar
 * kernel that is the reference and the fallback. Both decode every weight to the same float (the
 * tests hold them to bit equality), so they differ only in summation order.
 *
 * <p>Weights stay where the model file put them ({@link MemorySegment}, usually mapped); each kernel works
 * on a run of {@code count} elements starting at byte {@code offset}, a whole number of blocks.
 */
abstract sealed class TensorFormat
        permits F32Format, F16Format, BF16Format, Q8_0Format, Q4_0Format, Q4_KFormat, Q6_KFormat {

    /** {@link #tiledFromRows()} of formats whose fused kernel hardly decodes and waits on memory. */
    static final int MEMORY_BOUND = 8;
    /** {@link #tiledFromRows()} of formats whose fused kernel decodes cheaply next to its FMAs. */
    static final int CHEAP_DECODING = 4;
    /** {@link #tiledFromRows()} of formats whose decoding costs more than the FMAs it feeds. */
    static final int COSTLY_DECODING = 3;

    private final TensorType type;
    private final int tiledFromRows;

    TensorFormat(TensorType type, int tiledFromRows) {
        this.type = type;
        this.tiledFromRows = tiledFromRows;
    }

    /** @return the format for {@code type} */
    static TensorFormat of(TensorType type) {
        return switch (type) {
            case F32 -> F32Format.INSTANCE;
            case F16 -> F16Format.INSTANCE;
            case BF16 -> BF16Format.INSTANCE;
            case Q8_0 -> Q8_0Format.INSTANCE;
            case Q4_0 -> Q4_0Format.INSTANCE;
            case Q4_K -> Q4_KFormat.INSTANCE;
            case Q6_K -> Q6_KFormat.INSTANCE;
        };
    }

    final TensorType type() {
        return type;
    }

    /**
     * @return the batch size from which a matmul decodes weight rows once into a float tile for all batch rows,
     *         rather than running {@link #dot} for each (measured on Zen 4: from 8 rows for F32 and BF16, whose
     *         weights need next to no decoding, from 4 for F16, Q8_0 and Q4_0, and from 3 for Q4_K and Q6_K, whose
     *         fused kernels spend more on decoding than on FMAs)
     */
    final int tiledFromRows() {
        return tiledFromRows;
    }

    /**
     * @param count elements per row
     * @return whether {@link #dot} can multiply rows of {@code count} elements (the vector kernel takes
     *         whole vectors only)
     */
    boolean canDot(int count) {
        return Simd.AVAILABLE && count % Simd.LANES == 0;
    }

    /**
     * Checks that the vector kernels decode every element of a weight as the scalar kernel does.
     *
     * @param count elements of the weight
     * @return {@code null}, or why the weight cannot be used
     */
    String unsupportedContent(MemorySegment weights, long count) {
        return null;
    }

    /**
     * The fused vector kernel: decodes weights and multiplies them with {@code x} without storing them.
     * Only where {@link #canDot}.
     *
     * @return {@code Σ w[i] * x[xOffset + i]} for {@code i < count}
     */
    final float dot(MemorySegment weights, long offset, float[] x, int xOffset, int count) {
        return vectorKernel(weights, offset, count, x, xOffset, false);
    }

    /**
     * Decodes {@code count} weights into {@code out[outOffset...]}.
     *
     * @param vector whether to use the vector kernel (else the scalar reference)
     */
    final void dequantize(MemorySegment weights, long offset, float[] out, int outOffset, int count, boolean vector) {
        int vectorCount = vector ? vectorPrefix(count) : 0;
        if (vectorCount > 0) {
            vectorKernel(weights, offset, vectorCount, out, outOffset, true);
        }
        if (vectorCount < count) {
            dequantizeScalar(weights, offset + type.bytesFor(vectorCount), out, outOffset + vectorCount,
                    count - vectorCount);
        }
    }

    /** @return how many leading elements of a run of {@code count} the vector kernel handles */
    private int vectorPrefix(int count) {
        // Block formats always fill whole vectors (blocks are multiples of 16 elements); float formats leave a tail.
        return type.blockElements() == 1 ? Simd.F.loopBound(count) : count;
    }

    /**
     * The vector kernel: decodes {@code count} weights and hands them, {@link Simd#LANES} at a time, to
     * {@link Simd#consume}: stored into {@code data} when {@code store}, else multiplied with {@code data} and
     * accumulated in {@link Simd}'s summation order.
     *
     * @param count a multiple of the block size and of {@link Simd#LANES}
     * @return the sum of the products, or zero when storing
     */
    abstract float vectorKernel(MemorySegment weights, long offset, int count, float[] data, int dataOffset,
            boolean store);

    /** The scalar reference kernel: decodes {@code count} weights into {@code out[outOffset...]}. */
    abstract void dequantizeScalar(MemorySegment weights, long offset, float[] out, int outOffset, int count);
}
