package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * A weight of 8-bit quants with a float scale per block of columns, repacked with {@link Simd#LANES} output rows per
 * vector ({@link PackedFloatWeight}): Q8_0 as it is (blocks of 32), and Q6_K (blocks of 16, a super-block's
 * {@code d} times a sub-block's scale, quants {@code q - 32}). Both decode exactly as their formats do: a quant times
 * its scale, 8 by 11 (Q8_0) or 6 by 18 (Q6_K) significant bits. The copy of a Q6_K weight takes 10 bits per weight
 * where the file takes 6.6: a byte per quant and a float per 16 let the FMA kernels decode a vector with one
 * conversion and one multiplication, 3 times faster at one batch row than decoding Q6_K's split bits.
 *
 * <p>Layout: output rows in units of four groups of {@code LANES}; for each unit its blocks of columns in order,
 * each the four groups' {@code LANES} float scales and then, column by column, the unit's quants of that column,
 * group after group. A kernel call thus reads one contiguous run of memory, and column {@code k}'s weights of a
 * group are one vector load.
 */
final class PackedInt8 extends PackedFloatWeight {

    private static final int Q8_0_BLOCK_BYTES = 34;
    private static final int Q6_K_BLOCK = 256;
    private static final int Q6_K_BLOCK_BYTES = 210;
    private static final int Q6_K_SUB_BLOCK = 16;
    /** The bytes of one column of a group: one quant per lane. */
    private static final VectorSpecies<Byte> COLUMN = VectorSpecies.of(byte.class,
            VectorShape.forBitSize(Math.max(64, LANES * Byte.SIZE)));
    private static final int SCALE_BYTES = UNIT_ROWS * Float.BYTES;

    /** log2 of the columns of a block: 5 or 4. */
    private final int blockShift;
    private final int blockBytes;

    /**
     * @return whether the vector kernels can take a weight of {@code rows} rows: at least 8 lanes (a column of 4
     *         bytes has no vector species) and whole units
     */
    static boolean packs(int rows) {
        return LANES >= 8 && packsRows(rows);
    }

    /** @return a Q8_0 weight of {@code rows} rows of {@code rowBytes} bytes repacked, a unit per task on the workers */
    static PackedInt8 ofQ8_0(MemorySegment source, long rowBytes, int rows, int cols, WorkerPool pool) {
        PackedInt8 packed = new PackedInt8(BLOCK, rows, cols);
        packed.repack(source, rowBytes, rows, UNIT_ROWS, BLOCK, Q8_0_BLOCK_BYTES, packed.blockBytes, pool,
                (block, row, to) -> {
                    // Row r of the unit is lane r % LANES of group r / LANES: its scale is float r, and column k's
                    // quant is byte r of the column's run.
                    FLOATS.set(to, Float.BYTES * row, Float.float16ToFloat((short) SHORTS.get(block, 0)));
                    for (int k = 0; k < BLOCK; k++) {
                        to[SCALE_BYTES + k * UNIT_ROWS + row] = block[2 + k];
                    }
                });
        return packed;
    }

    /**
     * @return a Q6_K weight of {@code rows} rows of {@code rowBytes} bytes repacked, a unit per task on the workers:
     *         each super-block of 256 columns becomes 16 blocks ({@link Q6_KFormat} has the source layout)
     */
    static PackedInt8 ofQ6_K(MemorySegment source, long rowBytes, int rows, int cols, WorkerPool pool) {
        PackedInt8 packed = new PackedInt8(Q6_K_SUB_BLOCK, rows, cols);
        int subBlockBytes = packed.blockBytes;
        packed.repack(source, rowBytes, rows, UNIT_ROWS, Q6_K_BLOCK, Q6_K_BLOCK_BYTES,
                subBlockBytes * (Q6_K_BLOCK / Q6_K_SUB_BLOCK), pool, (block, row, to) -> {
                    float d = Float.float16ToFloat((short) SHORTS.get(block, Q6_KFormat.D));
                    for (int sub = 0; sub < Q6_K_BLOCK / Q6_K_SUB_BLOCK; sub++) {
                        FLOATS.set(to, subBlockBytes * sub + Float.BYTES * row, d * block[Q6_KFormat.SCALES + sub]);
                    }
                    for (int k = 0; k < Q6_K_BLOCK; k++) {
                        int at = subBlockBytes * (k / Q6_K_SUB_BLOCK) + SCALE_BYTES
                                + (k % Q6_K_SUB_BLOCK) * UNIT_ROWS + row;
                        to[at] = (byte) (Q6_KFormat.quant(block, k) - 32);
                    }
                });
        return packed;
    }

    private PackedInt8(int blockCols, int rows, int cols) {
        super((long) (SCALE_BYTES + blockCols * UNIT_ROWS) * (cols / blockCols), rows, cols);
        this.blockShift = Integer.numberOfTrailingZeros(blockCols);
        this.blockBytes = SCALE_BYTES + blockCols * UNIT_ROWS;
    }

    @Override
    FloatVector column(long at, int k, int group) {
        // Done for speed: the scales are read again for every column (from L1) rather than kept per block, so that
        // one loop over columns serves every format.
        long block = at + (long) blockBytes * (k >>> blockShift);
        FloatVector scale = FloatVector.fromMemorySegment(Simd.F, data, block + (long) Float.BYTES * LANES * group,
                Simd.LE);
        int column = k & ((1 << blockShift) - 1);
        long quants = block + SCALE_BYTES + (long) UNIT_ROWS * column + LANES * group;
        return ((FloatVector) ByteVector.fromMemorySegment(COLUMN, data, quants, Simd.LE).castShape(Simd.F, 0))
                .mul(scale);
    }
}
