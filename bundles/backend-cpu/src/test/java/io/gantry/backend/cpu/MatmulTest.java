package io.gantry.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * matmul on every format, vector and scalar kernels, one thread and several: against a float64 reference,
 * and batched against one row at a time.
 */
class MatmulTest {

    /**
     * Output rows: 37 is not a multiple of the 4-row tile, so the last tile is partial; 64 is whole units of four
     * groups of any vector width, so F16, Q8_0, Q6_K, Q4_0 and Q4_K run their repacked kernels.
     */
    private static final int[] OUT_ROWS = {37, 64};
    /** Rows of a batch: enough for the tiled path of every format, and not a multiple of its groups of 4 rows. */
    private static final int BATCH = 9;
    /** Rows of a batch from which F16 and Q8_0 decode their repacked weights into a tile, and one more. */
    private static final int TILED_BATCH = 33;

    static Stream<Arguments> formatsAndKernels() {
        return Arrays.stream(TensorType.values()).flatMap(type -> Arrays.stream(OUT_ROWS).boxed()
                .flatMap(outRows -> Stream.of(Arguments.of(type, true, 1, outRows),
                        Arguments.of(type, true, 3, outRows), Arguments.of(type, false, 1, outRows),
                        Arguments.of(type, false, 3, outRows))));
    }

    /**
     * Each output is within {@code (n + 8) ε Σ|wᵢ xᵢ|} of the float64 product of the decoded weights
     * ({@code n} columns, {@code ε = 2^-23}): the worst case of adding n rounded products in float, plus
     * the roundings of decoding. Where a kernel multiplies the batch quantized ({@link BatchQuants}), each
     * {@code xᵢ} may also be off by half its block's step {@code d = max|x| / 127}: add {@code Σ|wᵢ| d / 2}.
     */
    @ParameterizedTest(name = "{0} vector={1} threads={2} outRows={3}")
    @MethodSource("formatsAndKernels")
    void matchesFloat64ReferenceOfDecodedWeights(TensorType type, boolean vector, int threads, int outRows) {
        int cols = TensorFormatTest.colsFor(type);
        TestTensors.TestTensor weights = TestTensors.random(type, outRows, cols, new Random(10));
        float[] x = TestTensors.gaussian(BATCH * cols, new Random(11));
        boolean quantizesBatch = vector && (type == TensorType.Q4_0 && PackedQ4_0.packs(outRows)
                || type == TensorType.Q4_K && PackedQ4_K.packs(outRows)
                || type == TensorType.Q6_K && PackedQ6_K.packs(outRows));
        try (CpuBackend backend = new CpuBackend(threads, vector)) {
            float[] got = multiply(backend, backend.upload(weights.tensor()), x, BATCH, cols);
            for (int r = 0; r < BATCH; r++) {
                double[] halfSteps = quantizesBatch ? halfSteps(x, r * cols, cols) : new double[cols];
                for (int i = 0; i < outRows; i++) {
                    double expected = 0;
                    double magnitude = 0;
                    double quantization = 0;
                    for (int k = 0; k < cols; k++) {
                        expected += weights.values()[i * cols + k] * x[r * cols + k];
                        magnitude += weights.magnitudes()[i * cols + k] * Math.abs(x[r * cols + k]);
                        quantization += weights.magnitudes()[i * cols + k] * halfSteps[k];
                    }
                    double bound = (cols + 8) * 0x1p-23 * magnitude + quantization;
                    double error = Math.abs(got[r * outRows + i] - expected);
                    assertTrue(error <= bound, type + " row " + r + " output " + i + ": " + got[r * outRows + i]
                            + " vs " + expected + ", error " + error + " > " + bound);
                }
            }
        }
    }

    /**
     * Q6_K's integer kernels sum 8 products in a short; at the extremes ({@code q - 32} all -32 or all 31, every
     * {@code |x'|} 127, and the odd quants paired as {@code x'[1] - 256 x'[0]} at their largest) the sums must still
     * be exact: a wrapped short would be off by 65,536 products.
     */
    @Test
    void q6_KSumsOfExtremeQuantsAreExact() {
        int rows = 64;
        int cols = 512;
        float d = 0x1p-10f;
        MemorySegment data = Arena.ofAuto().allocate(TensorType.Q6_K.bytesFor(cols) * rows);
        long rowBytes = TensorType.Q6_K.bytesFor(cols);
        for (int r = 0; r < rows; r++) {
            for (int block = 0; block < cols / 256; block++) {
                long at = r * rowBytes + 210L * block;
                // q = 0 in even rows (all low and high bits clear), 63 in odd ones (all set)
                data.asSlice(at, 192).fill((byte) (r % 2 == 0 ? 0 : 0xFF));
                data.asSlice(at + 192, 16).fill((byte) (r % 2 == 0 ? 127 : -128));
                data.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 208, Float.floatToFloat16(d));
            }
        }
        float[] x = new float[3 * cols];
        for (int k = 0; k < cols; k++) {
            x[k] = 1;
            x[cols + k] = -1;
            x[2 * cols + k] = k % 2 == 0 ? 1 : -1;
        }
        try (CpuBackend backend = new CpuBackend(1, true)) {
            float[] got = multiply(backend,
                    backend.upload(new HostTensor("test.extremes", TensorType.Q6_K, rows, cols, data)), x, 3, cols);
            for (int r = 0; r < 3; r++) {
                for (int i = 0; i < rows; i++) {
                    double weight = i % 2 == 0 ? d * 127 * -32 : d * -128 * 31;
                    double expected = 0;
                    for (int k = 0; k < cols; k++) {
                        expected += weight * x[r * cols + k];
                    }
                    assertEquals(expected, got[r * rows + i], 1e-5 * cols * Math.abs(weight),
                            "batch row " + r + ", output " + i);
                }
            }
        }
    }

    /** @return per element of the row, half its block's quantization step, a little rounded up */
    private static double[] halfSteps(float[] x, int offset, int cols) {
        double[] halfSteps = new double[cols];
        for (int block = 0; block < cols; block += BatchQuants.BLOCK) {
            double largest = 0;
            for (int k = block; k < block + BatchQuants.BLOCK; k++) {
                largest = Math.max(largest, Math.abs(x[offset + k]));
            }
            Arrays.fill(halfSteps, block, block + BatchQuants.BLOCK, largest / 127 / 2 * (1 + 0x1p-20));
        }
        return halfSteps;
    }

    static Stream<Arguments> formatsKernelsAndBatches() {
        return formatsAndKernels().flatMap(arguments -> Stream.of(2, BATCH, TILED_BATCH).map(batch -> {
            Object[] values = arguments.get();
            return Arguments.of(values[0], values[1], values[2], values[3], batch);
        }));
    }

    /**
     * Bit equality: batch size never changes a row's result (greedy decoding stays reproducible), whether the
     * batch runs the fused kernels (2 rows), the tiles (9 and 33 rows) or, at 64 output rows, the repacked kernels
     * (F16 and Q8_0: 8 rows together and 1 alone, decoding as they go below 32 rows and from a tile of decoded
     * columns from there, the last chunk of columns a partial one; Q4_0, Q4_K and Q6_K: 2 together and 1 alone); and
     * for float formats with rows of no whole vectors too (tiles only, the tail after the vectors added last).
     */
    @ParameterizedTest(name = "{0} vector={1} threads={2} outRows={3} batch={4}")
    @MethodSource("formatsKernelsAndBatches")
    void batchedRowsEqualSingleRows(TensorType type, boolean vector, int threads, int outRows, int batch) {
        int cols = switch (type.blockElements()) {
            case 1 -> 288;
            case 32 -> 544;
            default -> 512;
        };
        batchedRowsEqualSingleRows(type, vector, threads, outRows, batch, cols);
        if (type.blockElements() == 1) {
            batchedRowsEqualSingleRows(type, vector, threads, outRows, batch, TensorFormatTest.colsFor(type));
        }
    }

    private static void batchedRowsEqualSingleRows(TensorType type, boolean vector, int threads, int outRows,
            int batch, int cols) {
        TestTensors.TestTensor weights = TestTensors.random(type, outRows, cols, new Random(12));
        float[] x = TestTensors.gaussian(batch * cols, new Random(13));
        try (CpuBackend backend = new CpuBackend(threads, vector)) {
            DeviceWeight w = backend.upload(weights.tensor());
            float[] batched = multiply(backend, w, x, batch, cols);
            for (int r = 0; r < batch; r++) {
                float[] single = multiply(backend, w, Arrays.copyOfRange(x, r * cols, (r + 1) * cols), 1, cols);
                assertArrayEquals(single, Arrays.copyOfRange(batched, r * outRows, (r + 1) * outRows), 0f,
                        type + " " + cols + " columns, row " + r);
            }
        }
    }

    private static float[] multiply(CpuBackend backend, DeviceWeight weight, float[] x, int rows, int cols) {
        DeviceBuffer in = BackendTestSupport.buffer(backend, x, rows, cols);
        DeviceBuffer out = backend.allocate(rows, weight.rows());
        backend.matmul(out, weight, in, rows);
        float[] result = new float[rows * weight.rows()];
        backend.read(out, rows, result);
        return result;
    }
}
