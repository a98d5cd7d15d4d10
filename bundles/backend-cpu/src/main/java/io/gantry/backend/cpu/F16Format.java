package io.gantry.backend.cpu;

import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/** IEEE half floats. */
final class F16Format extends TensorFormat {

    static final F16Format INSTANCE = new F16Format();

    private F16Format() {
        super(TensorType.F16, CHEAP_DECODING);
    }

    @Override
    float vectorKernel(MemorySegment weights, long offset, int count, float[] data, int dataOffset, boolean store) {
        FloatVector even = FloatVector.zero(Simd.F);
        FloatVector odd = even;
        for (int i = 0; i < count; i += Simd.LANES) {
            FloatVector w = Simd.halfToFloat(weights, offset + 2L * i);
            if (Simd.evenRun(i)) {
                even = Simd.consume(w, data, dataOffset + i, store, even);
            } else {
                odd = Simd.consume(w, data, dataOffset + i, store, odd);
            }
        }
        return Simd.sum(even) + Simd.sum(odd);
    }

    @Override
    String unsupportedContent(MemorySegment weights, long count) {
        long index = Simd.firstNonFiniteHalf(weights, 0, count);
        return index < 0 ? null : "element " + index + " is an infinity or a NaN";
    }

    @Override
    void dequantizeScalar(MemorySegment weights, long offset, float[] out, int outOffset, int count) {
        for (int i = 0; i < count; i++) {
            out[outOffset + i] = Simd.f16(weights, offset + 2L * i);
        }
    }
}
