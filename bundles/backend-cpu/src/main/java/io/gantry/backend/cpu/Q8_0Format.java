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
        super(TensorType.Q8_0);
    }

    @Override
    float vectorKernel(MemorySegment weights, long offset, int count, float[] data, int dataOffset, boolean store) {
        FloatVector acc = FloatVector.zero(Simd.F);
        FloatVector zero = FloatVector.zero(Simd.F);
        for (int block = 0; block < count / BLOCK; block++) {
            long at = offset + (long) BLOCK_BYTES * block;
            FloatVector scale = FloatVector.broadcast(Simd.F, Simd.f16(weights, at));
            for (int i = 0; i < BLOCK; i += Simd.LANES) {
                acc = Simd.consume(Simd.bytes(weights, at + 2 + i), scale, zero, data, dataOffset + BLOCK * block + i,
                        store, acc);
            }
        }
        return Simd.sum(acc);
    }

    @Override
    void dequantizeScalar(MemorySegment weights, long offset, float[] out, int outOffset, int count) {
        for (int block = 0; block < count / BLOCK; block++) {
            long at = offset + (long) BLOCK_BYTES * block;
            float scale = Simd.f16(weights, at);
            for (int i = 0; i < BLOCK; i++) {
                out[outOffset + BLOCK * block + i] = Math.fma(weights.get(ValueLayout.JAVA_BYTE, at + 2 + i), scale, 0f);
            }
        }
    }
}
