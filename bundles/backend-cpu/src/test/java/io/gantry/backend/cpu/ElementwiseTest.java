package io.gantry.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** rmsNorm, swiglu, add, addBias, embed and gatherRows against float64 references, vector and scalar. */
class ElementwiseTest {

    /** Not a multiple of any vector width: exercises the scalar tails. */
    private static final int COLS = 70;
    /** Enough elements to run on the workers. */
    private static final int ROWS = 600;

    @ParameterizedTest(name = "vector={0}")
    @ValueSource(booleans = {true, false})
    void rmsNormMatchesReference(boolean vector) {
        float[] x = TestTensors.gaussian(ROWS * COLS, new Random(40));
        float[] weight = TestTensors.gaussian(COLS, new Random(41));
        float eps = 1e-5f;
        try (CpuBackend backend = new CpuBackend(2, vector)) {
            DeviceBuffer in = BackendTestSupport.buffer(backend, x, ROWS, COLS);
            DeviceBuffer out = backend.allocate(ROWS, COLS);
            backend.rmsNorm(out, in, BackendTestSupport.f32Weight(backend, weight, 1, COLS), eps, ROWS);
            float[] got = BackendTestSupport.read(backend, out, ROWS);
            for (int r = 0; r < ROWS; r++) {
                double sum = 0;
                for (int i = 0; i < COLS; i++) {
                    sum += (double) x[r * COLS + i] * x[r * COLS + i];
                }
                double scale = 1 / Math.sqrt(sum / COLS + eps);
                for (int i = 0; i < COLS; i++) {
                    double expected = x[r * COLS + i] * scale * weight[i];
                    assertEquals(expected, got[r * COLS + i], 1e-5 * (1 + Math.abs(expected)), "row " + r);
                }
            }
        }
    }

    @ParameterizedTest(name = "vector={0}")
    @ValueSource(booleans = {true, false})
    void swigluMatchesReference(boolean vector) {
        Random random = new Random(42);
        float[] gate = TestTensors.gaussian(ROWS * COLS, random);
        float[] up = TestTensors.gaussian(ROWS * COLS, random);
        gate[0] = 100;
        gate[1] = -100;
        try (CpuBackend backend = new CpuBackend(2, vector)) {
            DeviceBuffer out = backend.allocate(ROWS, COLS);
            backend.swiglu(out, BackendTestSupport.buffer(backend, gate, ROWS, COLS),
                    BackendTestSupport.buffer(backend, up, ROWS, COLS), ROWS);
            float[] got = BackendTestSupport.read(backend, out, ROWS);
            for (int i = 0; i < got.length; i++) {
                double expected = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
                assertEquals(expected, got[i], 1e-6 * (1 + Math.abs(expected)), "element " + i);
            }
        }
    }

    @ParameterizedTest(name = "vector={0}")
    @ValueSource(booleans = {true, false})
    void addAndAddBiasAreExact(boolean vector) {
        Random random = new Random(43);
        float[] acc = TestTensors.gaussian(ROWS * COLS, random);
        float[] in = TestTensors.gaussian(ROWS * COLS, random);
        float[] bias = TestTensors.gaussian(COLS, random);
        try (CpuBackend backend = new CpuBackend(2, vector)) {
            DeviceBuffer buffer = BackendTestSupport.buffer(backend, acc, ROWS, COLS);
            backend.add(buffer, BackendTestSupport.buffer(backend, in, ROWS, COLS), ROWS);
            backend.addBias(buffer, BackendTestSupport.f32Weight(backend, bias, 1, COLS), ROWS);
            float[] got = BackendTestSupport.read(backend, buffer, ROWS);
            for (int i = 0; i < got.length; i++) {
                assertEquals(acc[i] + in[i] + bias[i % COLS], got[i], "element " + i);
            }
        }
    }

    @ParameterizedTest(name = "vector={0}")
    @ValueSource(booleans = {true, false})
    void embedCopiesDecodedRowsOfEveryFormat(boolean vector) {
        int[] tokens = {5, 0, 5, 11};
        try (CpuBackend backend = new CpuBackend(2, vector)) {
            for (TensorType type : TensorType.values()) {
                int cols = TensorFormatTest.colsFor(type);
                HostTensor table = TestTensors.random(type, 12, cols, new Random(44)).tensor();
                DeviceWeight weight = backend.upload(table);
                DeviceBuffer out = backend.allocate(tokens.length, cols);
                backend.embed(out, weight, tokens, tokens.length);
                float[] got = BackendTestSupport.read(backend, out, tokens.length);
                float[] expected = new float[tokens.length * cols];
                for (int r = 0; r < tokens.length; r++) {
                    TensorFormat.of(type).dequantizeScalar(table.data(), tokens[r] * table.rowBytes(), expected,
                            r * cols, cols);
                }
                assertArrayEquals(expected, got, 0f, type.name());
            }
        }
    }

    @ParameterizedTest(name = "vector={0}")
    @ValueSource(booleans = {true, false})
    void gatherRowsCopiesChosenRows(boolean vector) {
        float[] x = TestTensors.gaussian(6 * COLS, new Random(45));
        try (CpuBackend backend = new CpuBackend(2, vector)) {
            DeviceBuffer out = backend.allocate(3, COLS);
            backend.gatherRows(out, BackendTestSupport.buffer(backend, x, 6, COLS), new int[] {5, 2, 5}, 3);
            float[] got = BackendTestSupport.read(backend, out, 3);
            int[] sources = {5, 2, 5};
            for (int r = 0; r < 3; r++) {
                for (int i = 0; i < COLS; i++) {
                    assertEquals(x[sources[r] * COLS + i], got[r * COLS + i]);
                }
            }
        }
    }
}
