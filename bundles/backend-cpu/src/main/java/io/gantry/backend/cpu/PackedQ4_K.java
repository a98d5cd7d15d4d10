package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
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
 * <p>Layout: output rows in groups of {@link #GROUP}; for each group its super-blocks of 256 columns in order, each:
 * the group's {@code d} halves, its {@code dmin} halves (in {@link PackedQ4_0}'s lane order), for each of the 8
 * blocks the group's 6-bit scales and mins (a byte per row each, in row order), then every block's nibbles in order,
 * as {@link PackedQ4_0} lays out a block's (weight {@code i} low and {@code 16 + i} high, stored as {@code q ^ 8}).
 * The copy is 148 bytes per row and super-block, against the source's 144, and a kernel reads it in one stream.
 *
 * <p>The kernel decodes a super-block's {@code s} and {@code m} into scratch, then multiplies its 8 blocks by each
 * batch row: per block and output the same operations in block order, whatever the batch size.
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
        repack(source, rowBytes, rows, GROUP, SUPER_BLOCK, SOURCE_BYTES, SUPER_BLOCK_BYTES, pool,
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

    /** A super-block's decoded scales: per block {@link #SCRATCH_PER_BLOCK} floats. */
    @Override
    int scratchFloats(int rows) {
        return BLOCKS_PER_SUPER_BLOCK * SCRATCH_PER_BLOCK;
    }

    /**
     * Per group and super-block, its scales decoded, then its blocks times each batch row, the outputs accumulated
     * in {@code out}. A super-block at a time, not a group: the decoding of a group's scales, done apart, left the
     * memory idle while it ran, and a 1-row product read from memory ran at half Q4_0's speed (2/3 now).
     */
    @Override
    void multiply(float[] in, BatchQuants quants, float[] out, int rows, int outRows, int start, int end,
            float[] scratch, MemorySegment tile) {
        for (int group = start / GROUP; group < end / GROUP; group++) {
            long at = group * groupBytes;
            for (int r = 0; r < rows; r++) {
                Arrays.fill(out, r * outRows + group * GROUP, r * outRows + (group + 1) * GROUP, 0);
            }
            for (int superBlock = 0; superBlock < cols / SUPER_BLOCK; superBlock++) {
                decodeScales(at + (long) SUPER_BLOCK_BYTES * superBlock, scratch);
                for (int r = 0; r < rows; r++) {
                    multiplySuperBlock(at, superBlock, scratch, quants, r, out, r * outRows + group * GROUP);
                }
            }
        }
    }

    /**
     * Decodes the {@code s} and {@code m} of each block of the super-block at byte offset {@code at} into
     * {@code scales}: per block {@code s} of the first half of rows times 2^-16 (for {@link #bottom}'s sums, exact),
     * {@code s} of the second half, then {@code m} of each half. Apart from {@link #multiplySuperBlock}: decoding
     * there takes it past the size up to which C2 inlines the Vector API (NodeCountInliningCutoff), and it then
     * boxes vectors on every block.
     */
    private void decodeScales(long at, float[] scales) {
        IntVector d = IntVector.fromMemorySegment(SCALES, data, at, Simd.LE);
        IntVector dmin = IntVector.fromMemorySegment(SCALES, data, at + SCALE_BYTES, Simd.LE);
        FloatVector scaleBottom = bottomScales(d);
        FloatVector scaleTop = topScales(d);
        FloatVector minBottom = scales(dmin.lanewise(VectorOperators.LSHL, 16), Simd.HALF_TO_FLOAT_SCALE);
        FloatVector minTop = topScales(dmin);
        for (int sub = 0; sub < BLOCKS_PER_SUPER_BLOCK; sub++) {
            long levels = at + HEADER_BYTES + (long) BLOCK_SCALE_BYTES * sub;
            int to = SCRATCH_PER_BLOCK * sub;
            scaleBottom.mul(levels(levels, 0)).intoArray(scales, to);
            scaleTop.mul(levels(levels, 1)).intoArray(scales, to + Simd.LANES);
            minBottom.mul(levels(levels, 2)).intoArray(scales, to + 2 * Simd.LANES);
            minTop.mul(levels(levels, 3)).intoArray(scales, to + 3 * Simd.LANES);
        }
    }

    /**
     * @return the {@code part}th half group of 6-bit levels at byte offset {@code at}, as floats; under 35 bytecodes,
     *         so that C2 inlines it wherever it is called (see {@link PackedQuantWeight})
     */
    private FloatVector levels(long at, int part) {
        return (FloatVector) ByteVector.fromMemorySegment(HALF_GROUP_BYTES, data, at + (long) Simd.LANES * part,
                Simd.LE).castShape(Simd.F, 0);
    }

    /**
     * Super-block {@code superBlock} of the group at byte offset {@code at}, its scales decoded in {@code scales},
     * times batch row {@code r}, added to the outputs at {@code out[o]}. The loop over a block's runs is
     * {@link PackedQ4_0}'s, written out again: in a helper of its own C2 would compile it apart and box the sums it
     * returns (see {@link Simd}).
     */
    private void multiplySuperBlock(long at, int superBlock, float[] scales, BatchQuants quants, int r, float[] out,
            int o) {
        short[] x = quants.quants();
        float[] dx = quants.scales();
        short[] offsets = quants.offsets();
        float[] eights = quants.eightQuantSums();
        float[] negatedSums = quants.negatedSums();
        FloatVector a = FloatVector.fromArray(Simd.F, out, o);
        FloatVector b = FloatVector.fromArray(Simd.F, out, o + Simd.LANES);
        long runsAt = at + (long) SUPER_BLOCK_BYTES * superBlock + RUNS;
        for (int sub = 0; sub < BLOCKS_PER_SUPER_BLOCK; sub++) {
            long runs = runsAt + (long) RUN_BYTES * sub;
            int block = BLOCKS_PER_SUPER_BLOCK * superBlock + sub;
            int d = r * (cols / BLOCK) + block;
            ShortVector sums = ShortVector.broadcast(S, offsets[d]);
            int c = r * cols + BLOCK * block;
            for (int i = 0; i < HALF; i++) {
                ShortVector run = (ShortVector) ByteVector.fromMemorySegment(RUN, data, runs + (long) GROUP * i,
                        Simd.LE).castShape(S, 0);
                sums = sums.add(run.mul(x[c + i])).add(high(run).mul(x[c + i + HALF]));
            }
            int sAt = SCRATCH_PER_BLOCK * sub;
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
