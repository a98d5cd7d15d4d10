package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * A Q8_0 weight repacked with {@link Simd#LANES} output rows per vector: each decoded weight vector feeds the FMAs
 * of eight batch rows. In {@code MatmulBenchmark} (2048x2048, one thread, Zen 4) 16 rows ran at 89 against 62
 * GFLOP/s for the row-major tiles, and one row at 39 against 33 for the fused kernel.
 *
 * <p>Layout: output rows in pairs of groups of {@code LANES}, the unit the kernels multiply; for each pair its
 * blocks of 32 columns in order, each the two groups' {@code LANES} float scales ({@code d}) and then, column by
 * column, the first group's {@code LANES} quants of that column and the second's. A kernel call thus reads one
 * contiguous run of memory, and column {@code k}'s weights of a group are one vector load.
 *
 * <p>Order: each output adds its products in column order in one FMA chain, {@code acc = (q·d)·x + acc}, with
 * {@code q·d} exact in float (8 by 11 significant bits), whatever the batch size and whichever kernel runs: a row's
 * results do not depend on its batch.
 */
final class PackedQ8_0 extends PackedWeight {

    private static final int SOURCE_BLOCK_BYTES = 34;
    private static final int LANES = Simd.LANES;
    /** The bytes of one column of a group: one quant per lane. */
    private static final VectorSpecies<Byte> COLUMN = VectorSpecies.of(byte.class,
            VectorShape.forBitSize(Math.max(64, LANES * Byte.SIZE)));
    private static final int SCALE_BYTES = LANES * Float.BYTES;
    /** One block of a pair: both groups' scales, then each column's quants of both groups. */
    private static final int BLOCK_BYTES = 2 * SCALE_BYTES + 2 * BLOCK * LANES;
    /** Batch rows the wide kernel multiplies together (with two groups: 16 accumulators). */
    private static final int BATCH_ROWS = 8;
    /** Output rows the kernels produce together: two groups. */
    private static final int OUTPUT_ROWS = 2 * LANES;

    private final long pairBytes;

    /**
     * @return whether the vector kernels can take a weight of {@code rows} rows: at least 8 lanes (a column of 4
     *         bytes has no vector species) and whole pairs of groups
     */
    static boolean packs(int rows) {
        return Simd.AVAILABLE && LANES >= 8 && rows % OUTPUT_ROWS == 0;
    }

    /** Repacks {@code rows} rows of {@code rowBytes} bytes from {@code source}, a pair per task on the workers. */
    PackedQ8_0(MemorySegment source, long rowBytes, int rows, int cols, WorkerPool pool) {
        super((long) BLOCK_BYTES * (cols / BLOCK) * (rows / OUTPUT_ROWS), cols);
        this.pairBytes = (long) BLOCK_BYTES * (cols / BLOCK);
        repack(source, rowBytes, rows, OUTPUT_ROWS, SOURCE_BLOCK_BYTES, BLOCK_BYTES, pool, (block, row, packed) -> {
            // Row r of the pair is lane r % LANES of group r / LANES: its scale is float r, and column k's quant
            // is byte r of the column's run of both groups.
            FLOATS.set(packed, Float.BYTES * row, Float.float16ToFloat((short) SHORTS.get(block, 0)));
            for (int k = 0; k < BLOCK; k++) {
                packed[2 * SCALE_BYTES + k * OUTPUT_ROWS + row] = block[2 + k];
            }
        });
    }

    @Override
    int groupRows() {
        return OUTPUT_ROWS;
    }

    @Override
    boolean multipliesQuants() {
        return false;
    }

    @Override
    int scratchFloats(int rows) {
        return 0;
    }

    /**
     * Per pair of groups, the batch {@link #BATCH_ROWS} rows at a time, then the rest one by one: the pair's
     * weights stay in L1 or L2 meanwhile.
     */
    @Override
    void multiply(float[] in, BatchQuants quants, float[] out, int rows, int outRows, int start, int end,
            float[] scratch) {
        for (int pair = start / OUTPUT_ROWS; pair < end / OUTPUT_ROWS; pair++) {
            long at = pair * pairBytes;
            int r = 0;
            for (; r + BATCH_ROWS <= rows; r += BATCH_ROWS) {
                multiplyEight(at, in, r * cols, out, r * outRows + pair * OUTPUT_ROWS, outRows);
            }
            for (; r < rows; r++) {
                multiplyOne(at, in, r * cols, out, r * outRows + pair * OUTPUT_ROWS);
            }
        }
    }

    /** @return the weights of {@code LANES} output rows for one column, decoded: exact products {@code q·d} */
    private FloatVector column(long at, FloatVector scale) {
        return ((FloatVector) ByteVector.fromMemorySegment(COLUMN, data, at, Simd.LE).castShape(Simd.F, 0)).mul(scale);
    }

    /** The pair of groups at byte offset {@code at} times eight batch rows from {@code in[x]}, {@code cols} apart. */
    private void multiplyEight(long at, float[] in, int x, float[] out, int o, int outRows) {
        FloatVector a0 = FloatVector.zero(Simd.F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        FloatVector a4 = a0;
        FloatVector a5 = a0;
        FloatVector a6 = a0;
        FloatVector a7 = a0;
        FloatVector b0 = a0;
        FloatVector b1 = a0;
        FloatVector b2 = a0;
        FloatVector b3 = a0;
        FloatVector b4 = a0;
        FloatVector b5 = a0;
        FloatVector b6 = a0;
        FloatVector b7 = a0;
        for (int block = 0, blocks = cols / BLOCK; block < blocks; block++) {
            long scales = at + (long) BLOCK_BYTES * block;
            long quants = scales + 2 * SCALE_BYTES;
            FloatVector firstScale = FloatVector.fromMemorySegment(Simd.F, data, scales, Simd.LE);
            FloatVector secondScale = FloatVector.fromMemorySegment(Simd.F, data, scales + SCALE_BYTES, Simd.LE);
            for (int k = 0; k < BLOCK; k++) {
                FloatVector w = column(quants + (long) OUTPUT_ROWS * k, firstScale);
                FloatVector v = column(quants + (long) OUTPUT_ROWS * k + LANES, secondScale);
                int c = x + BLOCK * block + k;
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

    /** As {@link #multiplyEight} for one batch row, with the same operations per output. */
    private void multiplyOne(long at, float[] in, int x, float[] out, int o) {
        FloatVector a = FloatVector.zero(Simd.F);
        FloatVector b = a;
        for (int block = 0, blocks = cols / BLOCK; block < blocks; block++) {
            long scales = at + (long) BLOCK_BYTES * block;
            long quants = scales + 2 * SCALE_BYTES;
            FloatVector firstScale = FloatVector.fromMemorySegment(Simd.F, data, scales, Simd.LE);
            FloatVector secondScale = FloatVector.fromMemorySegment(Simd.F, data, scales + SCALE_BYTES, Simd.LE);
            for (int k = 0; k < BLOCK; k++) {
                FloatVector e = FloatVector.broadcast(Simd.F, in[x + BLOCK * block + k]);
                a = column(quants + (long) OUTPUT_ROWS * k, firstScale).fma(e, a);
                b = column(quants + (long) OUTPUT_ROWS * k + LANES, secondScale).fma(e, b);
            }
        }
        a.intoArray(out, o);
        b.intoArray(out, o + LANES);
    }
}
