package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * A Q4_K weight repacked for {@link PackedQ4_0}'s integer kernels: the batch quantized to 8 bits
 * ({@link BatchQuants}), each block of 32 summed exactly in 16-bit lanes. Q4_K's weight is {@code w = s q - m}
 * with {@code s = d · scale} and {@code m = dmin · min} per block of 32 and {@code q} in 0..15, so per block
 * {@code Σ w x = s (Σ (q - 8) x' + 8 Σ x') dx - m Σ x}: the first sum is Q4_0's, in shorts; {@code 8 Σ x'} and
 * {@code Σ x} are the batch's own ({@link BatchQuants#eightQuantSums}, {@link BatchQuants#negatedSums}), added once
 * per block. {@code s} and {@code m} are products of a half and a 6-bit integer, exact in floats: the result
 * differs from a float decoding of the weights only by the batch's quantization.
 *
 * <p>Layout: output rows in groups of {@link #GROUP}; for each group first the scales of its super-blocks
 * of 256 columns in order, each: the group's {@code d} halves, its {@code dmin} halves (in {@link PackedQ4_0}'s lane
 * order), then for each of the 8 blocks the group's 6-bit scales and mins (a byte per row each, in row order); then
 * every block's nibbles in order, as {@link PackedQ4_0} lays out a block's (weight {@code i} low and {@code 16 + i}
 * high, stored as {@code q ^ 8}). The copy is 148 bytes per row and super-block, against the source's 144. Scales
 * apart from nibbles, each part read in order: with each super-block's scales before its nibbles, a 1-row product
 * read from memory ran at a third of Q4_0's speed.
 *
 * <p>The kernel first decodes the group's {@code s} and {@code m} into scratch, then takes per block and output
 * the same operations in block order, whatever the batch size.
 */
final class PackedQ4_K extends PackedQuantWeight {

    private static final int SUPER_BLOCK = 256;
    private static final int BLOCKS_PER_SUPER_BLOCK = SUPER_BLOCK / BLOCK;
    private static final int SOURCE_BYTES = 144;
    private static final int SOURCE_SCALES = 4;
    private static final int SOURCE_QUANTS = 16;
    /** The group's {@code d} then {@code dmin} halves. */
    private static final int HEADER_BYTES = 2 * SCALE_BYTES;
    /** Per block, the group's scales then mins, a byte per row. */
    private static final int BLOCK_SCALE_BYTES = 2 * GROUP;
    /** Bytes of a super-block's scales; in a packed super-block, where its nibbles start. */
    private static final int RUNS = HEADER_BYTES + BLOCKS_PER_SUPER_BLOCK * BLOCK_SCALE_BYTES;
    private static final int RUN_BYTES = HALF * GROUP;
    private static final int SUPER_BLOCK_BYTES = RUNS + BLOCKS_PER_SUPER_BLOCK * RUN_BYTES;
    /** Floats of decoded scales per block: {@code s} of the group's two halves of rows, then {@code m}'s. */
    private static final int SCRATCH_PER_BLOCK = 4 * Simd.LANES;

    private final long groupBytes;

    /** Bytes of half a group's rows, one per float lane. */
    private static final VectorSpecies<Byte> HALF_GROUP_BYTES = VectorSpecies.of(byte.class,
            VectorShape.forBitSize(Simd.LANES * Byte.SIZE));

    /**
     * @return whether the vector kernels can take a weight of {@code rows} rows: as {@link #packsRows}, with at
     *         least 8 float lanes (half a group's bytes make no vector species below)
     */
    static boolean packs(int rows) {
        return Simd.LANES >= 8 && packsRows(rows);
    }

    /** Repacks {@code rows} rows of {@code rowBytes} bytes from {@code source}, a group per task on the workers. */
    PackedQ4_K(MemorySegment source, long rowBytes, int rows, int cols, WorkerPool pool) {
        super((long) SUPER_BLOCK_BYTES * (cols / SUPER_BLOCK) * (rows / GROUP), cols);
        this.groupBytes = (long) SUPER_BLOCK_BYTES * (cols / SUPER_BLOCK);
        repack(source, rowBytes, rows, GROUP, SUPER_BLOCK, SOURCE_BYTES, SUPER_BLOCK_BYTES, RUNS, pool,
                (block, row, packed) -> {
                    int lane = lane(row);
                    SHORTS.set(packed, Short.BYTES * lane, (short) SHORTS.get(block, 0));
                    SHORTS.set(packed, SCALE_BYTES + Short.BYTES * lane, (short) SHORTS.get(block, 2));
                    for (int sub = 0; sub < BLOCKS_PER_SUPER_BLOCK; sub++) {
                        packed[HEADER_BYTES + sub * BLOCK_SCALE_BYTES + row] = (byte) Q4_KFormat.scale(block,
                                SOURCE_SCALES, sub);
                        packed[HEADER_BYTES + sub * BLOCK_SCALE_BYTES + GROUP + row] = (byte) Q4_KFormat.min(block,
                                SOURCE_SCALES, sub);
                        // Block sub's weights are the low (even sub) or high (odd) nibbles of 32 source bytes.
                        int quants = SOURCE_QUANTS + 32 * (sub / 2);
                        int shift = 4 * (sub % 2);
                        for (int i = 0; i < HALF; i++) {
                            int low = (block[quants + i] >>> shift) & 0x0F;
                            int highNibble = (block[quants + HALF + i] >>> shift) & 0x0F;
                            packed[RUNS + sub * RUN_BYTES + i * GROUP + lane] = (byte) ((low | highNibble << 4)
                                    ^ SIGN_HIGH_NIBBLE);
                        }
                    }
                });
    }

    @Override
    boolean readsBlockSums() {
        return true;
    }

    /** Per block its decoded {@code s} and {@code m}, then per super-block its {@code d} and {@code dmin}. */
    @Override
    int scratchFloats(int rows) {
        return (cols / BLOCK + cols / SUPER_BLOCK) * SCRATCH_PER_BLOCK;
    }

    /**
     * Per group, its scales decoded into {@code scratch}, then the batch one row at a time, the group's weights read
     * again from the core's caches for each. A kernel of two rows, as Q4_0's, came out of C2 with its vectors boxed
     * (JDK 25: the extra terms of the minimums took it past C2's inlining budget).
     */
    @Override
    void multiply(float[] in, BatchQuants quants, float[] out, int rows, int outRows, int start, int end,
            float[] scratch, MemorySegment tile) {
        for (int group = start / GROUP; group < end / GROUP; group++) {
            long at = group * groupBytes;
            decodeScales(at, scratch);
            for (int r = 0; r < rows; r++) {
                multiplyOne(at, scratch, quants, r, out, r * outRows + group * GROUP);
            }
        }
    }

    // The helpers below stay under 35 bytecodes, as PackedQ4_0's.

    /**
     * Decodes the {@code s} and {@code m} of every block of the group at byte offset {@code at} into {@code scales}:
     * per block {@link #SCRATCH_PER_BLOCK} floats, {@code s} of the first half of rows times 2^-16 (for
     * {@link #bottom}'s sums, exact), {@code s} of the second half, then {@code m} of each half; after
     * them, per super-block, its {@code d} and {@code dmin} as floats, which the second pass multiplies in.
     *
     * <p>Two passes in one method, on purpose: with the super-block's factors kept in registers across its blocks,
     * and with the passes as two methods, C2 inlined the work into {@link #multiply} and stopped inlining the Vector
     * API there (NodeCountInliningCutoff), boxing vectors on every block. This method is too large for C2 to inline
     * (more than 325 bytes of bytecode), so it is compiled on its own.
     */
    private void decodeScales(long at, float[] scales) {
        int superBlocksAt = cols / BLOCK * SCRATCH_PER_BLOCK;
        for (int superBlock = 0; superBlock < cols / SUPER_BLOCK; superBlock++) {
            long header = at + (long) RUNS * superBlock;
            IntVector d = IntVector.fromMemorySegment(SCALES, data, header, Simd.LE);
            IntVector dmin = IntVector.fromMemorySegment(SCALES, data, header + SCALE_BYTES, Simd.LE);
            int to = superBlocksAt + superBlock * SCRATCH_PER_BLOCK;
            bottomScales(d).intoArray(scales, to);
            topScales(d).intoArray(scales, to + Simd.LANES);
            scales(dmin.lanewise(VectorOperators.LSHL, 16), Simd.HALF_TO_FLOAT_SCALE)
                    .intoArray(scales, to + 2 * Simd.LANES);
            topScales(dmin).intoArray(scales, to + 3 * Simd.LANES);
        }
        for (int block = 0; block < cols / BLOCK; block++) {
            int superBlock = block / BLOCKS_PER_SUPER_BLOCK;
            long bytes = at + (long) RUNS * superBlock + HEADER_BYTES
                    + (long) BLOCK_SCALE_BYTES * (block % BLOCKS_PER_SUPER_BLOCK);
            int factors = superBlocksAt + superBlock * SCRATCH_PER_BLOCK;
            int to = block * SCRATCH_PER_BLOCK;
            for (int part = 0; part < 4; part++) {
                // Scales then mins, each of the first then the second half of rows: a byte per float lane.
                FloatVector.fromArray(Simd.F, scales, factors + part * Simd.LANES)
                        .mul((FloatVector) ByteVector.fromMemorySegment(HALF_GROUP_BYTES, data,
                                bytes + (long) Simd.LANES * part, Simd.LE).castShape(Simd.F, 0))
                        .intoArray(scales, to + part * Simd.LANES);
            }
        }
    }

    /** @return the byte offset of block {@code block}'s runs in the group at {@code at} */
    private long runs(long at, int block) {
        return at + (long) RUNS * (cols / SUPER_BLOCK) + (long) RUN_BYTES * block;
    }

    /**
     * The group at byte offset {@code at}, its scales decoded in {@code scales}, times batch row {@code r}. The loop
     * over a block's runs is {@link PackedQ4_0}'s, written out again: in a helper of its own C2 would compile it
     * apart and box the sums it returns (see {@link Simd}).
     */
    private void multiplyOne(long at, float[] scales, BatchQuants quants, int r, float[] out, int o) {
        short[] x = quants.quants();
        float[] dx = quants.scales();
        short[] offsets = quants.offsets();
        float[] eights = quants.eightQuantSums();
        float[] negatedSums = quants.negatedSums();
        FloatVector a = FloatVector.zero(Simd.F);
        FloatVector b = a;
        int blocks = cols / BLOCK;
        for (int block = 0; block < blocks; block++) {
            long runs = runs(at, block);
            int d = r * blocks + block;
            ShortVector sums = ShortVector.broadcast(S, offsets[d]);
            int c = r * cols + BLOCK * block;
            for (int i = 0; i < HALF; i++) {
                ShortVector run = (ShortVector) ByteVector.fromMemorySegment(RUN, data, runs + (long) GROUP * i,
                        Simd.LE).castShape(S, 0);
                sums = sums.add(run.mul(x[c + i])).add(high(run).mul(x[c + i + HALF]));
            }
            int sAt = SCRATCH_PER_BLOCK * block;
            IntVector pairs = sums.reinterpretAsInts();
            float dx0 = dx[d];
            float eight = eights[d];
            a = bottom(pairs).add(eight * 0x1p16f).mul(dx0).fma(FloatVector.fromArray(Simd.F, scales, sAt), a)
                    .add(FloatVector.fromArray(Simd.F, scales, sAt + 2 * Simd.LANES).mul(negatedSums[d]));
            b = top(pairs).add(eight).mul(dx0).fma(FloatVector.fromArray(Simd.F, scales, sAt + Simd.LANES), b)
                    .add(FloatVector.fromArray(Simd.F, scales, sAt + 3 * Simd.LANES).mul(negatedSums[d]));
        }
        a.intoArray(out, o);
        b.intoArray(out, o + Simd.LANES);
    }
}
