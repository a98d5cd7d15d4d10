package io.gantry.backend.cpu;

import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;

/** ggml's Q8_0: blocks of 32 weights, an F16 scale {@code d} and 32 signed bytes {@code q}; weight = {@code q * d}. */
final class Q8_0Format extends TensorFormat {

    static final Q8_0Format INSTANCE = new Q8_0Format();

    private static final int BLOCK = 32;
    private static final int BLOCK_BYTES = 34;

    private Q8_0Format() {
        super(TensorType.Q8_0, CHEAP_DECODING);
    }

    @Override
    float vectorKernel(MemorySegment weights, long offset, int count, float[] data, int dataOffset, boolean store) {
        FloatVector even = FloatVector.zero(Simd.F);
        FloatVector odd = even;
        FloatVector zero = even;
        for (int block = 0; block < count / BLOCK; block++) {
            long at = offset + (long) BLOCK_BYTES * block;
            FloatVector scale = FloatVector.broadcast(Simd.F, Simd.f16(weights, at));
            int element = dataOffset + BLOCK * block;
            // Weights 0..15 go to the even accumulator, 16..31 to the odd one (see Simd).
            for (int i = 0; i < 16; i += Simd.LANES) {
                even = Simd.consume(Simd.decode(Simd.bytes(weights, at + 2 + i), scale, zero), data, element + i,
                        store, even);
                odd = Simd.consume(Simd.decode(Simd.bytes(weights, at + 18 + i), scale, zero), data, element + 16 + i,
                        store, odd);
            }
        }
        return Simd.sum(even) + Simd.sum(odd);
    }

    @Override
    void dequantizeScalar(MemorySegment weights, long offset, float[] out, int outOffset, int count) {
        for (int block = 0; block < count / BLOCK; block++) {
            long at = offset + (long) BLOCK_BYTES * block;
            float scale = Simd.f16(weights, at);
            for (int i = 0; i < BLOCK; i++) {
                byte q = weights.get(ValueLayout.JAVA_BYTE, at + 2 + i);
                out[outOffset + BLOCK * block + i] = Math.fma(q, scale, 0f);
            }
        }
    }
}
