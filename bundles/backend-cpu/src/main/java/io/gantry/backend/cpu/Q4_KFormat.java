package io.gantry.backend.cpu;

import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;

/**
 * ggml's Q4_K: super-blocks of 256 weights in 8 sub-blocks of 32. Layout: F16 {@code d}, F16 {@code dmin},
 * 12 bytes of 6-bit sub-block scales and mins, 128 bytes of nibbles. Each 32 bytes of nibbles hold two
 * sub-blocks, the low nibbles the first; weight = {@code d * scale * q - dmin * min}.
 */
final class Q4_KFormat extends TensorFormat {

    static final Q4_KFormat INSTANCE = new Q4_KFormat();

    private static final int BLOCK = 256;
    private static final int BLOCK_BYTES = 144;
    private static final int SCALES = 4;
    private static final int QUANTS = 16;
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INTS = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private Q4_KFormat() {
        super(TensorType.Q4_K, COSTLY_DECODING);
    }

    @Override
    float vectorKernel(MemorySegment weights, long offset, int count, float[] data, int dataOffset, boolean store) {
        FloatVector even = FloatVector.zero(Simd.F);
        FloatVector odd = even;
        FloatVector values = Simd.nibbleValues(0);
        for (int block = 0; block < count / BLOCK; block++) {
            long at = offset + (long) BLOCK_BYTES * block;
            float d = Simd.f16(weights, at);
            float dmin = Simd.f16(weights, at + 2);
            // The 12 scale bytes in two reads: every memory segment access costs C2 inlining budget.
            long scales = weights.get(Simd.LONG_LE, at + SCALES);
            int scalesHigh = weights.get(Simd.INT_LE, at + SCALES + 8);
            for (int sub = 0; sub < 8; sub++) {
                FloatVector scale = FloatVector.broadcast(Simd.F, d * scale(scales, scalesHigh, sub));
                FloatVector bias = FloatVector.broadcast(Simd.F, -(dmin * min(scales, scalesHigh, sub)));
                IntVector table = values.fma(scale, bias).reinterpretAsInts();
                long quants = at + QUANTS + 32 * (sub / 2);
                int shift = 4 * (sub % 2);
                int element = dataOffset + BLOCK * block + 32 * sub;
                // One decoding site (C2's inlining budget); runs of 16 alternate accumulators (see Simd).
                for (int i = 0; i < 32; i += Simd.LANES) {
                    IntVector q = Simd.nibbles(Simd.bytes(weights, quants + i), shift);
                    FloatVector w = Simd.decodeNibbles(q, table, scale, bias);
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
            float d = Simd.f16(weights, at);
            float dmin = Simd.f16(weights, at + 2);
            long scales = weights.get(Simd.LONG_LE, at + SCALES);
            int scalesHigh = weights.get(Simd.INT_LE, at + SCALES + 8);
            int element = outOffset + BLOCK * block;
            for (int sub = 0; sub < 8; sub++) {
                float scale = d * scale(scales, scalesHigh, sub);
                float bias = -(dmin * min(scales, scalesHigh, sub));
                long quants = at + QUANTS + 32 * (sub / 2);
                int shift = 4 * (sub % 2);
                for (int i = 0; i < 32; i++) {
                    int q = (Simd.unsignedByte(weights, quants + i) >>> shift) & 0x0F;
                    out[element + 32 * sub + i] = Math.fma(q, scale, bias);
                }
            }
        }
    }

    /** @return the 6-bit scale of sub-block {@code sub}, from a super-block's 12 scale bytes at {@code block[at]} */
    static int scale(byte[] block, int at, int sub) {
        return scale((long) LONGS.get(block, at), (int) INTS.get(block, at + 8), sub);
    }

    /** @return the 6-bit min of sub-block {@code sub}, from a super-block's 12 scale bytes at {@code block[at]} */
    static int min(byte[] block, int at, int sub) {
        return min((long) LONGS.get(block, at), (int) INTS.get(block, at + 8), sub);
    }

    /** ggml's get_scale_min_k4, scale half: the 6-bit scale of sub-block {@code sub}. */
    private static int scale(long scales, int scalesHigh, int sub) {
        if (sub < 4) {
            return scaleByte(scales, scalesHigh, sub) & 63;
        }
        return (scaleByte(scales, scalesHigh, sub + 4) & 0x0F) | ((scaleByte(scales, scalesHigh, sub - 4) >>> 6) << 4);
    }

    /** ggml's get_scale_min_k4, min half: the 6-bit min of sub-block {@code sub}. */
    private static int min(long scales, int scalesHigh, int sub) {
        if (sub < 4) {
            return scaleByte(scales, scalesHigh, sub + 4) & 63;
        }
        return (scaleByte(scales, scalesHigh, sub + 4) >>> 4) | ((scaleByte(scales, scalesHigh, sub) >>> 6) << 4);
    }

    /** @return byte {@code index} of the 12 scale bytes, unsigned */
    private static int scaleByte(long scales, int scalesHigh, int index) {
        return index < 8 ? (int) (scales >>> (8 * index)) & 0xFF : (scalesHigh >>> (8 * (index - 8))) & 0xFF;
    }
}
