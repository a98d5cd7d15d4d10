package io.gantry.backend.cpu;

import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/** 32-bit floats. */
final class F32Format extends TensorFormat {

    static final F32Format INSTANCE = new F32Format();

    private F32Format() {
        super(TensorType.F32);
    }

    @Override
    float vectorKernel(MemorySegment weights, long offset, int count, float[] data, int dataOffset,
            boolean store) {
        FloatVector acc = FloatVector.zero(Simd.F);
        for (int i = 0; i < count; i += Simd.LANES) {
            FloatVector w = FloatVector.fromMemorySegment(Simd.F, weights, offset + 4L * i, Simd.LE);
            acc = Simd.consume(w, data, dataOffset + i, store, acc);
        }
        return Simd.sum(acc);
    }

    @Override
    void dequantizeScalar(MemorySegment weights, long offset, float[] out, int outOffset, int count) {
        MemorySegment.copy(weights, Simd.FLOAT_LE, offset, out, outOffset, count);
    }
}
