package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * {@code out[r] = W · in[r]} for a batch of rows, spread over the workers by output rows (rows of
 * {@code W}), so that every weight byte comes from memory once per call whatever the batch size.
 *
 * <p>A few rows (decode) use the format's fused kernel: weights are decoded in registers and multiplied on
 * the spot, once per batch row (the row's bytes come from memory once, then from L1). From
 * {@link TensorFormat#tiledFromRows()} rows on, {@link #TILE} weight rows at a time are decoded into a
 * per-worker float tile (L1/L2-resident) and multiplied with every batch row, two at a time, so the decoding
 * is paid once for the whole batch. Both paths add the same products in the same order, so a row's result
 * does not depend on the batch it was computed in.
 */
final class Matmul {

    /** Weight rows decoded together in the batched path. */
    private static final int TILE = 4;
    /** Tasks per thread: small enough chunks to even out threads that the OS runs unequally. */
    private static final int TASKS_PER_THREAD = 8;

    private Matmul() {
    }

    /**
     * @param in     {@code rows} rows of {@code weight.cols()} floats
     * @param out    {@code rows} rows of {@code weight.rows()} floats
     * @param vector whether to run the vector kernels
     */
    static void multiply(WorkerPool pool, CpuWeight weight, float[] in, float[] out, int rows, boolean vector) {
        int outRows = weight.rows();
        int chunk = Math.ceilDiv(Math.ceilDiv(outRows, pool.threads() * TASKS_PER_THREAD), TILE) * TILE;
        int tasks = Math.ceilDiv(outRows, chunk);
        if (vector && rows < weight.format().tiledFromRows() && weight.format().canDot(weight.cols())) {
            pool.run(tasks, (task, worker) -> multiplyFused(weight, in, out, rows, task * chunk,
                    Math.min(outRows, (task + 1) * chunk)));
        } else {
            pool.run(tasks, (task, worker) -> multiplyTiles(pool.scratch(worker, TILE * weight.cols()), weight, in,
                    out, rows, task * chunk, Math.min(outRows, (task + 1) * chunk), vector));
        }
    }

    private static void multiplyFused(CpuWeight weight, float[] in, float[] out, int rows, int start, int end) {
        TensorFormat format = weight.format();
        MemorySegment data = weight.data();
        long rowBytes = weight.rowBytes();
        int cols = weight.cols();
        int outRows = weight.rows();
        for (int i = start; i < end; i++) {
            // The row's bytes come from memory for the first input row and from L1 for the others.
            for (int r = 0; r < rows; r++) {
                out[r * outRows + i] = format.dot(data, i * rowBytes, in, r * cols, cols);
            }
        }
    }

    private static void multiplyTiles(float[] tile, CpuWeight weight, float[] in, float[] out, int rows, int start,
            int end, boolean vector) {
        TensorFormat format = weight.format();
        MemorySegment data = weight.data();
        long rowBytes = weight.rowBytes();
        int cols = weight.cols();
        int outRows = weight.rows();
        float[] results = new float[2 * TILE];
        float[] oddRuns = new float[2 * TILE];
        float[] lanes = new float[2 * TILE * Simd.LANES];
        for (int i = start; i < end; i += TILE) {
            int valid = Math.min(TILE, end - i);
            for (int t = 0; t < TILE; t++) {
                if (t < valid) {
                    format.dequantize(data, (i + t) * rowBytes, tile, t * cols, cols, vector);
                } else {
                    Arrays.fill(tile, t * cols, (t + 1) * cols, 0f);
                }
            }
            for (int r = 0; r < rows; r += 2) {
                boolean pair = r + 1 < rows;
                dotTile(tile, cols, in, r * cols, pair ? (r + 1) * cols : -1, results, oddRuns, lanes, vector);
                System.arraycopy(results, 0, out, r * outRows + i, valid);
                if (pair) {
                    System.arraycopy(results, TILE, out, (r + 1) * outRows + i, valid);
                }
            }
        }
    }

    /**
     * The dot products of the {@link #TILE} rows of {@code tile} with input row {@code a} (into
     * {@code results[0..4)}) and, unless {@code b < 0}, row {@code b} (into {@code results[4..8)}), in
     * {@link Simd}'s summation order: the even runs in one pass, the odd runs in a second, so that only 8
     * accumulators are live at a time.
     */
    private static void dotTile(float[] tile, int cols, float[] x, int a, int b, float[] results, float[] oddRuns,
            float[] lanes, boolean vector) {
        Arrays.fill(results, 0f);
        int bound = vector ? Simd.F.loopBound(cols) : 0;
        if (bound > 0) {
            if (b >= 0) {
                runs(tile, cols, x, a, b, false, bound, lanes, results);
                runs(tile, cols, x, a, b, true, bound, lanes, oddRuns);
            } else {
                runs(tile, cols, x, a, false, bound, lanes, results);
                runs(tile, cols, x, a, true, bound, lanes, oddRuns);
            }
            for (int i = 0; i < results.length; i++) {
                results[i] += oddRuns[i];
            }
        }
        for (int k = bound; k < cols; k++) {
            for (int t = 0; t < TILE; t++) {
                results[t] = Math.fma(tile[t * cols + k], x[a + k], results[t]);
                if (b >= 0) {
                    results[TILE + t] = Math.fma(tile[t * cols + k], x[b + k], results[TILE + t]);
                }
            }
        }
    }

    /**
     * Sums the products of the tile rows with input rows {@code a} and {@code b} over the even (or odd) runs of
     * 16 elements below {@code bound}: 8 accumulators, each weight load used twice. Sums of row a go to
     * {@code sums[0..4)}, of row b to {@code sums[4..8)}; {@code lanes} is scratch.
     */
    private static void runs(float[] tile, int cols, float[] x, int a, int b, boolean odd, int bound, float[] lanes,
            float[] sums) {
        FloatVector a0 = FloatVector.zero(Simd.F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        FloatVector b0 = a0;
        FloatVector b1 = a0;
        FloatVector b2 = a0;
        FloatVector b3 = a0;
        // One counted loop over the run's chunks: nested run/chunk loops cost C2 more than the arithmetic.
        for (int m = 0, chunks = Simd.runChunks(bound, odd); m < chunks; m++) {
            int k = Simd.runChunk(m, odd);
            {
                FloatVector xa = FloatVector.fromArray(Simd.F, x, a + k);
                FloatVector xb = FloatVector.fromArray(Simd.F, x, b + k);
                FloatVector w = FloatVector.fromArray(Simd.F, tile, k);
                a0 = w.fma(xa, a0);
                b0 = w.fma(xb, b0);
                w = FloatVector.fromArray(Simd.F, tile, cols + k);
                a1 = w.fma(xa, a1);
                b1 = w.fma(xb, b1);
                w = FloatVector.fromArray(Simd.F, tile, 2 * cols + k);
                a2 = w.fma(xa, a2);
                b2 = w.fma(xb, b2);
                w = FloatVector.fromArray(Simd.F, tile, 3 * cols + k);
                a3 = w.fma(xa, a3);
                b3 = w.fma(xb, b3);
            }
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, Simd.LANES);
        a2.intoArray(lanes, 2 * Simd.LANES);
        a3.intoArray(lanes, 3 * Simd.LANES);
        b0.intoArray(lanes, 4 * Simd.LANES);
        b1.intoArray(lanes, 5 * Simd.LANES);
        b2.intoArray(lanes, 6 * Simd.LANES);
        b3.intoArray(lanes, 7 * Simd.LANES);
        for (int i = 0; i < 2 * TILE; i++) {
            sums[i] = Simd.sum(lanes, i * Simd.LANES);
        }
    }

    /** As the two-row {@link #runs} for input row {@code a} alone (the odd one out); sums in {@code sums[0..4)}. */
    private static void runs(float[] tile, int cols, float[] x, int a, boolean odd, int bound, float[] lanes,
            float[] sums) {
        FloatVector a0 = FloatVector.zero(Simd.F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        for (int m = 0, chunks = Simd.runChunks(bound, odd); m < chunks; m++) {
            int k = Simd.runChunk(m, odd);
            {
                FloatVector xa = FloatVector.fromArray(Simd.F, x, a + k);
                a0 = FloatVector.fromArray(Simd.F, tile, k).fma(xa, a0);
                a1 = FloatVector.fromArray(Simd.F, tile, cols + k).fma(xa, a1);
                a2 = FloatVector.fromArray(Simd.F, tile, 2 * cols + k).fma(xa, a2);
                a3 = FloatVector.fromArray(Simd.F, tile, 3 * cols + k).fma(xa, a3);
            }
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, Simd.LANES);
        a2.intoArray(lanes, 2 * Simd.LANES);
        a3.intoArray(lanes, 3 * Simd.LANES);
        for (int i = 0; i < TILE; i++) {
            sums[i] = Simd.sum(lanes, i * Simd.LANES);
        }
    }
}
