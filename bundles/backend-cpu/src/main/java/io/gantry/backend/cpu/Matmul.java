package io.gantry.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;

/**
 * {@code out[r] = W · in[r]} for a batch of rows, spread over the workers by output rows (rows of
 * {@code W}), so that every weight byte comes from memory once per call whatever the batch size.
 *
 * <p>A few rows (decode) use the format's fused kernel: weights are decoded in registers and multiplied on
 * the spot, once per batch row (the row's bytes come from memory once, then from L1). From
 * {@link TensorFormat#tiledFromRows()} rows on, {@link #TILE} weight rows at a time are decoded into a
 * per-worker float tile and multiplied with every batch row, {@link #GROUP} at a time, so the decoding is paid
 * once for the whole batch. Both paths add the same products in the same order, so a row's result does not
 * depend on the batch it was computed in.
 *
 * <p>The tiled kernel reads its operands from off-heap copies whose rows start on cache lines: the batch,
 * copied once per call, and the tile. A vector load from a float array straddles two cache lines whenever the
 * array happens to lie off a line boundary (the JVM aligns arrays to 8 bytes only), which makes the kernel
 * up to twice as slow (measured on Zen 4).
 *
 * <p>Weights with a repacked copy ({@link PackedWeight}) are multiplied by its kernels at every batch size.
 *
 * <p>One multiplication at a time: the staged batch and the tiles are this object's, and the workers run one
 * loop at a time anyway.
 */
final class Matmul {

    /** Weight rows decoded together in the batched path and multiplied together by its kernel. */
    private static final int TILE = 4;
    /**
     * Batch rows the batched kernel multiplies together: {@code TILE × GROUP} accumulators, so that each vector
     * loaded feeds four FMAs (a core loads about one vector per FMA it can issue). With the four batch vectors
     * and a weight vector, 21 of AVX-512's 32 registers.
     */
    private static final int GROUP = 4;
    /** Accumulators of the batched kernel per run parity. */
    private static final int BLOCK = TILE * GROUP;
    /** Where {@link Simd#sums} leaves the sum of each of the batched kernel's accumulators, in its order. */
    private static final int[] SUM_INDEX = IntStream.range(0, BLOCK).map(Simd::sumIndex).toArray();
    /** Tasks per thread: small enough chunks to even out threads that the OS runs unequally. */
    private static final int TASKS_PER_THREAD = 8;
    /** Floats of a batch from which the workers stage it; the caller copies smaller ones in microseconds. */
    private static final int PARALLEL_STAGING = 1 << 16;
    /** Floats in a cache line: the rows of the staged batch and of the tiles start on one. */
    private static final int LINE = 16;
    /** The byte order of the floats copied to the staged batch and the tiles ({@link ValueLayout#JAVA_FLOAT}). */
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private final WorkerPool pool;
    /** Each worker's tile: {@link #TILE} decoded weight rows. */
    private final MemorySegment[] tiles;
    /** Each worker's accumulators of the batched kernel, even runs' then odd runs', for {@link Simd#sums}. */
    private final float[][] lanes;
    /** The batch, staged for the tiled kernel. */
    private MemorySegment staged = MemorySegment.NULL;
    /** The batch, quantized for the packed kernels that multiply integers. */
    private final BatchQuants quants = new BatchQuants();

    Matmul(WorkerPool pool) {
        this.pool = pool;
        this.tiles = new MemorySegment[pool.threads()];
        Arrays.fill(tiles, MemorySegment.NULL);
        this.lanes = new float[pool.threads()][2 * BLOCK * Simd.LANES];
    }

    /**
     * @param in     {@code rows} rows of {@code weight.cols()} floats
     * @param out    {@code rows} rows of {@code weight.rows()} floats
     * @param vector whether to run the vector kernels
     */
    synchronized void multiply(CpuWeight weight, float[] in, float[] out, int rows, boolean vector) {
        int outRows = weight.rows();
        int cols = weight.cols();
        int chunk = Math.ceilDiv(Math.ceilDiv(outRows, pool.threads() * TASKS_PER_THREAD), TILE) * TILE;
        int tasks = Math.ceilDiv(outRows, chunk);
        PackedWeight packed = vector ? weight.packed() : null;
        if (packed != null) {
            if (packed.batchForm() != PackedWeight.BatchForm.FLOATS) {
                quants.quantize(in, rows, cols, packed.batchForm(), pool);
            }
            int groups = outRows / packed.groupRows();
            int perTask = Math.ceilDiv(groups, pool.threads() * TASKS_PER_THREAD);
            int step = perTask * packed.groupRows();
            int scratch = packed.scratchFloats(rows);
            int tile = packed.tileFloats(rows);
            pool.run(Math.ceilDiv(groups, perTask), (task, worker) -> packed.multiply(in, quants, out, rows, outRows,
                    task * step, Math.min(outRows, (task + 1) * step), pool.scratch(worker, scratch),
                    tile(worker, tile)));
        } else if (!vector) {
            pool.run(tasks, (task, worker) -> multiplyScalar(pool.scratch(worker, cols), weight, in, out, rows,
                    task * chunk, Math.min(outRows, (task + 1) * chunk)));
        } else if (rows < weight.format().tiledFromRows() && weight.format().canDot(cols)) {
            pool.run(tasks, (task, worker) -> multiplyFused(weight, in, out, rows, task * chunk,
                    Math.min(outRows, (task + 1) * chunk)));
        } else {
            int stride = Math.ceilDiv(cols, LINE) * LINE;
            MemorySegment batch = stage(in, rows, cols, stride);
            pool.run(tasks, (task, worker) -> multiplyTiles(tile(worker, TILE * stride), pool.scratch(worker, cols),
                    lanes[worker], weight, batch, stride, out, rows, task * chunk,
                    Math.min(outRows, (task + 1) * chunk)));
        }
    }

    /** @return {@code in}'s rows copied to {@link #staged}, {@code stride} floats apart */
    private MemorySegment stage(float[] in, int rows, int cols, int stride) {
        if (staged.byteSize() < 4L * rows * stride) {
            staged = Arena.ofAuto().allocate(4L * rows * stride, 4 * LINE);
        }
        MemorySegment batch = staged;
        if ((long) rows * cols < PARALLEL_STAGING) {
            for (int r = 0; r < rows; r++) {
                MemorySegment.copy(in, r * cols, batch, ValueLayout.JAVA_FLOAT, 4L * r * stride, cols);
            }
        } else {
            // 128 rows of 2048 on one thread: some 50 us, a twentieth of their multiplication by a 256-row weight.
            pool.run(rows, (r, worker) -> MemorySegment.copy(in, r * cols, batch, ValueLayout.JAVA_FLOAT,
                    4L * r * stride, cols));
        }
        return batch;
    }

    /** @return worker {@code worker}'s tile, at least {@code floats} long */
    private MemorySegment tile(int worker, int floats) {
        if (tiles[worker].byteSize() < 4L * floats) {
            tiles[worker] = Arena.ofAuto().allocate(4L * floats, 4 * LINE);
        }
        return tiles[worker];
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

    /** The scalar reference: each weight row decoded into {@code row}, then multiplied with every batch row. */
    private static void multiplyScalar(float[] row, CpuWeight weight, float[] in, float[] out, int rows, int start,
            int end) {
        TensorFormat format = weight.format();
        int cols = weight.cols();
        int outRows = weight.rows();
        for (int i = start; i < end; i++) {
            format.dequantize(weight.data(), i * weight.rowBytes(), row, 0, cols, false);
            for (int r = 0; r < rows; r++) {
                out[r * outRows + i] = Simd.dot(row, 0, in, r * cols, cols, false);
            }
        }
    }

    /**
     * Output rows {@code start..end} for every batch row, {@link #TILE} weight rows at a time: decoded into
     * {@code row} and copied into {@code tile} (decoding straight into a segment would be faster, but see
     * {@link Simd}), then multiplied with the batch {@link #GROUP} rows at a time.
     */
    private static void multiplyTiles(MemorySegment tile, float[] row, float[] lanes, CpuWeight weight,
            MemorySegment batch, int stride, float[] out, int rows, int start, int end) {
        TensorFormat format = weight.format();
        MemorySegment data = weight.data();
        long rowBytes = weight.rowBytes();
        int cols = weight.cols();
        int outRows = weight.rows();
        int bound = Simd.F.loopBound(cols);
        for (int i = start; i < end; i += TILE) {
            int valid = Math.min(TILE, end - i);
            for (int t = 0; t < TILE; t++) {
                if (t < valid) {
                    format.dequantize(data, (i + t) * rowBytes, row, 0, cols, true);
                    MemorySegment.copy(row, 0, tile, ValueLayout.JAVA_FLOAT, 4L * t * stride, cols);
                } else {
                    tile.asSlice(4L * t * stride, 4L * stride).fill((byte) 0);
                }
            }
            for (int r = 0; r < rows; r += GROUP) {
                int groupRows = Math.min(GROUP, rows - r);
                if (groupRows == GROUP) {
                    long x0 = 4L * r * stride;
                    multiplyBlock(tile, 4L * stride, batch, x0, x0 + 4L * stride, x0 + 8L * stride,
                            x0 + 12L * stride, false, bound, lanes, 0);
                    multiplyBlock(tile, 4L * stride, batch, x0, x0 + 4L * stride, x0 + 8L * stride,
                            x0 + 12L * stride, true, bound, lanes, BLOCK * Simd.LANES);
                } else {
                    // A last group short of rows multiplies each of its rows alone: the accumulators of the missing
                    // rows keep stale values, whose sums are dropped (each sum comes from its own vector only).
                    for (int g = 0; g < groupRows; g++) {
                        long x = 4L * (r + g) * stride;
                        multiplyColumn(tile, 4L * stride, batch, x, false, bound, lanes, g * Simd.LANES);
                        multiplyColumn(tile, 4L * stride, batch, x, true, bound, lanes,
                                (BLOCK + g) * Simd.LANES);
                    }
                }
                Simd.sums(lanes, 0, 2 * BLOCK);
                // As Simd.dot adds: the even runs' sum plus the odd runs', then the tail one by one. The odd runs'
                // sums lie BLOCK floats after the even runs' (BLOCK is a multiple of LANES), so one vector addition
                // adds LANES pairs. Done for speed: per result, scalar additions with their index arithmetic and an
                // empty tail loop cost 10% of a 128-row multiplication at 768 columns (Zen 4).
                for (int v = 0; v < BLOCK; v += Simd.LANES) {
                    FloatVector.fromArray(Simd.F, lanes, v).add(FloatVector.fromArray(Simd.F, lanes, BLOCK + v))
                            .intoArray(lanes, v);
                }
                for (int t = 0; t < valid; t++) {
                    for (int g = 0; g < groupRows; g++) {
                        out[(r + g) * outRows + i + t] = lanes[SUM_INDEX[t * GROUP + g]];
                    }
                }
                if (bound < cols) {
                    addTails(tile, batch, stride, out, outRows, i, valid, r, groupRows, bound, cols);
                }
            }
        }
    }

    /**
     * Adds to the results of tile rows {@code 0..valid} (output rows {@code i...}) and batch rows
     * {@code r..r+groupRows} the products of the elements from {@code bound} to {@code cols}, which fill no vector,
     * one by one in order.
     */
    private static void addTails(MemorySegment tile, MemorySegment batch, int stride, float[] out, int outRows, int i,
            int valid, int r, int groupRows, int bound, int cols) {
        for (int t = 0; t < valid; t++) {
            for (int g = 0; g < groupRows; g++) {
                int at = (r + g) * outRows + i + t;
                float result = out[at];
                for (int k = bound; k < cols; k++) {
                    result = Math.fma(tile.getAtIndex(ValueLayout.JAVA_FLOAT, (long) t * stride + k),
                            batch.getAtIndex(ValueLayout.JAVA_FLOAT, (long) (r + g) * stride + k), result);
                }
                out[at] = result;
            }
        }
    }

    /**
     * The dot products of the {@link #TILE} tile rows, {@code rowBytes} apart, with the four batch rows at byte
     * offsets {@code x0..x3} over the even (or odd) runs of 16 elements below {@code bound}, in {@link Simd}'s
     * order: 16 accumulators, each vector loaded used four times. Stores accumulator {@code GROUP t + g} (tile row
     * {@code t}, batch row {@code g}) at {@code lanes[at + LANES (GROUP t + g)]}.
     */
    private static void multiplyBlock(MemorySegment tile, long rowBytes, MemorySegment batch, long x0, long x1,
            long x2, long x3, boolean odd, int bound, float[] lanes, int at) {
        FloatVector a00 = FloatVector.zero(Simd.F);
        FloatVector a01 = a00;
        FloatVector a02 = a00;
        FloatVector a03 = a00;
        FloatVector a10 = a00;
        FloatVector a11 = a00;
        FloatVector a12 = a00;
        FloatVector a13 = a00;
        FloatVector a20 = a00;
        FloatVector a21 = a00;
        FloatVector a22 = a00;
        FloatVector a23 = a00;
        FloatVector a30 = a00;
        FloatVector a31 = a00;
        FloatVector a32 = a00;
        FloatVector a33 = a00;
        // One counted loop over the run's chunks: nested run/chunk loops cost C2 more than the arithmetic.
        for (int m = 0, chunks = Simd.runChunks(bound, odd); m < chunks; m++) {
            long k = 4L * Simd.runChunk(m, odd);
            FloatVector v0 = load(batch, x0 + k);
            FloatVector v1 = load(batch, x1 + k);
            FloatVector v2 = load(batch, x2 + k);
            FloatVector v3 = load(batch, x3 + k);
            FloatVector w = load(tile, k);
            a00 = w.fma(v0, a00);
            a01 = w.fma(v1, a01);
            a02 = w.fma(v2, a02);
            a03 = w.fma(v3, a03);
            w = load(tile, rowBytes + k);
            a10 = w.fma(v0, a10);
            a11 = w.fma(v1, a11);
            a12 = w.fma(v2, a12);
            a13 = w.fma(v3, a13);
            w = load(tile, 2 * rowBytes + k);
            a20 = w.fma(v0, a20);
            a21 = w.fma(v1, a21);
            a22 = w.fma(v2, a22);
            a23 = w.fma(v3, a23);
            w = load(tile, 3 * rowBytes + k);
            a30 = w.fma(v0, a30);
            a31 = w.fma(v1, a31);
            a32 = w.fma(v2, a32);
            a33 = w.fma(v3, a33);
        }
        int n = Simd.LANES;
        a00.intoArray(lanes, at);
        a01.intoArray(lanes, at + n);
        a02.intoArray(lanes, at + 2 * n);
        a03.intoArray(lanes, at + 3 * n);
        a10.intoArray(lanes, at + 4 * n);
        a11.intoArray(lanes, at + 5 * n);
        a12.intoArray(lanes, at + 6 * n);
        a13.intoArray(lanes, at + 7 * n);
        a20.intoArray(lanes, at + 8 * n);
        a21.intoArray(lanes, at + 9 * n);
        a22.intoArray(lanes, at + 10 * n);
        a23.intoArray(lanes, at + 11 * n);
        a30.intoArray(lanes, at + 12 * n);
        a31.intoArray(lanes, at + 13 * n);
        a32.intoArray(lanes, at + 14 * n);
        a33.intoArray(lanes, at + 15 * n);
    }

    /**
     * As {@link #multiplyBlock} for one batch row, at byte offset {@code x}: the products of a group short of rows,
     * in the same order, so a row's results do not depend on the group it was in. Stores the accumulator of tile row
     * {@code t} at {@code lanes[at + LANES GROUP t]}, where {@link #multiplyBlock} stores the group's first row's.
     */
    private static void multiplyColumn(MemorySegment tile, long rowBytes, MemorySegment batch, long x, boolean odd,
            int bound, float[] lanes, int at) {
        FloatVector a0 = FloatVector.zero(Simd.F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        for (int m = 0, chunks = Simd.runChunks(bound, odd); m < chunks; m++) {
            long k = 4L * Simd.runChunk(m, odd);
            FloatVector v = load(batch, x + k);
            a0 = load(tile, k).fma(v, a0);
            a1 = load(tile, rowBytes + k).fma(v, a1);
            a2 = load(tile, 2 * rowBytes + k).fma(v, a2);
            a3 = load(tile, 3 * rowBytes + k).fma(v, a3);
        }
        int n = Simd.LANES * GROUP;
        a0.intoArray(lanes, at);
        a1.intoArray(lanes, at + n);
        a2.intoArray(lanes, at + 2 * n);
        a3.intoArray(lanes, at + 3 * n);
    }

    private static FloatVector load(MemorySegment segment, long offset) {
        return FloatVector.fromMemorySegment(Simd.F, segment, offset, NATIVE);
    }
}
