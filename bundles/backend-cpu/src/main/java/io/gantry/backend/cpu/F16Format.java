package io.gantry.backend.cpu;

import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/** IEEE half floats. */
final class F16Format extends TensorFormat {

    static final F16Format INSTANCE = new F16Format();

    private F16Format() {
        super(TensorType.F16);
    }

    @Override
    float vectorKernel(MemorySegment weights, long offset, int count, float[] data, int dataOffset,
            boolean store) {
        FloatVector acc = FloatVector.zero(Simd.F);
        for (int i = 0; i < count; i += Simd.LANES) {
            acc = Simd.consume(Simd.halfToFloat(weights, offset + 2L * i), data, dataOffset + i, store, acc);
        }
        return Simd.sum(acc);
    }

    @Override
    void dequantizeScalar(MemorySegment weights, long offset, float[] out, int outOffset, int count) {
        for (int i = 0; i < count; i++) {
            out[outOffset + i] = Simd.f16(weights, offset + 2L * i);
        }
    }
}
