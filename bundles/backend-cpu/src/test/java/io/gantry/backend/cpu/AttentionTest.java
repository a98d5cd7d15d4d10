package io.gantry.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gantry.api.backend.AttentionBatch;
import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.KvPool;
import io.gantry.api.backend.KvPoolSpec;
import io.gantry.api.backend.TensorType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * storeKv and attention through block tables: a shuffled table gives exactly what a contiguous one gives,
 * and both match causal grouped-query attention computed in float64 over contiguous keys and values (rounded to
 * half floats first for an F16 pool).
 */
class AttentionTest {

    private static final int HEADS = 4;
    private static final int KV_HEADS = 2;
    /** Blocks of each sequence's table: enough for the longest sequence at the smallest block size. */
    private static final int BLOCKS_PER_SEQUENCE = 11;
    private static final int BLOCKS = 40;
    private static final int LAYER = 1;
    /**
     * Three sequences: a prefill continuing at position 5, a fresh prefill of more rows than one attention task
     * takes, a decode at position 70 (its positions fill more than one chunk).
     */
    private static final int[] START_POSITIONS = {5, 0, 70};
    private static final int[] ROW_COUNTS = {3, 11, 1};
    private static final int[] FIRST_ROWS = {0, 3, 14};
    private static final int ROWS = 15;

    /**
     * Head sizes: 20 is a multiple of no vector width (the values' scalar tails), 64 of every one. Blocks of 7 and 8
     * slots: most blocks start inside a group of slots that the vector kernel scores together, and the groups it
     * multiplies together in fours lie in several blocks. Blocks of 16: whole key tiles. Blocks of 100: runs split
     * inside a block.
     */
    @ParameterizedTest(name = "vector={0}, headDim={1}, blockSize={2}, {3}")
    @CsvSource({"true, 20, 8, F32", "false, 20, 8, F32", "true, 64, 8, F32", "false, 64, 8, F32",
            "true, 64, 7, F32", "false, 64, 7, F32", "true, 64, 7, F16", "false, 20, 8, F16", "true, 20, 7, F16",
            "true, 64, 16, F16", "true, 64, 100, F32"})
    void shuffledBlockTablesGiveContiguousAttention(boolean vector, int headDim, int blockSize, TensorType type) {
        checkShuffledAndContiguousAttention(vector, headDim, blockSize, type, 1);
    }

    /**
     * Queries of 2^16 and more, with keys as much smaller (the same scores): the vector kernels multiply an F16
     * pool's queries by 2^112 ({@code Attention.scaleQueries}), which would make these infinite; they are scaled by
     * less, and attention comes out as for any other queries. Keys of 2^-17 also make subnormal halves.
     */
    @ParameterizedTest(name = "vector={0}, headDim={1}")
    @CsvSource({"true, 64", "false, 64", "true, 20"})
    void queriesBeyondTheHalfScalingAttendAsOthers(boolean vector, int headDim) {
        checkShuffledAndContiguousAttention(vector, headDim, 8, TensorType.F16, 0x1p-17f);
    }

    /** Keys are {@code keyScale} times gaussian ones, queries {@code 1 / keyScale} times. */
    private static void checkShuffledAndContiguousAttention(boolean vector, int headDim, int blockSize,
            TensorType type, float keyScale) {
        Random random = new Random(20);
        int kvCols = KV_HEADS * headDim;
        // Per sequence, keys and values of every position it has, and the queries of this step's rows.
        float[][] keys = new float[3][];
        float[][] values = new float[3][];
        for (int s = 0; s < 3; s++) {
            int length = START_POSITIONS[s] + ROW_COUNTS[s];
            keys[s] = TestTensors.gaussian(length * kvCols, random);
            values[s] = TestTensors.gaussian(length * kvCols, random);
            for (int i = 0; i < keys[s].length; i++) {
                keys[s][i] *= keyScale;
            }
        }
        float[] queries = TestTensors.gaussian(ROWS * HEADS * headDim, random);
        for (int i = 0; i < queries.length; i++) {
            queries[i] /= keyScale;
        }

        List<Integer> shuffledBlocks = new ArrayList<>();
        for (int b = 0; b < BLOCKS; b++) {
            shuffledBlocks.add(b);
        }
        Collections.shuffle(shuffledBlocks, random);
        int[][] contiguous = new int[3][BLOCKS_PER_SEQUENCE];
        int[][] shuffled = new int[3][BLOCKS_PER_SEQUENCE];
        for (int i = 0; i < 3 * BLOCKS_PER_SEQUENCE; i++) {
            contiguous[i / BLOCKS_PER_SEQUENCE][i % BLOCKS_PER_SEQUENCE] = i;
            shuffled[i / BLOCKS_PER_SEQUENCE][i % BLOCKS_PER_SEQUENCE] = shuffledBlocks.get(i);
        }

        try (CpuBackend backend = new CpuBackend(2, vector)) {
            float[] throughContiguous = attend(backend, type, contiguous, keys, values, queries, headDim, blockSize);
            float[] throughShuffled = attend(backend, type, shuffled, keys, values, queries, headDim, blockSize);
            assertArrayEquals(throughContiguous, throughShuffled, 0f);
            if (type == TensorType.F16) {
                for (float[][] stored : List.of(keys, values)) {
                    for (float[] sequence : stored) {
                        for (int i = 0; i < sequence.length; i++) {
                            sequence[i] = Float.float16ToFloat(Float.floatToFloat16(sequence[i]));
                        }
                    }
                }
            }
            float[] expected = reference(keys, values, queries, headDim);
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], throughShuffled[i], 1e-5, "element " + i);
            }
        }
    }

    /**
     * Keys and values beyond the half range saturate in an F16 pool: the position whose key overflows takes all of
     * the weight, and its value comes out as the largest half, not as an infinity or NaN.
     */
    @ParameterizedTest(name = "vector={0}")
    @ValueSource(booleans = {true, false})
    void halfPoolsSaturateKeysAndValuesBeyondTheHalfRange(boolean vector) {
        int headDim = 16;
        float[] keys = new float[2 * headDim];
        float[] values = new float[2 * headDim];
        Arrays.fill(keys, 0, headDim, 1e6f);
        Arrays.fill(values, 0, headDim, -1e9f);
        Arrays.fill(values, headDim, 2 * headDim, 1f);
        float[] query = new float[headDim];
        Arrays.fill(query, 1f);
        try (CpuBackend backend = new CpuBackend(1, vector)) {
            KvPool pool = backend.allocateKvPool(new KvPoolSpec(1, 1, headDim, 16, TensorType.F16));
            int[][] table = {{0}};
            backend.storeKv(pool, 0, BackendTestSupport.buffer(backend, keys, 2, headDim),
                    BackendTestSupport.buffer(backend, values, 2, headDim),
                    new AttentionBatch(1, new int[] {0}, new int[] {2}, new int[] {0}, table, 16));
            DeviceBuffer out = backend.allocate(1, headDim);
            backend.attention(out, BackendTestSupport.buffer(backend, query, 1, headDim), 1, pool, 0,
                    new AttentionBatch(1, new int[] {0}, new int[] {1}, new int[] {1}, table, 16));
            for (float element : BackendTestSupport.read(backend, out, 1)) {
                assertEquals(-65504f, element, "the largest negative half");
            }
            pool.release();
        }
    }

    private static float[] attend(CpuBackend backend, TensorType type, int[][] tables, float[][] keys,
            float[][] values, float[] queries, int headDim, int blockSize) {
        int kvCols = KV_HEADS * headDim;
        KvPool pool = backend.allocateKvPool(new KvPoolSpec(2, KV_HEADS, headDim, BLOCKS * blockSize, type));
        // Store each sequence's history (earlier steps) and this step's rows in one storeKv call.
        int[] lengths = new int[3];
        int[] firstRows = new int[3];
        int totalRows = 0;
        for (int s = 0; s < 3; s++) {
            lengths[s] = START_POSITIONS[s] + ROW_COUNTS[s];
            firstRows[s] = totalRows;
            totalRows += lengths[s];
        }
        float[] allKeys = new float[totalRows * kvCols];
        float[] allValues = new float[totalRows * kvCols];
        for (int s = 0; s < 3; s++) {
            System.arraycopy(keys[s], 0, allKeys, firstRows[s] * kvCols, keys[s].length);
            System.arraycopy(values[s], 0, allValues, firstRows[s] * kvCols, values[s].length);
        }
        AttentionBatch history = new AttentionBatch(3, firstRows, lengths, new int[3], tables, blockSize);
        backend.storeKv(pool, LAYER, BackendTestSupport.buffer(backend, allKeys, totalRows, kvCols),
                BackendTestSupport.buffer(backend, allValues, totalRows, kvCols), history);

        AttentionBatch step = new AttentionBatch(3, FIRST_ROWS, ROW_COUNTS, START_POSITIONS, tables, blockSize);
        DeviceBuffer q = BackendTestSupport.buffer(backend, queries, ROWS, HEADS * headDim);
        DeviceBuffer out = backend.allocate(ROWS, HEADS * headDim);
        backend.attention(out, q, HEADS, pool, LAYER, step);
        pool.release();
        return BackendTestSupport.read(backend, out, ROWS);
    }

    private static float[] reference(float[][] keys, float[][] values, float[] queries, int headDim) {
        int kvCols = KV_HEADS * headDim;
        float[] out = new float[ROWS * HEADS * headDim];
        for (int s = 0; s < 3; s++) {
            for (int j = 0; j < ROW_COUNTS[s]; j++) {
                int row = FIRST_ROWS[s] + j;
                int position = START_POSITIONS[s] + j;
                for (int h = 0; h < HEADS; h++) {
                    int kvHead = h / (HEADS / KV_HEADS);
                    int q = (row * HEADS + h) * headDim;
                    double[] scores = new double[position + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t = 0; t <= position; t++) {
                        double dot = 0;
                        for (int d = 0; d < headDim; d++) {
                            dot += (double) queries[q + d] * keys[s][t * kvCols + kvHead * headDim + d];
                        }
                        scores[t] = dot / Math.sqrt(headDim);
                        max = Math.max(max, scores[t]);
                    }
                    double sum = 0;
                    for (int t = 0; t <= position; t++) {
                        scores[t] = Math.exp(scores[t] - max);
                        sum += scores[t];
                    }
                    for (int d = 0; d < headDim; d++) {
                        double o = 0;
                        for (int t = 0; t <= position; t++) {
                            o += scores[t] / sum * values[s][t * kvCols + kvHead * headDim + d];
                        }
                        out[q + d] = (float) o;
                    }
                }
            }
        }
        return out;
    }
}
