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

    /** Output rows: not a multiple of the 4-row tile, so the last tile is partial. */
    private static final int OUT_ROWS = 37;
    /** Rows of a batch: enough for the tiled path of every format, and not a multiple of its groups of 4 rows. */
    private static final int BATCH = 9;

    static Stream<Arguments> formatsAndKernels() {
        return Arrays.stream(TensorType.values()).flatMap(type -> Stream.of(
                Arguments.of(type, true, 1), Arguments.of(type, true, 3),
                Arguments.of(type, false, 1), Arguments.of(type, false, 3)));
    }

    /**
     * Each output is within {@code (n + 8) ε Σ|wᵢ xᵢ|} of the float64 product of the decoded weights
     * ({@code n} columns, {@code ε = 2^-23}): the worst case of adding n rounded products in float, plus
     * the roundings of decoding.
     */
    @ParameterizedTest(name = "{0} vector={1} threads={2}")
    @MethodSource("formatsAndKernels")
    void matchesFloat64ReferenceOfDecodedWeights(TensorType type, boolean vector, int threads) {
        int cols = TensorFormatTest.colsFor(type);
        TestTensors.TestTensor weights = TestTensors.random(type, OUT_ROWS, cols, new Random(10));
        float[] x = TestTensors.gaussian(BATCH * cols, new Random(11));
        try (CpuBackend backend = new CpuBackend(threads, vector)) {
            float[] got = multiply(backend, backend.upload(weights.tensor()), x, BATCH, cols);
            for (int r = 0; r < BATCH; r++) {
                for (int i = 0; i < OUT_ROWS; i++) {
                    double expected = 0;
                    double magnitude = 0;
                    for (int k = 0; k < cols; k++) {
                        expected += weights.values()[i * cols + k] * x[r * cols + k];
                        magnitude += weights.magnitudes()[i * cols + k] * Math.abs(x[r * cols + k]);
                    }
                    double bound = (cols + 8) * 0x1p-23 * magnitude;
                    double error = Math.abs(got[r * OUT_ROWS + i] - expected);
                    assertTrue(error <= bound, type + " row " + r + " output " + i + ": " + got[r * OUT_ROWS + i]
                            + " vs " + expected + ", error " + error + " > " + bound);
                }
            }
        }
    }

    static Stream<Arguments> formatsKernelsAndBatches() {
        return formatsAndKernels().flatMap(arguments -> Stream.of(2, BATCH).map(batch -> {
            Object[] values = arguments.get();
            return Arguments.of(values[0], values[1], values[2], batch);
        }));
    }

    /**
     * Bit equality: batch size never changes a row's result (greedy decoding stays reproducible), whether the
     * batch runs the fused kernels (2 rows) or the tiles (9 rows); and for float formats with rows of no whole
     * vectors too (tiles only, the tail after the vectors added last).
     */
    @ParameterizedTest(name = "{0} vector={1} threads={2} batch={3}")
    @MethodSource("formatsKernelsAndBatches")
    void batchedRowsEqualSingleRows(TensorType type, boolean vector, int threads, int batch) {
        batchedRowsEqualSingleRows(type, vector, threads, batch, type.blockElements() == 1 ? 256 : 512);
        if (type.blockElements() == 1) {
            batchedRowsEqualSingleRows(type, vector, threads, batch, TensorFormatTest.colsFor(type));
        }
    }

    private static void batchedRowsEqualSingleRows(TensorType type, boolean vector, int threads, int batch,
            int cols) {
        TestTensors.TestTensor weights = TestTensors.random(type, OUT_ROWS, cols, new Random(12));
        float[] x = TestTensors.gaussian(batch * cols, new Random(13));
        try (CpuBackend backend = new CpuBackend(threads, vector)) {
            DeviceWeight w = backend.upload(weights.tensor());
            float[] batched = multiply(backend, w, x, batch, cols);
            for (int r = 0; r < batch; r++) {
                float[] single = multiply(backend, w, Arrays.copyOfRange(x, r * cols, (r + 1) * cols), 1, cols);
                assertArrayEquals(single, Arrays.copyOfRange(batched, r * OUT_ROWS, (r + 1) * OUT_ROWS), 0f,
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
