package io.gantry.backend.cpu;

import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/** 32-bit floats. */
final class F32Format extends TensorFormat {

    static final F32Format INSTANCE = new F32Format();

    private F32Format() {
        super(TensorType.F32, MEMORY_BOUND);
    }

    @Override
    float vectorKernel(MemorySegment weights, long offset, int count, float[] data, int dataOffset, boolean store) {
        FloatVector even = FloatVector.zero(Simd.F);
        FloatVector odd = even;
        for (int i = 0; i < count; i += Simd.LANES) {
            FloatVector w = load(weights, offset + 4L * i);
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
        MemorySegment.copy(weights, Simd.FLOAT_LE, offset, out, outOffset, count);
    }

    private static FloatVector load(MemorySegment weights, long offset) {
        return FloatVector.fromMemorySegment(Simd.F, weights, offset, Simd.LE);
    }
}
