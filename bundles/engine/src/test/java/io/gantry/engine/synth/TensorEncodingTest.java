package io.gantry.engine.synth;

import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import io.gantry.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorEncodingTest {

    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static byte[] encode(TensorType type, float[] values) {
        byte[] bytes = new byte[(int) type.bytesFor(values.length)];
        long written = TensorEncoding.encode(type, values, 0, values.length, MemorySegment.ofArray(bytes), 0);
        assertEquals(bytes.length, written);
        return bytes;
    }

    private static float scale(byte[] block) {
        return Float.float16ToFloat(MemorySegment.ofArray(block).get(I16_LE, 0));
    }

    @Test
    void q8_0RoundsHalvesAwayFromZeroWithTheScaleOfTheLargestMagnitude() {
        float[] values = new float[32];
        float[] given = {-127, -2.5f, 2.5f, -0.5f, 0.5f, 1.49f, -1.51f, 126.5f};
        System.arraycopy(given, 0, values, 0, given.length);
        byte[] block = encode(TensorType.Q8_0, values);

        assertEquals(1f, scale(block), "d = amax / 127");
        byte[] expected = new byte[32];
        byte[] rounded = {-127, -3, 3, -1, 1, 1, -2, 127};
        System.arraycopy(rounded, 0, expected, 0, rounded.length);
        assertArrayEquals(expected, Arrays.copyOfRange(block, 2, 34));
    }

    @Test
    void q4_0MapsTheSignedExtremeToZeroAndClampsTheOppositeEnd() {
        float[] values = new float[32];
        values[0] = -8; // the extreme: d = -8 / -8 = 1, q = 0
        values[1] = 7; // 15
        values[2] = 0.4f; // 8.9 -> 8
        values[3] = 0.5f; // 9
        values[4] = -0.6f; // 7.9 -> 7
        values[16] = 7.9f; // 16.4 -> clamped to 15
        values[17] = -7.5f; // 1
        byte[] block = encode(TensorType.Q4_0, values);

        assertEquals(1f, scale(block));
        int[] q = nibbles(block);
        assertEquals(0, q[0]);
        assertEquals(15, q[1]);
        assertEquals(8, q[2]);
        assertEquals(9, q[3]);
        assertEquals(7, q[4]);
        assertEquals(8, q[5], "zero");
        assertEquals(15, q[16]);
        assertEquals(1, q[17]);

        float[] positive = new float[32];
        positive[0] = 4; // d = 4 / -8 = -0.5: the positive extreme maps to q = 0 too
        positive[1] = -4; // 16.5 -> clamped to 15
        byte[] negativeScale = encode(TensorType.Q4_0, positive);
        assertEquals(-0.5f, scale(negativeScale));
        assertEquals(0, nibbles(negativeScale)[0]);
        assertEquals(15, nibbles(negativeScale)[1]);
    }

    /** @return the 32 4-bit values of a Q4_0 block: weight i in the low nibble of byte i, i + 16 in the high one */
    private static int[] nibbles(byte[] block) {
        return IntStream.range(0, 32).map(i -> i < 16 ? block[2 + i] & 0x0F : (block[2 + i - 16] & 0xF0) >>> 4).toArray();
    }

    @Test
    void anAllZeroBlockHasScaleZero() {
        byte[] q8 = encode(TensorType.Q8_0, new float[32]);
        assertEquals(0f, scale(q8));
        assertTrue(IntStream.range(2, 34).allMatch(i -> q8[i] == 0));
        byte[] q4 = encode(TensorType.Q4_0, new float[32]);
        assertEquals(-0f, scale(q4), "0 / -8 is -0, and the reference quantizer stores it so");
        assertTrue(IntStream.range(2, 18).allMatch(i -> q4[i] == (byte) 0x88), "q = 8 decodes to 0");
    }

    @Test
    void floatFormatsRoundTrip() {
        float[] values = {0f, -1.5f, 65504f, 1e-8f, (float) Math.PI, -0.1f};
        float[] back = new float[values.length];
        MemorySegment f32 = MemorySegment.ofArray(encode(TensorType.F32, values));
        TensorEncoding.decode(TensorType.F32, f32, 0, back, 0, values.length);
        assertArrayEquals(values, back);

        MemorySegment f16 = MemorySegment.ofArray(encode(TensorType.F16, values));
        TensorEncoding.decode(TensorType.F16, f16, 0, back, 0, values.length);
        for (int i = 0; i < values.length; i++) {
            assertEquals(TensorEncoding.roundToF16(values[i]), back[i]);
        }

        short[] bf16 = {(short) 0x3FC0, (short) 0xC000}; // 1.5 and -2 as the upper halves of F32
        TensorEncoding.decode(TensorType.BF16, MemorySegment.ofArray(bf16), 0, back, 0, 2);
        assertEquals(1.5f, back[0]);
        assertEquals(-2f, back[1]);
    }

    @Test
    void rejectsFormatsItDoesNotHandle() {
        float[] values = new float[256];
        MemorySegment out = MemorySegment.ofArray(new byte[1024]);
        assertThrows(IllegalArgumentException.class, () -> TensorEncoding.encode(TensorType.BF16, values, 0, 256, out, 0));
        assertThrows(IllegalArgumentException.class, () -> TensorEncoding.encode(TensorType.Q4_K, values, 0, 128, out, 0),
                "half a super-block");
        assertThrows(IllegalArgumentException.class, () -> TensorEncoding.encode(TensorType.Q8_0, values, 0, 20, out, 0),
                "not a whole number of blocks");
        assertThrows(IllegalArgumentException.class, () -> TensorEncoding.decode(TensorType.Q8_0, out, 0, values, 0, 32));
    }

    /**
     * The encoded bytes, read back by the CPU backend's own decoders (through {@code embed}, which copies decoded
     * rows), give every value within the format's error bound: half a quantization step, except where Q4_0 clamps
     * the end opposite to the block's extreme (a whole step), plus the rounding of the scale to F16.
     */
    @Test
    void theCpuBackendDecodesEveryValueWithinTheFormatsBound() {
        int rows = 24;
        int cols = 256;
        Random random = new Random(7);
        float[] values = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            double magnitude = Math.pow(10, r % 6 - 3); // 1e-3 .. 1e2
            for (int c = 0; c < cols; c++) {
                values[r * cols + c] = (float) (random.nextGaussian() * magnitude);
            }
        }
        values[5] = 0; // a row that starts with zeros
        Arrays.fill(values, 2 * cols, 2 * cols + 32, 0f); // a block of zeros

        try (CpuBackend backend = new CpuBackend(2, true)) {
            for (TensorType type : new TensorType[] {TensorType.F16, TensorType.Q8_0, TensorType.Q4_0}) {
                float[] decoded = decodeOnBackend(backend, type, encode(type, values), rows, cols);
                for (int i = 0; i < values.length; i++) {
                    float bound = bound(type, values, i);
                    float error = Math.abs(values[i] - decoded[i]);
                    assertTrue(error <= bound, type + " value " + i + ": " + values[i] + " decoded as " + decoded[i]
                            + ", off by " + error + " > " + bound);
                }
            }
        }
    }

    private static float[] decodeOnBackend(CpuBackend backend, TensorType type, byte[] bytes, int rows, int cols) {
        DeviceWeight weight = backend.upload(new HostTensor("w", type, rows, cols, MemorySegment.ofArray(bytes)));
        DeviceBuffer buffer = backend.allocate(rows, cols);
        backend.embed(buffer, weight, IntStream.range(0, rows).toArray(), rows);
        float[] decoded = new float[rows * cols];
        backend.read(buffer, rows, decoded);
        buffer.release();
        weight.release();
        return decoded;
    }

    private static float bound(TensorType type, float[] values, int index) {
        if (type == TensorType.F16) {
            return f16Error(values[index]);
        }
        int start = index / 32 * 32;
        float amax = 0;
        float max = 0;
        for (int i = start; i < start + 32; i++) {
            if (Math.abs(values[i]) > amax) {
                amax = Math.abs(values[i]);
                max = values[i];
            }
        }
        float slack = 1 + 0x1p-8f;
        if (type == TensorType.Q8_0) {
            float d = amax / 127;
            return (0.5f * d + 127 * f16Error(d)) * slack;
        }
        float d = Math.abs(max / 8);
        boolean clamped = values[index] / (max / -8) + 8 > 15.5f;
        return ((clamped ? 1f : 0.5f) * d + 8 * f16Error(d)) * slack;
    }

    /** @return the most rounding to F16 can change {@code value}: half an ulp, or of the subnormal step */
    private static float f16Error(float value) {
        return Math.max(Math.abs(value) * 0x1p-11f, 0x1p-25f);
    }

    /**
     * Q4_K and Q6_K, read back by the CPU backend: every value is the level nearest to it among those its
     * sub-block's stored scales give (the reference quantizer's last pass), and the scale search keeps the error
     * of Gaussian rows at what 4 and 6 bits give: relative RMS error 0.070 (Q4_K) and 0.018 (Q6_K) on these rows.
     */
    @Test
    void kQuantsDecodeToTheNearestLevelOfTheirStoredScales() {
        int rows = 16;
        int cols = 512;
        Random random = new Random(11);
        float[] values = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            double magnitude = Math.pow(10, r % 4 - 2);
            for (int c = 0; c < cols; c++) {
                values[r * cols + c] = (float) (random.nextGaussian() * magnitude + (r == 3 ? magnitude : 0));
            }
        }
        Arrays.fill(values, 5 * cols, 5 * cols + 256, 0f); // a super-block of zeros
        Arrays.fill(values, 6 * cols + 32, 6 * cols + 64, 0.25f); // a constant sub-block

        try (CpuBackend backend = new CpuBackend(2, true)) {
            for (TensorType type : new TensorType[] {TensorType.Q4_K, TensorType.Q6_K}) {
                byte[] bytes = encode(type, values);
                float[] decoded = decodeOnBackend(backend, type, bytes, rows, cols);
                double squaredError = 0;
                double squared = 0;
                for (int i = 0; i < values.length; i++) {
                    float[] levels = levels(type, MemorySegment.ofArray(bytes), i);
                    float nearest = Float.MAX_VALUE;
                    for (float level : levels) {
                        nearest = Math.min(nearest, Math.abs(values[i] - level));
                    }
                    float error = Math.abs(values[i] - decoded[i]);
                    float slack = 1e-5f * (Math.abs(values[i]) + Math.abs(levels[levels.length - 1] - levels[0]));
                    assertTrue(error <= nearest + slack, type + " value " + i + ": " + values[i] + " decoded as "
                            + decoded[i] + ", off by " + error + " where a level is " + nearest + " away");
                    int row = i / cols;
                    double scale = Math.pow(10, -(row % 4 - 2));
                    squaredError += error * scale * error * scale;
                    squared += values[i] * scale * values[i] * scale;
                }
                double relative = Math.sqrt(squaredError / squared);
                assertTrue(relative < (type == TensorType.Q4_K ? 0.08 : 0.02), type + ": relative RMS error " + relative);
            }
        }
        assertEquals(0, Float.float16ToFloat(MemorySegment.ofArray(encode(TensorType.Q6_K, new float[256]))
                .get(I16_LE, 208)), "an all-zero Q6_K super-block has d = 0");
    }

    /**
     * @return the values value {@code index}'s sub-block can take, from its super-block's stored scales: Q4_K
     *         {@code d * sc * q - dmin * m}, q in 0..15 (6-bit sc and m packed in 12 bytes); Q6_K
     *         {@code d * sc * (q - 32)}, q in 0..63 (signed byte sc)
     */
    private static float[] levels(TensorType type, MemorySegment bytes, int index) {
        long block = (long) index / 256 * type.blockBytes();
        int k = index % 256;
        if (type == TensorType.Q6_K) {
            float step = Float.float16ToFloat(bytes.get(I16_LE, block + 208)) * bytes.get(ValueLayout.JAVA_BYTE,
                    block + 192 + k / 16);
            float[] levels = new float[64];
            for (int q = 0; q < 64; q++) {
                levels[q] = step * (q - 32);
            }
            return levels;
        }
        int j = k / 32;
        int[] packed = new int[12];
        for (int i = 0; i < 12; i++) {
            packed[i] = bytes.get(ValueLayout.JAVA_BYTE, block + 4 + i) & 0xFF;
        }
        int sc = j < 4 ? packed[j] & 63 : (packed[j + 4] & 0xF) | (packed[j - 4] >> 6) << 4;
        int m = j < 4 ? packed[j + 4] & 63 : (packed[j + 4] >> 4) | (packed[j] >> 6) << 4;
        float step = Float.float16ToFloat(bytes.get(I16_LE, block)) * sc;
        float offset = Float.float16ToFloat(bytes.get(I16_LE, block + 2)) * m;
        float[] levels = new float[16];
        for (int q = 0; q < 16; q++) {
            levels[q] = step * q - offset;
        }
        return levels;
    }
}
