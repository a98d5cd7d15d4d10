package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * A packed weight whose kernels decode it to floats and multiply those by FMA: output rows in units of
 * {@link #GROUPS} groups of {@link Simd#LANES}, column {@code k}'s weights of a group one vector
 * ({@link #column}), each multiplied by a batch row's element {@code k}, broadcast. The formats say how a unit's
 * columns are stored and decoded; the kernels are theirs in common.
 *
 * <p>Batches of fewer than {@link #BATCH_ROWS} rows (decode) are multiplied row by row, four groups at a time:
 * four FMA chains keep enough loads in flight to stream the weight from memory (MatmulBenchmark, F16, 2048 columns
 * by 768 rows, 50 copies, one thread: 16.5 GFLOP/s with two chains, 22 with four). Larger ones {@link #BATCH_ROWS} rows and two groups at a time: each decoded
 * vector feeds eight FMAs. Up to {@link #TILED_FROM_ROWS} rows each such call decodes the weights it multiplies; from
 * there on each {@link #CHUNK} columns of a unit are decoded once into the worker's tile and multiplied from there
 * with the whole batch. Decoding costs a conversion and a multiplication per vector on the units the FMAs use,
 * which a batch of 128 rows then pays once instead of sixteen times; in a small batch the separate decoding pass
 * costs more than it saves. MatmulBenchmark, 2 threads, Zen 4: see {@link #TILED_FROM_ROWS}.
 *
 * <p>Order: each output adds its products in column order in one FMA chain, starting from zero; a decoded weight
 * is the same float on every path, and between calls a partial sum rests in the output array unrounded. So a
 * row's results do not depend on its batch.
 */
abstract sealed class PackedFloatWeight extends PackedWeight permits PackedQ8_0, PackedF16 {

    static final int LANES = Simd.LANES;
    /** Groups of {@link #LANES} output rows in a unit. */
    static final int GROUPS = 4;
    /** Output rows of a unit: the kernels produce them together. */
    static final int UNIT_ROWS = GROUPS * LANES;
    /** Batch rows the wide kernel multiplies together (with two groups: 16 accumulators). */
    private static final int BATCH_ROWS = 8;
    /**
     * Batch rows from which the weights are decoded once into a tile. MatmulBenchmark, 2048 columns by 768 rows,
     * 2 threads, Zen 4, GFLOP/s at 8, 16, 32 and 128 rows: Q8_0 decoding per eight rows 115, 149, 150, 165 and so
     * 130, 144, 157, 172; F16 (row-major tiles before) 54, 89, 102, 120 and so 88, 119, 142, 175. At 16 rows tiles
     * and decoding per eight rows were within the noise of each other. (Measured with the two paths in one branching
     * kernel, before they were split, see {@link #multiply}; the split kernels are yet to be measured as carefully.)
     */
    private static final int TILED_FROM_ROWS = 32;
    /**
     * Columns of a unit decoded together into the tile, a multiple of {@link PackedWeight#BLOCK}: their floats
     * (16 KiB at 16 lanes) and those of {@link #BATCH_ROWS} batch rows (2 KiB) stay in L1.
     */
    private static final int CHUNK = 64;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** Bytes of one unit: its columns in order. */
    final long unitBytes;

    PackedFloatWeight(long unitBytes, int rows, int cols) {
        super(unitBytes * (rows / UNIT_ROWS), cols);
        this.unitBytes = unitBytes;
    }

    /** @return whether the packed kernels can take a weight of {@code rows} rows: whole units */
    static boolean packsRows(int rows) {
        return Simd.AVAILABLE && rows % UNIT_ROWS == 0;
    }

    /**
     * @return the weights of group {@code group} (of {@link #GROUPS}) for column {@code k} of the unit at byte
     *         offset {@code at}, decoded
     */
    abstract FloatVector column(long at, int k, int group);

    @Override
    final int groupRows() {
        return UNIT_ROWS;
    }

    @Override
    final BatchForm batchForm() {
        return BatchForm.FLOATS;
    }

    @Override
    final int scratchFloats(int rows) {
        return 0;
    }

    @Override
    final int tileFloats(int rows) {
        return rows < TILED_FROM_ROWS ? 0 : CHUNK * UNIT_ROWS;
    }

    /**
     * Per unit, its outputs zeroed, then {@link #BATCH_ROWS} batch rows at a time and the rest one by one: over all
     * columns, decoding as the kernels go, or from {@link #TILED_FROM_ROWS} rows chunk by chunk of columns decoded
     * into {@code tile}. The two cases have kernels of their own: with a branch between both kinds of weights in
     * one loop, C2 compiled the decoding kernels after a prefill into code that decoded a token 6 times slower
     * (bench-1b F16).
     */
    @Override
    final void multiply(float[] in, BatchQuants quants, float[] out, int rows, int outRows, int start, int end,
            float[] scratch, MemorySegment tile) {
        boolean tiled = rows >= TILED_FROM_ROWS;
        for (int unit = start / UNIT_ROWS; unit < end / UNIT_ROWS; unit++) {
            long at = unit * unitBytes;
            int o = unit * UNIT_ROWS;
            for (int r = 0; r < rows; r++) {
                Arrays.fill(out, r * outRows + o, r * outRows + o + UNIT_ROWS, 0f);
            }
            if (!tiled) {
                int r = 0;
                for (; r + BATCH_ROWS <= rows; r += BATCH_ROWS) {
                    for (int group = 0; group < GROUPS; group += 2) {
                        multiplyEight(at, group, in, r * cols, out, r * outRows + o + group * LANES, outRows);
                    }
                }
                for (; r < rows; r++) {
                    multiplyOne(at, in, r * cols, out, r * outRows + o);
                }
                continue;
            }
            for (int first = 0; first < cols; first += CHUNK) {
                int columns = Math.min(CHUNK, cols - first);
                decode(at, first, columns, tile);
                int r = 0;
                for (; r + BATCH_ROWS <= rows; r += BATCH_ROWS) {
                    for (int group = 0; group < GROUPS; group += 2) {
                        multiplyEight(tile, columns, group, in, r * cols + first, cols, out,
                                r * outRows + o + group * LANES, outRows);
                    }
                }
                for (; r < rows; r++) {
                    multiplyOne(tile, columns, in, r * cols + first, out, r * outRows + o);
                }
            }
        }
    }

    /**
     * Decodes columns {@code first..first+columns} of the unit at byte offset {@code at} into {@code tile}: column
     * {@code first + k}'s group {@code g} at float {@code UNIT_ROWS k + LANES g}.
     */
    private void decode(long at, int first, int columns, MemorySegment tile) {
        for (int k = 0; k < columns; k++) {
            for (int group = 0; group < GROUPS; group++) {
                column(at, first + k, group).intoMemorySegment(tile, 4L * (UNIT_ROWS * k + LANES * group), NATIVE);
            }
        }
    }

    /** @return column {@code k}'s group {@code group} of the decoded columns in {@code tile} */
    private static FloatVector decoded(MemorySegment tile, int k, int group) {
        return FloatVector.fromMemorySegment(Simd.F, tile, 4L * (UNIT_ROWS * k + LANES * group), NATIVE);
    }

    /**
     * Adds to the outputs at {@code out[o]} the products of the unit at byte offset {@code at}, decoded column by
     * column, with the batch row's elements at {@code in[x]}.
     */
    private void multiplyOne(long at, float[] in, int x, float[] out, int o) {
        FloatVector a = FloatVector.fromArray(Simd.F, out, o);
        FloatVector b = FloatVector.fromArray(Simd.F, out, o + LANES);
        FloatVector c = FloatVector.fromArray(Simd.F, out, o + 2 * LANES);
        FloatVector d = FloatVector.fromArray(Simd.F, out, o + 3 * LANES);
        for (int k = 0; k < cols; k++) {
            FloatVector e = FloatVector.broadcast(Simd.F, in[x + k]);
            a = column(at, k, 0).fma(e, a);
            b = column(at, k, 1).fma(e, b);
            c = column(at, k, 2).fma(e, c);
            d = column(at, k, 3).fma(e, d);
        }
        a.intoArray(out, o);
        b.intoArray(out, o + LANES);
        c.intoArray(out, o + 2 * LANES);
        d.intoArray(out, o + 3 * LANES);
    }

    /**
     * Adds to the outputs at {@code out[o]} the products of {@code columns} decoded columns in {@code tile} with the
     * batch row's elements at {@code in[x]}.
     */
    private static void multiplyOne(MemorySegment tile, int columns, float[] in, int x, float[] out, int o) {
        FloatVector a = FloatVector.fromArray(Simd.F, out, o);
        FloatVector b = FloatVector.fromArray(Simd.F, out, o + LANES);
        FloatVector c = FloatVector.fromArray(Simd.F, out, o + 2 * LANES);
        FloatVector d = FloatVector.fromArray(Simd.F, out, o + 3 * LANES);
        for (int k = 0; k < columns; k++) {
            FloatVector e = FloatVector.broadcast(Simd.F, in[x + k]);
            a = decoded(tile, k, 0).fma(e, a);
            b = decoded(tile, k, 1).fma(e, b);
            c = decoded(tile, k, 2).fma(e, c);
            d = decoded(tile, k, 3).fma(e, d);
        }
        a.intoArray(out, o);
        b.intoArray(out, o + LANES);
        c.intoArray(out, o + 2 * LANES);
        d.intoArray(out, o + 3 * LANES);
    }

    /**
     * As {@link #multiplyOne(long, float[], int, float[], int)} for groups {@code group} and {@code group + 1} and
     * eight batch rows from {@code in[x]}, {@code cols} apart, outputs from {@code out[o]}, {@code outRows} apart:
     * each decoded weight vector feeds eight FMAs.
     */
    private void multiplyEight(long at, int group, float[] in, int x, float[] out, int o, int outRows) {
        FloatVector a0 = FloatVector.fromArray(Simd.F, out, o);
        FloatVector b0 = FloatVector.fromArray(Simd.F, out, o + LANES);
        FloatVector a1 = FloatVector.fromArray(Simd.F, out, o + outRows);
        FloatVector b1 = FloatVector.fromArray(Simd.F, out, o + outRows + LANES);
        FloatVector a2 = FloatVector.fromArray(Simd.F, out, o + 2 * outRows);
        FloatVector b2 = FloatVector.fromArray(Simd.F, out, o + 2 * outRows + LANES);
        FloatVector a3 = FloatVector.fromArray(Simd.F, out, o + 3 * outRows);
        FloatVector b3 = FloatVector.fromArray(Simd.F, out, o + 3 * outRows + LANES);
        FloatVector a4 = FloatVector.fromArray(Simd.F, out, o + 4 * outRows);
        FloatVector b4 = FloatVector.fromArray(Simd.F, out, o + 4 * outRows + LANES);
        FloatVector a5 = FloatVector.fromArray(Simd.F, out, o + 5 * outRows);
        FloatVector b5 = FloatVector.fromArray(Simd.F, out, o + 5 * outRows + LANES);
        FloatVector a6 = FloatVector.fromArray(Simd.F, out, o + 6 * outRows);
        FloatVector b6 = FloatVector.fromArray(Simd.F, out, o + 6 * outRows + LANES);
        FloatVector a7 = FloatVector.fromArray(Simd.F, out, o + 7 * outRows);
        FloatVector b7 = FloatVector.fromArray(Simd.F, out, o + 7 * outRows + LANES);
        for (int k = 0; k < cols; k++) {
            FloatVector w = column(at, k, group);
            FloatVector v = column(at, k, group + 1);
            int c = x + k;
            FloatVector e = FloatVector.broadcast(Simd.F, in[c]);
            a0 = w.fma(e, a0);
            b0 = v.fma(e, b0);
            e = FloatVector.broadcast(Simd.F, in[c + cols]);
            a1 = w.fma(e, a1);
            b1 = v.fma(e, b1);
            e = FloatVector.broadcast(Simd.F, in[c + 2 * cols]);
            a2 = w.fma(e, a2);
            b2 = v.fma(e, b2);
            e = FloatVector.broadcast(Simd.F, in[c + 3 * cols]);
            a3 = w.fma(e, a3);
            b3 = v.fma(e, b3);
            e = FloatVector.broadcast(Simd.F, in[c + 4 * cols]);
            a4 = w.fma(e, a4);
            b4 = v.fma(e, b4);
            e = FloatVector.broadcast(Simd.F, in[c + 5 * cols]);
            a5 = w.fma(e, a5);
            b5 = v.fma(e, b5);
            e = FloatVector.broadcast(Simd.F, in[c + 6 * cols]);
            a6 = w.fma(e, a6);
            b6 = v.fma(e, b6);
            e = FloatVector.broadcast(Simd.F, in[c + 7 * cols]);
            a7 = w.fma(e, a7);
            b7 = v.fma(e, b7);
        }
        a0.intoArray(out, o);
        b0.intoArray(out, o + LANES);
        a1.intoArray(out, o + outRows);
        b1.intoArray(out, o + outRows + LANES);
        a2.intoArray(out, o + 2 * outRows);
        b2.intoArray(out, o + 2 * outRows + LANES);
        a3.intoArray(out, o + 3 * outRows);
        b3.intoArray(out, o + 3 * outRows + LANES);
        a4.intoArray(out, o + 4 * outRows);
        b4.intoArray(out, o + 4 * outRows + LANES);
        a5.intoArray(out, o + 5 * outRows);
        b5.intoArray(out, o + 5 * outRows + LANES);
        a6.intoArray(out, o + 6 * outRows);
        b6.intoArray(out, o + 6 * outRows + LANES);
        a7.intoArray(out, o + 7 * outRows);
        b7.intoArray(out, o + 7 * outRows + LANES);
    }
    /**
     * As {@link #multiplyOne(MemorySegment, int, float[], int, float[], int)} for groups {@code group} and
     * {@code group + 1} and eight batch rows from {@code in[x]}, {@code cols} apart, outputs from {@code out[o]},
     * {@code outRows} apart: each weight vector feeds eight FMAs.
     */
    private static void multiplyEight(MemorySegment tile, int columns, int group, float[] in, int x, int cols,
            float[] out, int o, int outRows) {
        FloatVector a0 = FloatVector.fromArray(Simd.F, out, o);
        FloatVector b0 = FloatVector.fromArray(Simd.F, out, o + LANES);
        FloatVector a1 = FloatVector.fromArray(Simd.F, out, o + outRows);
        FloatVector b1 = FloatVector.fromArray(Simd.F, out, o + outRows + LANES);
        FloatVector a2 = FloatVector.fromArray(Simd.F, out, o + 2 * outRows);
        FloatVector b2 = FloatVector.fromArray(Simd.F, out, o + 2 * outRows + LANES);
        FloatVector a3 = FloatVector.fromArray(Simd.F, out, o + 3 * outRows);
        FloatVector b3 = FloatVector.fromArray(Simd.F, out, o + 3 * outRows + LANES);
        FloatVector a4 = FloatVector.fromArray(Simd.F, out, o + 4 * outRows);
        FloatVector b4 = FloatVector.fromArray(Simd.F, out, o + 4 * outRows + LANES);
        FloatVector a5 = FloatVector.fromArray(Simd.F, out, o + 5 * outRows);
        FloatVector b5 = FloatVector.fromArray(Simd.F, out, o + 5 * outRows + LANES);
        FloatVector a6 = FloatVector.fromArray(Simd.F, out, o + 6 * outRows);
        FloatVector b6 = FloatVector.fromArray(Simd.F, out, o + 6 * outRows + LANES);
        FloatVector a7 = FloatVector.fromArray(Simd.F, out, o + 7 * outRows);
        FloatVector b7 = FloatVector.fromArray(Simd.F, out, o + 7 * outRows + LANES);
        for (int k = 0; k < columns; k++) {
            FloatVector w = decoded(tile, k, group);
            FloatVector v = decoded(tile, k, group + 1);
            int c = x + k;
            FloatVector e = FloatVector.broadcast(Simd.F, in[c]);
            a0 = w.fma(e, a0);
            b0 = v.fma(e, b0);
            e = FloatVector.broadcast(Simd.F, in[c + cols]);
            a1 = w.fma(e, a1);
            b1 = v.fma(e, b1);
            e = FloatVector.broadcast(Simd.F, in[c + 2 * cols]);
            a2 = w.fma(e, a2);
            b2 = v.fma(e, b2);
            e = FloatVector.broadcast(Simd.F, in[c + 3 * cols]);
            a3 = w.fma(e, a3);
            b3 = v.fma(e, b3);
            e = FloatVector.broadcast(Simd.F, in[c + 4 * cols]);
            a4 = w.fma(e, a4);
            b4 = v.fma(e, b4);
            e = FloatVector.broadcast(Simd.F, in[c + 5 * cols]);
            a5 = w.fma(e, a5);
            b5 = v.fma(e, b5);
            e = FloatVector.broadcast(Simd.F, in[c + 6 * cols]);
            a6 = w.fma(e, a6);
            b6 = v.fma(e, b6);
            e = FloatVector.broadcast(Simd.F, in[c + 7 * cols]);
            a7 = w.fma(e, a7);
            b7 = v.fma(e, b7);
        }
        a0.intoArray(out, o);
        b0.intoArray(out, o + LANES);
        a1.intoArray(out, o + outRows);
        b1.intoArray(out, o + outRows + LANES);
        a2.intoArray(out, o + 2 * outRows);
        b2.intoArray(out, o + 2 * outRows + LANES);
        a3.intoArray(out, o + 3 * outRows);
        b3.intoArray(out, o + 3 * outRows + LANES);
        a4.intoArray(out, o + 4 * outRows);
        b4.intoArray(out, o + 4 * outRows + LANES);
        a5.intoArray(out, o + 5 * outRows);
        b5.intoArray(out, o + 5 * outRows + LANES);
        a6.intoArray(out, o + 6 * outRows);
        b6.intoArray(out, o + 6 * outRows + LANES);
        a7.intoArray(out, o + 7 * outRows);
        b7.intoArray(out, o + 7 * outRows + LANES);
    }
}
