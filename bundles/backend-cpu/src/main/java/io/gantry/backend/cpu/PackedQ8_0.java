package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * A Q8_0 weight, 8-bit quants with a float scale per block of 32 columns, repacked with {@link Simd#LANES} output rows
 * per vector ({@link PackedFloatWeight}). It decodes exactly as Q8_0 does: a quant times its scale, 8 by 11
 * significant bits.
 *
 * <p>Layout: output rows in units of four groups of {@code LANES}; for each unit its blocks of columns in order,
 * each the four groups' {@code LANES} float scales and then, column by column, the unit's quants of that column,
 * group after group. A kernel call thus reads one contiguous run of memory, and column {@code k}'s weights of a
 * group are one vector load.
 */
final class PackedQ8_0 extends PackedFloatWeight {

    private static final int SOURCE_BLOCK_BYTES = 34;
    /** The bytes of one column of a group: one quant per lane. */
    private static final VectorSpecies<Byte> COLUMN = VectorSpecies.of(byte.class,
            VectorShape.forBitSize(Math.max(64, LANES * Byte.SIZE)));
    private static final int SCALE_BYTES = UNIT_ROWS * Float.BYTES;
    private static final int BLOCK_BYTES = SCALE_BYTES + BLOCK * UNIT_ROWS;

    /**
     * @return whether the vector kernels can take a weight of {@code rows} rows: at least 8 lanes (a column of 4
     *         bytes has no vector species) and whole units
     */
    static boolean packs(int rows) {
        return LANES >= 8 && packsRows(rows);
    }

    /** Repacks {@code rows} rows of {@code rowBytes} bytes from {@code source}, a unit per task on the workers. */
    PackedQ8_0(MemorySegment source, long rowBytes, int rows, int cols, WorkerPool pool) {
        super((long) BLOCK_BYTES * (cols / BLOCK), rows, cols);
        repack(source, rowBytes, rows, UNIT_ROWS, BLOCK, SOURCE_BLOCK_BYTES, BLOCK_BYTES, pool, (block, row, to) -> {
            // Row r of the unit is lane r % LANES of group r / LANES: its scale is float r, and column k's quant is
            // byte r of the column's run.
            FLOATS.set(to, Float.BYTES * row, Float.float16ToFloat((short) SHORTS.get(block, 0)));
            for (int k = 0; k < BLOCK; k++) {
                to[SCALE_BYTES + k * UNIT_ROWS + row] = block[2 + k];
            }
        });
    }

    @Override
    FloatVector column(long at, int k, int group) {
        // Done for speed: the scales are read again for every column (from L1) rather than kept per block, so that
        // one loop over columns serves every format.
        long block = at + (long) BLOCK_BYTES * (k / BLOCK);
        FloatVector scale = FloatVector.fromMemorySegment(Simd.F, data, block + (long) Float.BYTES * LANES * group,
                Simd.LE);
        int column = k % BLOCK;
        long quants = block + SCALE_BYTES + (long) UNIT_ROWS * column + LANES * group;
        return ((FloatVector) ByteVector.fromMemorySegment(COLUMN, data, quants, Simd.LE).castShape(Simd.F, 0))
                .mul(scale);
    }
}
