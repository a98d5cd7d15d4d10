package io.gantry.backend.cpu;

import jdk.incubator.vector.FloatVector;

/**
 * Kernels on one row of floats. Each runs whole vectors when {@code vector} is set and finishes (or, when
 * it is not, does everything) with the scalar loop beside it.
 */
final class RowOps {

    private RowOps() {
    }

    /** {@code out = in / sqrt(mean(in²) + eps) * weight}; {@code out} may be {@code in}. */
    static void rmsNorm(float[] out, int outOffset, float[] in, int inOffset, float[] weight, float eps, int count,
            boolean vector) {
        float sumOfSquares = Simd.dot(in, inOffset, in, inOffset, count, vector);
        float scale = (float) (1 / Math.sqrt(sumOfSquares / count + eps));
        int i = 0;
        if (vector) {
            for (int bound = Simd.F.loopBound(count); i < bound; i += Simd.LANES) {
                FloatVector.fromArray(Simd.F, in, inOffset + i).mul(scale)
                        .mul(FloatVector.fromArray(Simd.F, weight, i)).intoArray(out, outOffset + i);
            }
        }
        for (; i < count; i++) {
            out[outOffset + i] = in[inOffset + i] * scale * weight[i];
        }
    }

    /** {@code acc += in}. */
    static void add(float[] acc, int accOffset, float[] in, int inOffset, int count, boolean vector) {
        int i = 0;
        if (vector) {
            for (int bound = Simd.F.loopBound(count); i < bound; i += Simd.LANES) {
                FloatVector.fromArray(Simd.F, acc, accOffset + i).add(FloatVector.fromArray(Simd.F, in, inOffset + i))
                        .intoArray(acc, accOffset + i);
            }
        }
        for (; i < count; i++) {
            acc[accOffset + i] += in[inOffset + i];
        }
    }

    /** {@code acc += a * in}. */
    static void addScaled(float[] acc, int accOffset, float a, float[] in, int inOffset, int count, boolean vector) {
        int i = 0;
        if (vector) {
            FloatVector scale = FloatVector.broadcast(Simd.F, a);
            for (int bound = Simd.F.loopBound(count); i < bound; i += Simd.LANES) {
                FloatVector.fromArray(Simd.F, in, inOffset + i)
                        .fma(scale, FloatVector.fromArray(Simd.F, acc, accOffset + i)).intoArray(acc, accOffset + i);
            }
        }
        for (; i < count; i++) {
            acc[accOffset + i] = Math.fma(in[inOffset + i], a, acc[accOffset + i]);
        }
    }

    /** {@code out = silu(gate) * up} with {@code silu(g) = g / (1 + e^-g)}; {@code out} may alias either input. */
    static void swiglu(float[] out, float[] gate, float[] up, int offset, int count, boolean vector) {
        int i = 0;
        if (vector) {
            for (int bound = Simd.F.loopBound(count); i < bound; i += Simd.LANES) {
                FloatVector g = FloatVector.fromArray(Simd.F, gate, offset + i);
                g.div(Simd.exp(g.neg()).add(1f)).mul(FloatVector.fromArray(Simd.F, up, offset + i))
                        .intoArray(out, offset + i);
            }
        }
        for (; i < count; i++) {
            float g = gate[offset + i];
            out[offset + i] = g / (1 + Simd.exp(-g)) * up[offset + i];
        }
    }
}
