package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * A Q4_K weight repacked for {@link PackedQ4_0}'s integer kernels: the batch quantized to 8 bits
 * ({@link BatchQuants}), each block of 32 summed exactly in 16-bit lanes. Q4_K's weight is {@code w = s q - m}
 * with {@code s = d · scale} and {@code m = dmin · min} per block of 32 and {@code q} in 0..15, so per block
 * {@code Σ w x = s Σ (q - 8) x' dx + (s · 8 Σ x' dx - m Σ x)}: the first sum is Q4_0's, in shorts, multiplied by
 * {@link PackedQuantWeight}'s kernels; the rest reads only the scales and the batch's own sums
 * ({@link BatchQuants#eightQuantSums}, {@link BatchQuants#negatedSums}) and is added per super-block, apart (with it
 * in the kernel of two batch rows, C2 (JDK 25) went past its inlining budget and left the kernel's vectors boxed).
 * {@code s} and {@code m} are products of a half and a 6-bit integer, exact in floats: the result differs from a
 * float decoding of the weights only by the batch's quantization.
 *
 * <p>Layout: output rows in groups of {@link #GROUP}; for each group its super-blocks of 256 columns in order, each:
 * the group's {@code d} halves, its {@code dmin} halves (in {@link PackedQ4_0}'s lane order), for each of the 8
 * blocks the group's 6-bit scales and mins (a byte per row each, in row order), then every block's nibbles in order,
 * as {@link PackedQ4_0} lays out a block's (weight {@code i} low and {@code 16 + i} high, stored as {@code q ^ 8}).
 * The copy is 148 bytes per row and super-block, against the source's 144, and a kernel reads it in one stream.
 *
 * <p>The kernels decode a super-block's {@code s} and {@code m} into scratch, then multiply its 8 blocks by the batch
 * rows and add the rest: per super-block and output the same operations in the same order, whatever the batch size.
 */
final class PackedQ4_K extends PackedSuperBlockWeight {

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

    /** @return whether the vector kernels can take a weight of {@code rows} rows: see {@link #packsLevels} */
    static boolean packs(int rows) {
        return packsLevels(rows);
    }

    /** Repacks {@code rows} rows of {@code rowBytes} bytes from {@code source}, a group per task on the workers. */
    PackedQ4_K(MemorySegment source, long rowBytes, int rows, int cols, WorkerPool pool) {
        super(SUPER_BLOCK_BYTES, rows, cols);
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
    BatchForm batchForm() {
        return BatchForm.NIBBLE_PAIRED_QUANTS_AND_SUMS;
    }

    /** A super-block's decoded scales: per block {@link #SCRATCH_PER_BLOCK} floats. */
    @Override
    int scratchFloats(int rows) {
        return BLOCKS_PER_SUPER_BLOCK * SCRATCH_PER_BLOCK;
    }

    /** The super-block's blocks in {@link PackedQ4_0}'s kernel of two rows. */
    @Override
    void multiplyTwoRows(long at, int superBlock, float[] scales, BatchQuants quants, int r, float[] out, int o,
            int outRows) {
        multiplyTwo(at + RUNS, RUN_BYTES, BLOCKS_PER_SUPER_BLOCK * superBlock, BLOCKS_PER_SUPER_BLOCK, scales,
                SCRATCH_PER_BLOCK, quants, r, out, o, outRows);
    }

    /** Each row's terms of the minimums. */
    @Override
    void addRowTerms(int superBlock, float[] scales, BatchQuants quants, int rows, float[] out, int o, int outRows) {
        for (int r = 0; r < rows; r++) {
            addMinimums(BLOCKS_PER_SUPER_BLOCK * superBlock, scales, quants, r, out, r * outRows + o);
        }
    }

    /**
     * Per block {@code s} of the first half of rows times 2^-16 (for {@link #bottom}'s sums, exact), {@code s} of the
     * second half, then {@code m} of each half.
     */
    @Override
    void decodeScales(long at, float[] scales) {
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
     * The loop over a block's runs is that of {@link PackedQuantWeight#multiplyTwo} for one row, written out again:
     * in a helper of its own C2 would compile it apart and box the sums it returns (see {@link Simd}).
     */
    @Override
    void multiplyOneRow(long superBlockAt, int superBlock, float[] scales, BatchQuants quants, int r, float[] out,
            int o) {
        long runs = superBlockAt + RUNS;
        int block = BLOCKS_PER_SUPER_BLOCK * superBlock;
        short[] x = quants.quants();
        float[] dx = quants.scales();
        short[] offsets = quants.offsets();
        FloatVector a = FloatVector.fromArray(Simd.F, out, o);
        FloatVector b = FloatVector.fromArray(Simd.F, out, o + Simd.LANES);
        for (int sub = 0; sub < BLOCKS_PER_SUPER_BLOCK; sub++) {
            long at = runs + (long) RUN_BYTES * sub;
            int d = r * (cols / BLOCK) + block + sub;
            ShortVector sums = ShortVector.broadcast(S, offsets[d]);
            int c = r * cols + BLOCK * (block + sub);
            for (int i = 0; i < HALF; i++) {
                ShortVector run = (ShortVector) ByteVector.fromMemorySegment(RUN, data, at + (long) GROUP * i,
                        Simd.LE).castShape(S, 0);
                sums = sums.add(run.mul(x[c + i])).add(high(run).mul(x[c + i + HALF]));
            }
            IntVector pairs = sums.reinterpretAsInts();
            float dx0 = dx[d];
            a = bottom(pairs).mul(dx0).fma(FloatVector.fromArray(Simd.F, scales, SCRATCH_PER_BLOCK * sub), a);
            b = top(pairs).mul(dx0).fma(FloatVector.fromArray(Simd.F, scales, SCRATCH_PER_BLOCK * sub + Simd.LANES),
                    b);
        }
        a.intoArray(out, o);
        b.intoArray(out, o + Simd.LANES);
    }

    /**
     * Adds the terms of the 8 blocks from block {@code block} that do not read the weight's nibbles,
     * {@code s · 8 Σ x' dx - m Σ x} per block, for batch row {@code r} to the outputs at {@code out[o]}.
     */
    private void addMinimums(int block, float[] scales, BatchQuants quants, int r, float[] out, int o) {
        float[] dx = quants.scales();
        float[] eights = quants.eightQuantSums();
        float[] negatedSums = quants.negatedSums();
        FloatVector a = FloatVector.fromArray(Simd.F, out, o);
        FloatVector b = FloatVector.fromArray(Simd.F, out, o + Simd.LANES);
        for (int sub = 0; sub < BLOCKS_PER_SUPER_BLOCK; sub++) {
            int d = r * (cols / BLOCK) + block + sub;
            int sAt = SCRATCH_PER_BLOCK * sub;
            float eight = eights[d] * dx[d];
            float negatedSum = negatedSums[d];
            a = FloatVector.fromArray(Simd.F, scales, sAt).mul(eight * 0x1p16f)
                    .add(FloatVector.fromArray(Simd.F, scales, sAt + 2 * Simd.LANES).mul(negatedSum)).add(a);
            b = FloatVector.fromArray(Simd.F, scales, sAt + Simd.LANES).mul(eight)
                    .add(FloatVector.fromArray(Simd.F, scales, sAt + 3 * Simd.LANES).mul(negatedSum)).add(b);
        }
        a.intoArray(out, o);
        b.intoArray(out, o + Simd.LANES);
    }
}
