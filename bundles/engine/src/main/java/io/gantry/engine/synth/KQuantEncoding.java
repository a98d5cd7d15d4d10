package io.gantry.engine.synth;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * ggml's reference quantizers of the K formats Gantry multiplies, Q4_K and Q6_K: super-blocks of 256 values whose
 * sub-blocks get a scale (and, in Q4_K, a minimum) found by a small search for the least weighted squared error, the
 * sub-block scales then quantized against one F16 super-block scale, and every value finally rounded to the nearest
 * level its stored scales can give. Float arithmetic in the reference's order, so the bytes are the reference's
 * where C does not fuse multiply-adds (checked on 20000 super-blocks of Gaussian, shifted, constant and zero values);
 * compiled with fused multiply-adds (GCC's default with {@code -march=native}) the reference rounds some sums
 * differently and chose other scales in 5% of those Q4_K super-blocks and 0.4% of the Q6_K ones.
 */
final class KQuantEncoding {

    /** Values of a super-block. */
    static final int SUPER_BLOCK = 256;

    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Below this, a Q6_K super-block is all zeros. */
    private static final float GROUP_MAX_EPS = 1e-15f;

    /** Q4_K: {@code d}, {@code dmin}, 12 bytes of 6-bit scales and minimums, 128 bytes of nibbles. */
    private static final int Q4_K_SUB_BLOCK = 32;
    private static final int Q4_K_SCALES = 4;
    private static final int Q4_K_QUANTS = 16;
    /** Q6_K: 128 bytes of low nibbles, 64 of high bit pairs, 16 signed scales, {@code d}. */
    private static final int Q6_K_SUB_BLOCK = 16;
    private static final int Q6_K_HIGH_BITS = 128;
    private static final int Q6_K_SCALES = 192;
    private static final int Q6_K_D = 208;

    private KQuantEncoding() {
    }

    /**
     * Q4_K: each sub-block of 32 gets levels {@code scale * q - min}, q in 0..15, chosen by
     * {@link #scaleAndMinimum} with weights {@code rms + |x|}; scales and minimums are stored as 6-bit multiples of
     * {@code d = max scale / 63} and {@code dmin = max min / 63}.
     */
    static void q4_KBlock(float[] values, int from, MemorySegment out, long offset) {
        float[] scales = new float[SUPER_BLOCK / Q4_K_SUB_BLOCK];
        float[] minimums = new float[scales.length];
        float[] weights = new float[Q4_K_SUB_BLOCK];
        int[] levels = new int[SUPER_BLOCK];
        float maxScale = 0;
        float maxMinimum = 0;
        for (int j = 0; j < scales.length; j++) {
            int start = from + Q4_K_SUB_BLOCK * j;
            float sumSquares = 0;
            for (int l = 0; l < Q4_K_SUB_BLOCK; l++) {
                sumSquares += values[start + l] * values[start + l];
            }
            float rms = (float) Math.sqrt(sumSquares / Q4_K_SUB_BLOCK);
            for (int l = 0; l < Q4_K_SUB_BLOCK; l++) {
                weights[l] = rms + Math.abs(values[start + l]);
            }
            float[] scaleAndMinimum = scaleAndMinimum(values, start, weights, levels, Q4_K_SUB_BLOCK * j);
            scales[j] = scaleAndMinimum[0];
            minimums[j] = scaleAndMinimum[1];
            maxScale = Math.max(maxScale, scales[j]);
            maxMinimum = Math.max(maxMinimum, minimums[j]);
        }
        float inverseScale = maxScale > 0 ? 63f / maxScale : 0;
        float inverseMinimum = maxMinimum > 0 ? 63f / maxMinimum : 0;
        byte[] packed = new byte[12];
        for (int j = 0; j < scales.length; j++) {
            int scale = Math.min(63, nearestInt(inverseScale * scales[j]));
            int minimum = Math.min(63, nearestInt(inverseMinimum * minimums[j]));
            // Sub-blocks 0..3 take the low 6 bits of bytes j and j + 4; 4..7 a nibble each of byte j + 4 and their
            // top 2 bits in the spare top bits of bytes j - 4 and j.
            if (j < 4) {
                packed[j] = (byte) scale;
                packed[j + 4] = (byte) minimum;
            } else {
                packed[j + 4] = (byte) ((scale & 0xF) | (minimum & 0xF) << 4);
                packed[j - 4] |= (byte) ((scale >> 4) << 6);
                packed[j] |= (byte) ((minimum >> 4) << 6);
            }
        }
        short d = Float.floatToFloat16(maxScale / 63f);
        short dmin = Float.floatToFloat16(maxMinimum / 63f);
        out.set(I16_LE, offset, d);
        out.set(I16_LE, offset + 2, dmin);
        MemorySegment.copy(packed, 0, out, ValueLayout.JAVA_BYTE, offset + Q4_K_SCALES, packed.length);

        // The levels are read back from the packed bytes as the reference does (get_scale_min_k4), so that a value
        // outside 0..63 is truncated the same way.
        for (int j = 0; j < scales.length; j++) {
            int scale = j < 4 ? packed[j] & 63 : (packed[j + 4] & 0xF) | ((packed[j - 4] & 0xFF) >> 6) << 4;
            int minimum = j < 4 ? packed[j + 4] & 63 : (packed[j + 4] & 0xFF) >> 4 | ((packed[j] & 0xFF) >> 6) << 4;
            float step = Float.float16ToFloat(d) * scale;
            if (step == 0) {
                continue;
            }
            float offsetValue = Float.float16ToFloat(dmin) * minimum;
            for (int l = 0; l < Q4_K_SUB_BLOCK; l++) {
                int at = Q4_K_SUB_BLOCK * j + l;
                levels[at] = clamp(nearestInt((values[from + at] + offsetValue) / step), 0, 15);
            }
        }
        // Each 64 values share 32 bytes: the first 32 in the low nibbles, the next 32 in the high ones.
        for (int j = 0; j < SUPER_BLOCK; j += 64) {
            for (int l = 0; l < 32; l++) {
                out.set(ValueLayout.JAVA_BYTE, offset + Q4_K_QUANTS + j / 2 + l,
                        (byte) (levels[j + l] | levels[j + l + 32] << 4));
            }
        }
    }

    /**
     * Q6_K: each sub-block of 16 gets levels {@code scale * q}, q in -32..31, by {@link #symmetricScale}; the scales
     * are stored as signed 8-bit multiples of {@code d = -max scale / 128}, the one of largest magnitude giving -128.
     */
    static void q6_KBlock(float[] values, int from, MemorySegment out, long offset) {
        float[] scales = new float[SUPER_BLOCK / Q6_K_SUB_BLOCK];
        int[] levels = new int[SUPER_BLOCK];
        float maxScale = 0;
        float maxAbsScale = 0;
        for (int j = 0; j < scales.length; j++) {
            scales[j] = symmetricScale(values, from + Q6_K_SUB_BLOCK * j, levels, Q6_K_SUB_BLOCK * j);
            if (Math.abs(scales[j]) > maxAbsScale) {
                maxAbsScale = Math.abs(scales[j]);
                maxScale = scales[j];
            }
        }
        if (maxAbsScale < GROUP_MAX_EPS) {
            out.asSlice(offset, Q6_K_D + 2).fill((byte) 0);
            return;
        }
        float inverse = -128f / maxScale;
        short d = Float.floatToFloat16(1 / inverse);
        out.set(I16_LE, offset + Q6_K_D, d);
        for (int j = 0; j < scales.length; j++) {
            int scale = Math.min(127, nearestInt(inverse * scales[j]));
            out.set(ValueLayout.JAVA_BYTE, offset + Q6_K_SCALES + j, (byte) scale);
            float step = Float.float16ToFloat(d) * scale;
            if (step == 0) {
                continue;
            }
            for (int l = 0; l < Q6_K_SUB_BLOCK; l++) {
                int at = Q6_K_SUB_BLOCK * j + l;
                levels[at] = clamp(nearestInt(values[from + at] / step), -32, 31) + 32;
            }
        }
        // Each 128 values: low nibbles of values l and l + 64 in byte l, of l + 32 and l + 96 in byte l + 32 (64
        // bytes); their top 2 bits in byte l of 32, two bits each in the order l, l + 32, l + 64, l + 96.
        for (int j = 0; j < SUPER_BLOCK; j += 128) {
            for (int l = 0; l < 32; l++) {
                int a = levels[j + l];
                int b = levels[j + l + 32];
                int c = levels[j + l + 64];
                int e = levels[j + l + 96];
                long low = offset + j / 2 + l;
                out.set(ValueLayout.JAVA_BYTE, low, (byte) ((a & 0xF) | (c & 0xF) << 4));
                out.set(ValueLayout.JAVA_BYTE, low + 32, (byte) ((b & 0xF) | (e & 0xF) << 4));
                out.set(ValueLayout.JAVA_BYTE, offset + Q6_K_HIGH_BITS + j / 4 + l,
                        (byte) (a >> 4 | (b >> 4) << 2 | (c >> 4) << 4 | (e >> 4) << 6));
            }
        }
    }

    /**
     * ggml's {@code make_qkx2_quants} for 32 values at {@code values[from]}, levels 0..15: starting from the range
     * {@code min(0, smallest)..largest}, tries 21 inverse scales {@code (15 + (-1 + 0.1 i)) / range} and for each the
     * least-squares scale and minimum of the levels it rounds to, keeping the one of least weighted squared error.
     * The chosen levels go to {@code levels[at ..]}.
     *
     * @return the scale and the minimum (positive: it is subtracted)
     */
    private static float[] scaleAndMinimum(float[] values, int from, float[] weights, int[] levels, int at) {
        int n = Q4_K_SUB_BLOCK;
        int top = 15;
        float min = values[from];
        float max = values[from];
        float sumWeights = weights[0];
        float sumX = sumWeights * values[from];
        for (int i = 1; i < n; i++) {
            float x = values[from + i];
            min = Math.min(min, x);
            max = Math.max(max, x);
            sumWeights += weights[i];
            sumX += weights[i] * x;
        }
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            Arrays.fill(levels, at, at + n, 0);
            return new float[] {0, -min};
        }
        float inverse = top / (max - min);
        float scale = 1 / inverse;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp(nearestInt(inverse * (values[from + i] - min)), 0, top);
            levels[at + i] = l;
            float diff = scale * l + min - values[from + i];
            bestError += weights[i] * (diff * diff);
        }
        int[] trial = new int[n];
        for (int step = 0; step <= 20; step++) {
            inverse = (-1f + 0.1f * step + top) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXL = 0;
            for (int i = 0; i < n; i++) {
                int l = clamp(nearestInt(inverse * (values[from + i] - min)), 0, top);
                trial[i] = l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * values[from + i];
            }
            float determinant = sumWeights * sumL2 - sumL * sumL;
            if (determinant > 0) {
                float trialScale = (sumWeights * sumXL - sumX * sumL) / determinant;
                float trialMin = (sumL2 * sumX - sumL * sumXL) / determinant;
                if (trialMin > 0) {
                    trialMin = 0;
                    trialScale = sumXL / sumL2;
                }
                float error = 0;
                for (int i = 0; i < n; i++) {
                    float diff = trialScale * trial[i] + trialMin - values[from + i];
                    error += weights[i] * (diff * diff);
                }
                if (error < bestError) {
                    System.arraycopy(trial, 0, levels, at, n);
                    bestError = error;
                    scale = trialScale;
                    min = trialMin;
                }
            }
        }
        return new float[] {scale, -min};
    }

    /**
     * ggml's {@code make_qx_quants} with weights {@code x^2} for 16 values at {@code values[from]}, levels
     * -32..31: from the inverse scale that maps the value of largest magnitude to -32, tries 18 more
     * ({@code -(32 + 0.1 i) / max}, i = -9..9) and keeps the least-squares scale of the levels with the least
     * weighted error. The levels (plus 32) go to {@code levels[at ..]}.
     *
     * @return the scale, negative where the value of largest magnitude is positive
     */
    private static float symmetricScale(float[] values, int from, int[] levels, int at) {
        int n = Q6_K_SUB_BLOCK;
        int half = 32;
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(values[from + i]);
            if (ax > amax) {
                amax = ax;
                max = values[from + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            Arrays.fill(levels, at, at + n, 0);
            return 0;
        }
        float inverse = -half / max;
        float sumLX = 0;
        float sumL2 = 0;
        for (int i = 0; i < n; i++) {
            float x = values[from + i];
            int l = clamp(nearestInt(inverse * x), -half, half - 1);
            levels[at + i] = l + half;
            float w = x * x;
            sumLX += w * x * l;
            sumL2 += w * l * l;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0;
        float best = scale * sumLX;
        for (int step = -9; step <= 9; step++) {
            if (step == 0) {
                continue;
            }
            inverse = -(half + 0.1f * step) / max;
            sumLX = 0;
            sumL2 = 0;
            for (int i = 0; i < n; i++) {
                float x = values[from + i];
                int l = clamp(nearestInt(inverse * x), -half, half - 1);
                float w = x * x;
                sumLX += w * x * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2) {
                for (int i = 0; i < n; i++) {
                    levels[at + i] = clamp(nearestInt(inverse * values[from + i]), -half, half - 1) + half;
                }
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    /**
     * ggml's {@code nearest_int}: adding 1.5 * 2^23 leaves the rounded integer in the low mantissa bits (halves to
     * even, as the FPU rounds); valid below 2^22 in magnitude, which every caller's values are.
     */
    static int nearestInt(float value) {
        return (Float.floatToRawIntBits(value + 12582912f) & 0x007FFFFF) - 0x00400000;
    }

    private static int clamp(int value, int low, int high) {
        return Math.max(low, Math.min(high, value));
    }
}
