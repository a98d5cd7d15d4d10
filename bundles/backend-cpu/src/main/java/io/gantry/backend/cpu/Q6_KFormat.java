package io.gantry.backend.cpu;

import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.IntVector;

/**
 * ggml's Q6_K: super-blocks of 256 weights in 16 sub-blocks of 16. Layout: 128 bytes of low nibbles
 * ({@code ql}), 64 bytes of 2-bit high parts ({@code qh}), 16 signed 8-bit sub-block scales, F16 {@code d};
 * weight = {@code d * scale * (q - 32)}. Each half of 128 weights uses 64 bytes of {@code ql} and 32 of
 * {@code qh}: weight {@code 16c + i} ({@code c < 8}) takes the low ({@code c < 4}) or high nibble of
 * {@code ql[16 (c % 4) + i]} and bits {@code 2 (c / 2)} and up of {@code qh[16 (c % 2) + i]}.
 */
final class Q6_KFormat extends TensorFormat {

    static final Q6_KFormat INSTANCE = new Q6_KFormat();

    private static final int BLOCK = 256;
    private static final int BLOCK_BYTES = 210;
    private static final int HIGH_BITS = 128;
    /** Where a block's 16 sub-block scales start. */
    static final int SCALES = 192;
    /** Where a block's {@code d} is. */
    static final int D = 208;

    private Q6_KFormat() {
        super(TensorType.Q6_K, COSTLY_DECODING);
    }

    @Override
    float vectorKernel(MemorySegment weights, long offset, int count, float[] data, int dataOffset, boolean store) {
        FloatVector even = FloatVector.zero(Simd.F);
        FloatVector odd = even;
        for (int block = 0; block < count / BLOCK; block++) {
            long at = offset + (long) BLOCK_BYTES * block;
            float d = Simd.f16(weights, at + D);
            for (int half = 0; half < 2; half++) {
                // The 8 scales of this half in one read: every memory segment access costs C2 inlining budget.
                long scales = weights.get(Simd.LONG_LE, at + SCALES + 8 * half);
                int element = dataOffset + BLOCK * block + 128 * half;
                // One decoding site (C2's inlining budget); runs of 16 alternate accumulators (see Simd).
                for (int i = 0; i < 128; i += Simd.LANES) {
                    FloatVector w = weights(weights, at, half, scales, d, i / 16, i % 16);
                    if (Simd.evenRun(i)) {
                        even = Simd.consume(w, data, element + i, store, even);
                    } else {
                        odd = Simd.consume(w, data, element + i, store, odd);
                    }
                }
            }
        }
        return Simd.sum(even) + Simd.sum(odd);
    }

    @Override
    void dequantizeScalar(MemorySegment weights, long offset, float[] out, int outOffset, int count) {
        for (int block = 0; block < count / BLOCK; block++) {
            long at = offset + (long) BLOCK_BYTES * block;
            float d = Simd.f16(weights, at + D);
            for (int half = 0; half < 2; half++) {
                long ql = at + 64 * half;
                long qh = at + HIGH_BITS + 32 * half;
                long sc = at + SCALES + 8 * half;
                int y = outOffset + BLOCK * block + 128 * half;
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int low0 = Simd.unsignedByte(weights, ql + l);
                    int low32 = Simd.unsignedByte(weights, ql + l + 32);
                    int highs = Simd.unsignedByte(weights, qh + l);
                    out[y + l] = weight((low0 & 0xF) | ((highs & 3) << 4), d, weights, sc + is);
                    out[y + l + 32] = weight((low32 & 0xF) | (((highs >>> 2) & 3) << 4), d, weights, sc + is + 2);
                    out[y + l + 64] = weight((low0 >>> 4) | (((highs >>> 4) & 3) << 4), d, weights, sc + is + 4);
                    out[y + l + 96] = weight((low32 >>> 4) | (((highs >>> 6) & 3) << 4), d, weights, sc + is + 6);
                }
            }
        }
    }

    /** @return the 6-bit quant {@code q} (0 to 63) of weight {@code k} of a block held in {@code block} */
    static int quant(byte[] block, int k) {
        int half = k / 128;
        int quarter = k % 128 / 32;
        int l = k % 32;
        int low = block[64 * half + 32 * (quarter % 2) + l] >>> (quarter < 2 ? 0 : 4) & 0xF;
        int high = block[HIGH_BITS + 32 * half + l] >>> (2 * quarter) & 3;
        return low | high << 4;
    }

    private static float weight(int q, float d, MemorySegment weights, long scaleOffset) {
        float scale = d * weights.get(ValueLayout.JAVA_BYTE, scaleOffset);
        return Math.fma(q, scale, -32 * scale);
    }

    /** @return weights {@code i..} of run {@code c} (of 16) of half {@code half} of the block at {@code at} */
    private static FloatVector weights(MemorySegment weights, long at, int half, long scales, float d, int c, int i) {
        float scale = d * (byte) (scales >>> (8 * c));
        IntVector upper = Simd.bytes(weights, at + HIGH_BITS + 32 * half + 16 * (c % 2) + i)
                .lanewise(VectorOperators.LSHR, 2 * (c / 2)).and(3).lanewise(VectorOperators.LSHL, 4);
        IntVector q = Simd.nibbles(Simd.bytes(weights, at + 64 * half + 16 * (c % 4) + i), c < 4 ? 0 : 4).or(upper);
        return Simd.decode(q, FloatVector.broadcast(Simd.F, scale), FloatVector.broadcast(Simd.F, -32 * scale));
    }
}
