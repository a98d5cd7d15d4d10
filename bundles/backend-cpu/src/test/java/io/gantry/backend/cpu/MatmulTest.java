package io.gantry.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.TensorType;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
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
                || type == TensorType.Q4_K && PackedQ4_K.packs(outRows));
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
     * (F16, Q8_0 and Q6_K: 8 rows together and 1 alone, decoding as they go below 32 rows and from a tile of decoded
     * columns from there, the last chunk of columns a partial one; Q4_0 and Q4_K: 2 together and 1 alone); and for float
     * formats with rows of no whole vectors too (tiles only, the tail after the vectors added last).
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
