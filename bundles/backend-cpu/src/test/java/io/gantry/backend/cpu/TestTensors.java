package io.gantry.backend.cpu;

import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/**
 * Random weights in every format, with an independent float64 reading of what they hold: ggml's reference
 * quantizers (Q8_0, Q4_0) and dequantizers (all formats) transcribed from ggml-quants.c.
 */
final class TestTensors {

    private static final ValueLayout.OfShort SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * A weight and what it holds.
     *
     * @param tensor     the weight as a model file would hold it
     * @param values     its elements in float64, row after row
     * @param magnitudes per element, the size of the terms a float decoder rounds (for error bounds)
     */
    record TestTensor(HostTensor tensor, double[] values, double[] magnitudes) {
    }

    private TestTensors() {
    }

    /** @return a {@code rows x cols} weight of {@code type} filled from {@code random} */
    static TestTensor random(TensorType type, int rows, int cols, Random random) {
        MemorySegment data = Arena.ofAuto().allocate(type.bytesFor(cols) * rows, 64);
        long rowBytes = type.bytesFor(cols);
        for (int r = 0; r < rows; r++) {
            MemorySegment row = data.asSlice(r * rowBytes, rowBytes);
            float[] source = gaussian(cols, random);
            switch (type) {
                case F32 -> MemorySegment.copy(source, 0, row, FLOAT, 0, cols);
                case F16 -> {
                    for (int i = 0; i < cols; i++) {
                        row.set(SHORT, 2L * i, Float.floatToFloat16(source[i]));
                    }
                }
                case BF16 -> {
                    for (int i = 0; i < cols; i++) {
                        row.set(SHORT, 2L * i, (short) (Float.floatToRawIntBits(source[i]) >>> 16));
                    }
                }
                case Q8_0 -> quantizeQ8_0(source, row);
                case Q4_0 -> quantizeQ4_0(source, row);
                case Q4_K -> randomQ4_K(row, cols, random);
                case Q6_K -> randomQ6_K(row, cols, random);
            }
        }
        double[] values = new double[rows * cols];
        double[] magnitudes = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            dequantize(type, data.asSlice(r * rowBytes, rowBytes), cols, values, magnitudes, r * cols);
        }
        return new TestTensor(new HostTensor("test." + type, type, rows, cols, data), values, magnitudes);
    }

    static float[] gaussian(int count, Random random) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    /** ggml's quantize_row_q8_0_ref. */
    private static void quantizeQ8_0(float[] x, MemorySegment out) {
        for (int block = 0; block < x.length / 32; block++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[32 * block + j]));
            }
            float d = amax / 127;
            float id = d != 0 ? 1 / d : 0;
            long at = 34L * block;
            out.set(SHORT, at, Float.floatToFloat16(d));
            for (int j = 0; j < 32; j++) {
                out.set(ValueLayout.JAVA_BYTE, at + 2 + j, (byte) Math.round(x[32 * block + j] * id));
            }
        }
    }

    /** ggml's quantize_row_q4_0_ref. */
    private static void quantizeQ4_0(float[] x, MemorySegment out) {
        for (int block = 0; block < x.length / 32; block++) {
            float amax = 0;
            float max = 0;
            for (int j = 0; j < 32; j++) {
                float v = x[32 * block + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -8;
            float id = d != 0 ? 1 / d : 0;
            long at = 18L * block;
            out.set(SHORT, at, Float.floatToFloat16(d));
            for (int j = 0; j < 16; j++) {
                int q0 = Math.min(15, (byte) (x[32 * block + j] * id + 8.5f));
                int q1 = Math.min(15, (byte) (x[32 * block + 16 + j] * id + 8.5f));
                out.set(ValueLayout.JAVA_BYTE, at + 2 + j, (byte) (q0 | q1 << 4));
            }
        }
    }

    /** Random Q4_K blocks: random scales, mins and nibbles under small positive {@code d} and {@code dmin}. */
    private static void randomQ4_K(MemorySegment out, int cols, Random random) {
        for (int block = 0; block < cols / 256; block++) {
            long at = 144L * block;
            randomBytes(out, at, 144, random);
            out.set(SHORT, at, Float.floatToFloat16(0.001f + 0.01f * random.nextFloat()));
            out.set(SHORT, at + 2, Float.floatToFloat16(0.001f + 0.01f * random.nextFloat()));
        }
    }

    /** Random Q6_K blocks: random 6-bit weights and signed scales under a small {@code d} of either sign. */
    private static void randomQ6_K(MemorySegment out, int cols, Random random) {
        for (int block = 0; block < cols / 256; block++) {
            long at = 210L * block;
            randomBytes(out, at, 208, random);
            float d = (random.nextBoolean() ? 1 : -1) * 0.001f * random.nextFloat();
            out.set(SHORT, at + 208, Float.floatToFloat16(d));
        }
    }

    private static void randomBytes(MemorySegment out, long at, int count, Random random) {
        byte[] bytes = new byte[count];
        random.nextBytes(bytes);
        MemorySegment.copy(bytes, 0, out, ValueLayout.JAVA_BYTE, at, count);
    }

    /** Reads one row in float64, as ggml's dequantize_row_* do. */
    private static void dequantize(TensorType type, MemorySegment row, int cols, double[] values, double[] magnitudes,
            int at) {
        switch (type) {
            case F32 -> {
                for (int i = 0; i < cols; i++) {
                    values[at + i] = row.get(FLOAT, 4L * i);
                }
            }
            case F16 -> {
                for (int i = 0; i < cols; i++) {
                    values[at + i] = Float.float16ToFloat(row.get(SHORT, 2L * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < cols; i++) {
                    values[at + i] = Float.intBitsToFloat(row.get(SHORT, 2L * i) << 16);
                }
            }
            case Q8_0 -> {
                for (int i = 0; i < cols; i++) {
                    long block = 34L * (i / 32);
                    values[at + i] = (double) half(row, block) * row.get(ValueLayout.JAVA_BYTE, block + 2 + i % 32);
                }
            }
            case Q4_0 -> {
                for (int i = 0; i < cols; i++) {
                    long block = 18L * (i / 32);
                    int j = i % 32;
                    int packed = unsigned(row, block + 2 + j % 16);
                    int q = j < 16 ? packed & 0xF : packed >> 4;
                    values[at + i] = (double) half(row, block) * (q - 8);
                }
            }
            case Q4_K -> dequantizeQ4_K(row, cols, values, magnitudes, at);
            case Q6_K -> dequantizeQ6_K(row, cols, values, at);
        }
        if (type != TensorType.Q4_K) {
            for (int i = 0; i < cols; i++) {
                magnitudes[at + i] = Math.abs(values[at + i]);
            }
        }
    }

    /** ggml's dequantize_row_q4_K; magnitudes are |d·scale·q| + |dmin·min|. */
    private static void dequantizeQ4_K(MemorySegment row, int cols, double[] values, double[] magnitudes, int at) {
        for (int block = 0; block < cols / 256; block++) {
            long x = 144L * block;
            double d = half(row, x);
            double min = half(row, x + 2);
            long scales = x + 4;
            long q = x + 16;
            int y = at + 256 * block;
            int is = 0;
            for (int j = 0; j < 256; j += 64) {
                int[] sm = scaleMinK4(is, row, scales);
                double d1 = d * sm[0];
                double m1 = min * sm[1];
                sm = scaleMinK4(is + 1, row, scales);
                double d2 = d * sm[0];
                double m2 = min * sm[1];
                for (int l = 0; l < 32; l++) {
                    int nibble = unsigned(row, q + l) & 0xF;
                    values[y] = d1 * nibble - m1;
                    magnitudes[y++] = Math.abs(d1 * nibble) + Math.abs(m1);
                }
                for (int l = 0; l < 32; l++) {
                    int nibble = unsigned(row, q + l) >> 4;
                    values[y] = d2 * nibble - m2;
                    magnitudes[y++] = Math.abs(d2 * nibble) + Math.abs(m2);
                }
                q += 32;
                is += 2;
            }
        }
    }

    /** ggml's get_scale_min_k4: {scale, min} of sub-block {@code j}. */
    private static int[] scaleMinK4(int j, MemorySegment row, long q) {
        if (j < 4) {
            return new int[] {unsigned(row, q + j) & 63, unsigned(row, q + j + 4) & 63};
        }
        return new int[] {(unsigned(row, q + j + 4) & 0xF) | ((unsigned(row, q + j - 4) >> 6) << 4),
                (unsigned(row, q + j + 4) >> 4) | ((unsigned(row, q + j) >> 6) << 4)};
    }

    /** ggml's dequantize_row_q6_K. */
    private static void dequantizeQ6_K(MemorySegment row, int cols, double[] values, int at) {
        for (int block = 0; block < cols / 256; block++) {
            long x = 210L * block;
            double d = half(row, x + 208);
            long ql = x;
            long qh = x + 128;
            long sc = x + 192;
            int y = at + 256 * block;
            for (int n = 0; n < 256; n += 128) {
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int q1 = ((unsigned(row, ql + l) & 0xF) | ((unsigned(row, qh + l) & 3) << 4)) - 32;
                    int q2 = ((unsigned(row, ql + l + 32) & 0xF) | (((unsigned(row, qh + l) >> 2) & 3) << 4)) - 32;
                    int q3 = ((unsigned(row, ql + l) >> 4) | (((unsigned(row, qh + l) >> 4) & 3) << 4)) - 32;
                    int q4 = ((unsigned(row, ql + l + 32) >> 4) | (((unsigned(row, qh + l) >> 6) & 3) << 4)) - 32;
                    values[y + l] = d * row.get(ValueLayout.JAVA_BYTE, sc + is) * q1;
                    values[y + l + 32] = d * row.get(ValueLayout.JAVA_BYTE, sc + is + 2) * q2;
                    values[y + l + 64] = d * row.get(ValueLayout.JAVA_BYTE, sc + is + 4) * q3;
                    values[y + l + 96] = d * row.get(ValueLayout.JAVA_BYTE, sc + is + 6) * q4;
                }
                y += 128;
                ql += 64;
                qh += 32;
                sc += 8;
            }
        }
    }

    private static float half(MemorySegment row, long offset) {
        return Float.float16ToFloat(row.get(SHORT, offset));
    }

    private static int unsigned(MemorySegment row, long offset) {
        return Byte.toUnsignedInt(row.get(ValueLayout.JAVA_BYTE, offset));
    }
}
