package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * {@code out[r] = W · in[r]} for a batch of rows, spread over the workers by output rows (rows of
 * {@code W}), so that every weight byte comes from memory once per call whatever the batch size.
 *
 * <p>One row ({@code rows == 1}, decode) uses the format's fused kernel: weights are decoded in registers
 * and multiplied on the spot, which keeps up with memory bandwidth. Several rows decode {@link #TILE}
 * weight rows at a time into a per-worker float tile (L1/L2-resident) and multiply it with every batch
 * row, two at a time, so the decoding cost is paid once for the whole batch. Both paths add the same
 * products in the same order, so a row's result does not depend on the batch it was computed in.
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
        if (rows == 1 && vector && weight.format().canDot(weight.cols())) {
            pool.run(tasks, (task, worker) -> multiplyOne(weight, in, out, task * chunk,
                    Math.min(outRows, (task + 1) * chunk)));
        } else {
            pool.run(tasks, (task, worker) -> multiplyTiles(pool.scratch(worker, TILE * weight.cols()), weight, in,
                    out, rows, task * chunk, Math.min(outRows, (task + 1) * chunk), vector));
        }
    }

    private static void multiplyOne(CpuWeight weight, float[] in, float[] out, int start, int end) {
        TensorFormat format = weight.format();
        MemorySegment data = weight.data();
        long rowBytes = weight.rowBytes();
        int cols = weight.cols();
        for (int i = start; i < end; i++) {
            out[i] = format.dot(data, i * rowBytes, in, 0, cols);
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
        for (int i = start; i < end; i += TILE) {
            int valid = Math.min(TILE, end - i);
            for (int t = 0; t < TILE; t++) {
                if (t < valid) {
                    format.dequantize(data, (i + t) * rowBytes, tile, t * cols, cols, vector);
                } else {
                    Arrays.fill(tile, t * cols, (t + 1) * cols, 0f);
                }
            }
            int r = 0;
            for (; r + 1 < rows; r += 2) {
                dotTile2(tile, cols, in, r * cols, (r + 1) * cols, results, vector);
                System.arraycopy(results, 0, out, r * outRows + i, valid);
                System.arraycopy(results, TILE, out, (r + 1) * outRows + i, valid);
            }
            if (r < rows) {
                dotTile1(tile, cols, in, r * cols, results, vector);
                System.arraycopy(results, 0, out, r * outRows + i, valid);
            }
        }
    }

    /**
     * The dot products of the {@link #TILE} rows of {@code tile} with two input rows: 8 accumulators, each
     * weight load used twice. Results: row a in {@code results[0..4)}, row b in {@code results[4..8)}.
     */
    private static void dotTile2(float[] tile, int cols, float[] x, int a, int b, float[] results, boolean vector) {
        int k = 0;
        Arrays.fill(results, 0f);
        if (vector) {
            FloatVector a0 = FloatVector.zero(Simd.F);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            FloatVector b0 = a0;
            FloatVector b1 = a0;
            FloatVector b2 = a0;
            FloatVector b3 = a0;
            for (int bound = Simd.F.loopBound(cols); k < bound; k += Simd.LANES) {
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
            results[0] = Simd.sum(a0);
            results[1] = Simd.sum(a1);
            results[2] = Simd.sum(a2);
            results[3] = Simd.sum(a3);
            results[4] = Simd.sum(b0);
            results[5] = Simd.sum(b1);
            results[6] = Simd.sum(b2);
            results[7] = Simd.sum(b3);
        }
        for (; k < cols; k++) {
            for (int t = 0; t < TILE; t++) {
                results[t] = Math.fma(tile[t * cols + k], x[a + k], results[t]);
                results[TILE + t] = Math.fma(tile[t * cols + k], x[b + k], results[TILE + t]);
            }
        }
    }

    /** As {@link #dotTile2} for one input row (the odd one out); results in {@code results[0..4)}. */
    private static void dotTile1(float[] tile, int cols, float[] x, int a, float[] results, boolean vector) {
        int k = 0;
        Arrays.fill(results, 0f);
        if (vector) {
            FloatVector a0 = FloatVector.zero(Simd.F);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            for (int bound = Simd.F.loopBound(cols); k < bound; k += Simd.LANES) {
                FloatVector xa = FloatVector.fromArray(Simd.F, x, a + k);
                a0 = FloatVector.fromArray(Simd.F, tile, k).fma(xa, a0);
                a1 = FloatVector.fromArray(Simd.F, tile, cols + k).fma(xa, a1);
                a2 = FloatVector.fromArray(Simd.F, tile, 2 * cols + k).fma(xa, a2);
                a3 = FloatVector.fromArray(Simd.F, tile, 3 * cols + k).fma(xa, a3);
            }
            results[0] = Simd.sum(a0);
            results[1] = Simd.sum(a1);
            results[2] = Simd.sum(a2);
            results[3] = Simd.sum(a3);
        }
        for (; k < cols; k++) {
            for (int t = 0; t < TILE; t++) {
                results[t] = Math.fma(tile[t * cols + k], x[a + k], results[t]);
            }
        }
    }
}
