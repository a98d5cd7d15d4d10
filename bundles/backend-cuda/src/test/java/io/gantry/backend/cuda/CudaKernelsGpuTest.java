package io.gantry.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.backend.AttentionBatch;
import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.KvPool;
import io.gantry.api.backend.KvPoolSpec;
import io.gantry.api.backend.RopeSpec;
import io.gantry.api.backend.TensorType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every kernel against a float64 reference on fresh random inputs. Outputs are poisoned with NaN before each
 * operation and the backend synchronises and checks for errors after every launch ({@code checkEachOperation}).
 * Tolerances, relative to the sum of the magnitudes of the terms of each output: 1e-5 for F32 arithmetic
 * (matrix-vector products, norms, attention), 2e-3 for tensor-core products (inputs rounded to F16).
 * Skips where no CUDA device is available.
 */
class CudaKernelsGpuTest {

    private static final double F32_TOLERANCE = 1e-5;
    private static final double F16_INPUT_TOLERANCE = 2e-3;

    private static CudaBackend cuda;
    private final Random random = new Random(42);

    @BeforeAll
    static void openDevice() {
        cuda = openOrSkip();
    }

    /** @return a backend on device 0, or skips the calling test class with the reason */
    static CudaBackend openOrSkip() {
        try {
            return CudaBackend.open(0, true);
        } catch (CudaUnavailableException e) {
            Assumptions.abort("No CUDA device to test on: " + e.getMessage());
            return null;
        }
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void matmulMatchesFloat64ForDecodeAndPrefillRowCounts(TensorType type) {
        int outs = 72;
        int cols = type.blockElements() > 1 ? 96 : 88;
        HostTensor tensor = RandomTensors.random(type, outs, cols, 0.5f, random);
        double[][] w = decode(tensor);
        DeviceWeight weight = cuda.upload(tensor);
        for (int rows : new int[] {1, 2, 3, 5, 8, 9, 70, 130}) {
            float[] x = RandomTensors.gaussian(rows * cols, 1f, random);
            DeviceBuffer in = buffer(x, rows, cols);
            DeviceBuffer out = poisoned(rows, outs);
            cuda.matmul(out, weight, in, rows);
            float[] actual = read(out, rows);
            boolean tensorCores = rows > LaunchGeometry.GEMV_MAX_ROWS && Kernel.hasTensorCoreKernel(type);
            for (int r = 0; r < rows; r++) {
                for (int o = 0; o < outs; o++) {
                    double sum = 0;
                    double magnitude = 0;
                    for (int c = 0; c < cols; c++) {
                        sum += w[o][c] * x[r * cols + c];
                        magnitude += Math.abs(w[o][c] * x[r * cols + c]);
                    }
                    assertClose(sum, actual[r * outs + o], magnitude,
                            tensorCores ? F16_INPUT_TOLERANCE : F32_TOLERANCE, type + " rows=" + rows + " [" + r + "," + o + "]");
                }
            }
            in.release();
            out.release();
        }
        weight.release();
    }

    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void embedCopiesDecodedRows(TensorType type) {
        HostTensor tensor = RandomTensors.random(type, 50, 64, 1f, random);
        double[][] table = decode(tensor);
        DeviceWeight weight = cuda.upload(tensor);
        int[] tokens = {7, 0, 49, 7, 13};
        DeviceBuffer out = poisoned(tokens.length, 64);
        cuda.embed(out, weight, tokens, tokens.length);
        float[] actual = read(out, tokens.length);
        for (int r = 0; r < tokens.length; r++) {
            for (int c = 0; c < 64; c++) {
                assertEquals((float) table[tokens[r]][c], actual[r * 64 + c], type + " row " + r);
            }
        }
        weight.release();
        out.release();
    }

    @Test
    void rmsNormSwigluAddAndBias() {
        int rows = 6;
        int cols = 200;
        float[] x = RandomTensors.gaussian(rows * cols, 2f, random);
        float[] y = RandomTensors.gaussian(rows * cols, 1f, random);
        HostTensor normTensor = RandomTensors.random(TensorType.F32, 1, cols, 1f, random);
        double[] norm = decode(normTensor)[0];
        DeviceWeight normWeight = cuda.upload(normTensor);
        DeviceBuffer in = buffer(x, rows, cols);
        DeviceBuffer other = buffer(y, rows, cols);
        DeviceBuffer out = poisoned(rows, cols);

        cuda.rmsNorm(out, in, normWeight, 1e-5f, rows);
        float[] normed = read(out, rows);
        for (int r = 0; r < rows; r++) {
            double squares = 0;
            for (int c = 0; c < cols; c++) {
                squares += (double) x[r * cols + c] * x[r * cols + c];
            }
            double scale = 1 / Math.sqrt(squares / cols + 1e-5);
            for (int c = 0; c < cols; c++) {
                double expected = x[r * cols + c] * scale * norm[c];
                assertClose(expected, normed[r * cols + c], Math.abs(expected), F32_TOLERANCE, "rmsNorm");
            }
        }

        DeviceBuffer gated = poisoned(rows, cols);
        cuda.swiglu(gated, in, other, rows);
        float[] swiglu = read(gated, rows);
        for (int i = 0; i < rows * cols; i++) {
            double g = x[i];
            double expected = g / (1 + Math.exp(-g)) * y[i];
            assertClose(expected, swiglu[i], Math.abs(expected), F32_TOLERANCE, "swiglu");
        }

        cuda.add(gated, other, rows);
        float[] added = read(gated, rows);
        for (int i = 0; i < rows * cols; i++) {
            assertEquals(swiglu[i] + y[i], added[i], "add");
        }

        HostTensor biasTensor = RandomTensors.random(TensorType.F16, 1, cols, 1f, random);
        double[] bias = decode(biasTensor)[0];
        DeviceWeight biasWeight = cuda.upload(biasTensor);
        assertEquals(TensorType.F32, biasWeight.type(), "vectors are kept as F32");
        cuda.addBias(gated, biasWeight, rows);
        float[] biased = read(gated, rows);
        for (int i = 0; i < rows * cols; i++) {
            assertEquals((float) (added[i] + (float) bias[i % cols]), biased[i], "addBias");
        }

        DeviceBuffer gathered = poisoned(3, cols);
        cuda.gatherRows(gathered, in, new int[] {5, 0, 5}, 3);
        float[] rowsOut = read(gathered, 3);
        int[] sources = {5, 0, 5};
        for (int r = 0; r < 3; r++) {
            assertEquals(Arrays.toString(Arrays.copyOfRange(x, sources[r] * cols, sources[r] * cols + cols)),
                    Arrays.toString(Arrays.copyOfRange(rowsOut, r * cols, r * cols + cols)), "gatherRows");
        }
        for (DeviceBuffer b : new DeviceBuffer[] {in, other, out, gated, gathered}) {
            b.release();
        }
        normWeight.release();
        biasWeight.release();
    }

    @ParameterizedTest
    @EnumSource(RopeSpec.Style.class)
    void ropeRotatesEachHeadByItsRowsPosition(RopeSpec.Style style) {
        int heads = 4;
        int headDim = 16;
        RopeSpec rope = new RopeSpec(style, 12, 10000f, 1f, new RopeSpec.Llama3Scaling(8f, 1f, 4f, 64));
        AttentionBatch batch = BatchLayoutTest.randomBatch(random, 3, 4, 100);
        int rows = batch.rows();
        float[] x = RandomTensors.gaussian(rows * heads * headDim, 1f, random);
        DeviceBuffer buffer = buffer(x, rows, heads * headDim);
        cuda.rope(buffer, heads, batch, rope);
        float[] actual = read(buffer, rows);
        int pairs = rope.rotaryDims() / 2;
        for (int s = 0; s < batch.sequences(); s++) {
            for (int i = 0; i < batch.rowCounts()[s]; i++) {
                int row = batch.firstRows()[s] + i;
                int position = batch.startPositions()[s] + i;
                float[] expected = Arrays.copyOfRange(x, row * heads * headDim, (row + 1) * heads * headDim);
                for (int h = 0; h < heads; h++) {
                    for (int p = 0; p < pairs; p++) {
                        int a = h * headDim + (style == RopeSpec.Style.NORMAL ? 2 * p : p);
                        int b = a + (style == RopeSpec.Style.NORMAL ? 1 : pairs);
                        double angle = position * rope.frequency(p);
                        double x0 = expected[a];
                        double x1 = expected[b];
                        expected[a] = (float) (x0 * Math.cos(angle) - x1 * Math.sin(angle));
                        expected[b] = (float) (x0 * Math.sin(angle) + x1 * Math.cos(angle));
                    }
                }
                for (int e = 0; e < heads * headDim; e++) {
                    assertClose(expected[e], actual[row * heads * headDim + e], 2, F32_TOLERANCE,
                            style + " row " + row + " element " + e);
                }
            }
        }
        buffer.release();
    }

    @Test
    void storeKvThenCausalGroupedQueryAttentionOverBlockTables() {
        int heads = 8;
        int kvHeads = 2;
        int headDim = 40;
        int blockSize = 4;
        int blocks = 120;
        AttentionBatch step = BatchLayoutTest.randomBatch(random, 4, blockSize, blocks);
        KvPool pool = cuda.allocateKvPool(new KvPoolSpec(2, kvHeads, headDim, blocks * blockSize));
        int layer = 1;
        int kvCols = kvHeads * headDim;
        // Every position a row sees gets a key and value: a history step over positions 0..last of each sequence.
        int sequences = step.sequences();
        int[] firstRows = new int[sequences];
        int[] counts = new int[sequences];
        int history = 0;
        for (int s = 0; s < sequences; s++) {
            firstRows[s] = history;
            counts[s] = step.startPositions()[s] + step.rowCounts()[s];
            history += counts[s];
        }
        AttentionBatch all = new AttentionBatch(sequences, firstRows, counts, new int[sequences], step.blockTables(),
                blockSize);
        float[] keys = RandomTensors.gaussian(history * kvCols, 1f, random);
        float[] values = RandomTensors.gaussian(history * kvCols, 1f, random);
        DeviceBuffer k = buffer(keys, history, kvCols);
        DeviceBuffer v = buffer(values, history, kvCols);
        cuda.storeKv(pool, layer, k, v, all);

        int rows = step.rows();
        float[] q = RandomTensors.gaussian(rows * heads * headDim, 1f, random);
        DeviceBuffer queries = buffer(q, rows, heads * headDim);
        DeviceBuffer out = poisoned(rows, heads * headDim);
        cuda.attention(out, queries, heads, pool, layer, step);
        float[] actual = read(out, rows);
        double scale = 1 / Math.sqrt(headDim);
        for (int s = 0; s < sequences; s++) {
            for (int i = 0; i < step.rowCounts()[s]; i++) {
                int row = step.firstRows()[s] + i;
                int position = step.startPositions()[s] + i;
                for (int h = 0; h < heads; h++) {
                    int kvHead = h / (heads / kvHeads);
                    double[] scores = new double[position + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t = 0; t <= position; t++) {
                        int at = (firstRows[s] + t) * kvCols + kvHead * headDim;
                        double dot = 0;
                        for (int d = 0; d < headDim; d++) {
                            dot += (double) q[(row * heads + h) * headDim + d] * keys[at + d];
                        }
                        scores[t] = dot * scale;
                        max = Math.max(max, scores[t]);
                    }
                    double sum = 0;
                    for (int t = 0; t <= position; t++) {
                        scores[t] = Math.exp(scores[t] - max);
                        sum += scores[t];
                    }
                    for (int d = 0; d < headDim; d++) {
                        double expected = 0;
                        double magnitude = 0;
                        for (int t = 0; t <= position; t++) {
                            double term = scores[t] / sum * values[(firstRows[s] + t) * kvCols + kvHead * headDim + d];
                            expected += term;
                            magnitude += Math.abs(term);
                        }
                        assertClose(expected, actual[(row * heads + h) * headDim + d], magnitude, 1e-4,
                                "attention row " + row + " head " + h + " dim " + d);
                    }
                }
            }
        }
        for (DeviceBuffer b : new DeviceBuffer[] {k, v, queries, out}) {
            b.release();
        }
        pool.release();
    }

    @Test
    void copyBandwidthIsMeasured() {
        double bandwidth = cuda.copyBandwidth(256L << 20, 5);
        assertTrue(bandwidth > 1e10, "device copies run at " + bandwidth / 1e9 + " GB/s");
    }

    private static void assertClose(double expected, float actual, double magnitude, double tolerance, String what) {
        double allowed = tolerance * Math.max(magnitude, 1e-3);
        assertTrue(Math.abs(expected - actual) <= allowed, () -> what + ": expected " + expected + ", got " + actual
                + " (allowed " + allowed + ")");
    }

    /** @return the tensor's values as the device layout holds them (the host statement of the kernels' decoding) */
    static double[][] decode(HostTensor tensor) {
        WeightLayout layout = WeightLayout.of(tensor.type(), tensor.rows(), tensor.cols());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment packed = arena.allocate(layout.byteSize(), 256);
            MemorySegment scales = packed.asSlice(layout.scalesOffset());
            layout.pack(tensor, 0, tensor.rows(), packed, scales);
            double[][] values = new double[tensor.rows()][tensor.cols()];
            for (int r = 0; r < tensor.rows(); r++) {
                for (int c = 0; c < tensor.cols(); c++) {
                    values[r][c] = layout.element(packed, scales, r, c);
                }
            }
            return values;
        }
    }

    private static DeviceBuffer buffer(float[] values, int rows, int cols) {
        DeviceBuffer buffer = cuda.allocate(rows, cols);
        cuda.write(buffer, values, rows);
        return buffer;
    }

    private static DeviceBuffer poisoned(int rows, int cols) {
        float[] nan = new float[rows * cols];
        Arrays.fill(nan, Float.NaN);
        return buffer(nan, rows, cols);
    }

    private static float[] read(DeviceBuffer buffer, int rows) {
        float[] values = new float[rows * buffer.cols()];
        cuda.read(buffer, rows, values);
        return values;
    }
}
