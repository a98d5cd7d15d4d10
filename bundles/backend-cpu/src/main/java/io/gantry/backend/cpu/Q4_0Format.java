package io.gantry.backend.cpu;

import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;

/**
 * ggml's Q4_0: blocks of 32 weights, an F16 scale {@code d} and 16 bytes whose low nibbles are weights 0..15
 * and high nibbles weights 16..31; weight = {@code (q - 8) * d}.
 */
final class Q4_0Format extends TensorFormat {

    static final Q4_0Format INSTANCE = new Q4_0Format();

    private static final int BLOCK = 32;
    private static final int BLOCK_BYTES = 18;

    private Q4_0Format() {
        super(TensorType.Q4_0, CHEAP_DECODING);
    }

    /** The packed kernels ({@link PackedQ4_0}) decode the scales with integer operations, exact for finite ones. */
    @Override
    String unsupportedContent(MemorySegment weights, long count) {
        for (long block = 0; block < count / BLOCK; block++) {
            if (!Float.isFinite(Simd.f16(weights, block * BLOCK_BYTES))) {
                return "the scale of block " + block + " is an infinity or a NaN";
            }
        }
        return null;
    }

    @Override
    float vectorKernel(MemorySegment weights, long offset, int count, float[] data, int dataOffset, boolean store) {
        FloatVector even = FloatVector.zero(Simd.F);
        FloatVector odd = even;
        FloatVector centered = Simd.nibbleValues(-8);
        for (int block = 0; block < count / BLOCK; block++) {
            long at = offset + (long) BLOCK_BYTES * block;
            float d = Simd.f16(weights, at);
            // The table holds (q - 8) * d; decode() computes q * d + (-8 d) in one fma, which needs no subtraction
            // per value: both round the exact product once, so they agree bit for bit.
            IntVector table = centered.mul(d).reinterpretAsInts();
            FloatVector scale = FloatVector.broadcast(Simd.F, d);
            FloatVector bias = FloatVector.broadcast(Simd.F, -8 * d);
            int element = dataOffset + BLOCK * block;
            // Weights 0..15 are the low nibbles of the 16 bytes and go to the even accumulator, 16..31 the high ones.
            for (int i = 0; i < 16; i += Simd.LANES) {
                IntVector packed = Simd.bytes(weights, at + 2 + i);
                even = Simd.consume(Simd.decodeNibbles(Simd.nibbles(packed, 0), table, scale, bias), data, element + i,
                        store, even);
                odd = Simd.consume(Simd.decodeNibbles(Simd.nibbles(packed, 4), table, scale, bias), data,
                        element + 16 + i, store, odd);
            }
        }
        return Simd.sum(even) + Simd.sum(odd);
    }

    @Override
    void dequantizeScalar(MemorySegment weights, long offset, float[] out, int outOffset, int count) {
        for (int block = 0; block < count / BLOCK; block++) {
            long at = offset + (long) BLOCK_BYTES * block;
            float d = Simd.f16(weights, at);
            int element = outOffset + BLOCK * block;
            for (int i = 0; i < 16; i++) {
                int packed = Simd.unsignedByte(weights, at + 2 + i);
                out[element + i] = Math.fma(packed & 0x0F, d, -8 * d);
                out[element + 16 + i] = Math.fma(packed >>> 4, d, -8 * d);
            }
        }
    }
}
