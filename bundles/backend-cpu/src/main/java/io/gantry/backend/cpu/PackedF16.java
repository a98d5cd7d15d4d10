package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * An F16 weight repacked with {@link Simd#LANES} output rows per vector ({@link PackedFloatWeight}): no horizontal
 * sums, and in a batch each column is converted to floats once instead of once per batch row.
 *
 * <p>Layout: output rows in units of four groups of {@code LANES}; for each unit its columns in order, each the
 * unit's halves of that column, group after group. A weight decodes as {@link Simd#halfToFloat} does (exact: the
 * backend refuses F16 weights holding infinities or NaNs).
 */
final class PackedF16 extends PackedFloatWeight {

    /** Bytes of one column of a unit. */
    private static final int COLUMN_BYTES = UNIT_ROWS * Short.BYTES;
    private static final int GROUP_BYTES = LANES * Short.BYTES;

    /** @return whether the vector kernels can take a weight of this shape: whole units and blocks */
    static boolean packs(int rows, int cols) {
        return packsRows(rows) && cols % BLOCK == 0;
    }

    /** Repacks {@code rows} rows of {@code rowBytes} bytes from {@code source}, a unit per task on the workers. */
    PackedF16(MemorySegment source, long rowBytes, int rows, int cols, WorkerPool pool) {
        super((long) COLUMN_BYTES * cols, rows, cols);
        repack(source, rowBytes, rows, UNIT_ROWS, BLOCK, BLOCK * Short.BYTES, BLOCK * COLUMN_BYTES, pool,
                (block, row, packed) -> {
                    // Row r of the unit is lane r % LANES of group r / LANES: half r of each column.
                    for (int k = 0; k < BLOCK; k++) {
                        int to = k * COLUMN_BYTES + row * Short.BYTES;
                        packed[to] = block[2 * k];
                        packed[to + 1] = block[2 * k + 1];
                    }
                });
    }

    @Override
    FloatVector column(long at, int k, int group) {
        return Simd.halfToFloat(data, at + (long) COLUMN_BYTES * k + (long) GROUP_BYTES * group);
    }
}
