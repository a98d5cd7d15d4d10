package io.gantry.backend.cpu;

import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/** bfloat16: the upper 16 bits of a float. */
final class BF16Format extends TensorFormat {

    static final BF16Format INSTANCE = new BF16Format();

    private BF16Format() {
        super(TensorType.BF16, MEMORY_BOUND);
    }

    @Override
    float vectorKernel(MemorySegment weights, long offset, int count, float[] data, int dataOffset, boolean store) {
        FloatVector even = FloatVector.zero(Simd.F);
        FloatVector odd = even;
        for (int i = 0; i < count; i += Simd.LANES) {
            FloatVector w = Simd.bfloat16ToFloat(weights, offset + 2L * i);
            if (Simd.evenRun(i)) {
                even = Simd.consume(w, data, dataOffset + i, store, even);
            } else {
                odd = Simd.consume(w, data, dataOffset + i, store, odd);
            }
        }
        return Simd.sum(even) + Simd.sum(odd);
    }

    @Override
    void dequantizeScalar(MemorySegment weights, long offset, float[] out, int outOffset, int count) {
        for (int i = 0; i < count; i++) {
            out[outOffset + i] = Float.intBitsToFloat(weights.get(Simd.SHORT_LE, offset + 2L * i) << 16);
        }
    }
}
