package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * A Q6_K weight repacked for integer kernels: a byte per weight, multiplied by the batch quantized to 8 bits
 * ({@link BatchQuants}) in 16-bit lanes. Q6_K's weight is {@code w = d · scale · (q - 32)} with {@code d} a half per
 * super-block of 256 and {@code scale} a signed byte per sub-block of 16 ({@link Q6_KFormat}), so per sub-block
 * {@code Σ w x = d · scale · Σ (q - 32) x' dx}, where {@code dx} is the batch's scale of the block of 32 that holds
 * the sub-block.
 *
 * <p>Why a sum per 8 columns: {@code |q - 32| ≤ 32} and {@code |x'| ≤ 127}, so 8 products sum to at most 32,512 in
 * magnitude and fit a short, 16 may not. Each 8 columns' sum of shorts is converted to floats, multiplied by
 * {@code dx} and added to the output by FMA with {@code d · scale} (exact in a float: 11 by 8 significant bits).
 * The result differs from a float decoding of the weights only by the batch's quantization.
 *
 * <p>Decoding: two columns' bytes are one short, {@code q} of the first in the low byte (unsigned) and {@code q - 32}
 * of the second ({@code h}) in the high one, so the short is {@code s = 256 h + q}. With the batch's quants paired as
 * {@link BatchQuants} stores them, {@code (q - 32)·x[0] + h·x[1] = s·x[0] + h·(x[1] - 256 x[0]) - 32 x[0]}: the
 * shorts are loaded as they are, one shift gives {@code h}, and the last term, summed over 8 columns, is the batch's
 * own, the sum's starting value. Lanes wrap around on overflow, and the sum is exact as long as its end is in range.
 * Against a byte per lane widened to a short, this halved the loads and widenings: one batch row from cache, 47 to
 * 66 GFLOP/s (MatmulBenchmark, 2048 by 2048, one thread, Zen 4).
 *
 * <p>Why not Q6_K's own 6.6 bits per weight: a byte per weight decodes in one shift per two, where the file's split
 * nibbles and 2-bit parts take several operations per weight, and the kernel would no longer keep up with the
 * memory at one batch row. The copy takes 8.6 bits per weight; the float kernels' copy it replaces took 10 (a float
 * scale per 16), and their one batch row from memory ran at 48-49 GFLOP/s on two threads, this one at 59-78.
 * Batches of 16 and 128 rows run some 15% slower than those float kernels did (78 against 88-94 GFLOP/s from
 * cache, one thread): the conversions of sums every 8 columns cost more than the float kernels' decoding.
 *
 * <p>Layout: output rows in groups of {@link #GROUP}; for each group its super-blocks of 256 columns in order, each:
 * the group's {@code d} halves (in {@link PackedQ4_0}'s lane order), for each of the 16 sub-blocks the group's
 * scales (a byte per row, in row order), then for each pair of columns a run of the group's shorts in lane order.
 * 274 bytes per row and super-block, against the source's 210; a kernel reads the copy in one stream.
 *
 * <p>The kernels decode a super-block's {@code d · scale} into scratch, then multiply its columns by the batch rows:
 * per super-block and output the same operations in the same order, whatever the batch size.
 */
final class PackedQ6_K extends PackedSuperBlockWeight {

    private static final int SUB_BLOCK = 16;
    private static final int SUB_BLOCKS = SUPER_BLOCK / SUB_BLOCK;
    /** Columns of half a sub-block: as many products as a short holds the sum of. */
    private static final int SHORT_SUM = SUB_BLOCK / 2;
    private static final int SOURCE_BYTES = 210;
    /** Where a packed super-block's sub-block scales start: after the group's {@code d} halves. */
    private static final int LEVELS = SCALE_BYTES;
    /** Where a packed super-block's runs of shorts start. */
    private static final int RUNS = LEVELS + SUB_BLOCKS * GROUP;
    private static final int SUPER_BLOCK_BYTES = RUNS + SUPER_BLOCK * GROUP;
    /** Bytes of a run of shorts: two columns of the group. */
    private static final int PAIR_BYTES = GROUP * Short.BYTES;
    /** Bytes of the runs of 8 columns. */
    private static final int PART_BYTES = SHORT_SUM / 2 * PAIR_BYTES;
    /** Floats of decoded scales per sub-block: {@code d · scale} of the group's two halves of rows. */
    private static final int SCRATCH_PER_SUB_BLOCK = 2 * Simd.LANES;

    /** @return whether the vector kernels can take a weight of {@code rows} rows: see {@link #packsLevels} */
    static boolean packs(int rows) {
        return packsLevels(rows);
    }

    /** Repacks {@code rows} rows of {@code rowBytes} bytes from {@code source}, a group per task on the workers. */
    PackedQ6_K(MemorySegment source, long rowBytes, int rows, int cols, WorkerPool pool) {
        super(SUPER_BLOCK_BYTES, rows, cols);
        repack(source, rowBytes, rows, GROUP, SUPER_BLOCK, SOURCE_BYTES, SUPER_BLOCK_BYTES, pool,
                (block, row, packed) -> {
                    int lane = lane(row);
                    SHORTS.set(packed, Short.BYTES * lane, (short) SHORTS.get(block, Q6_KFormat.D));
                    for (int sub = 0; sub < SUB_BLOCKS; sub++) {
                        packed[LEVELS + sub * GROUP + row] = block[Q6_KFormat.SCALES + sub];
                    }
                    // Columns 2i and 2i + 1 are a short: q of the first, q - 32 of the second above it.
                    for (int i = 0; i < SUPER_BLOCK / 2; i++) {
                        int first = Q6_KFormat.quant(block, 2 * i);
                        int second = Q6_KFormat.quant(block, 2 * i + 1) - 32;
                        SHORTS.set(packed, RUNS + i * PAIR_BYTES + lane * Short.BYTES, (short) (first | second << 8));
                    }
                });
    }

    @Override
    BatchForm batchForm() {
        return BatchForm.BYTE_PAIRED_QUANTS;
    }

    /** A super-block's decoded scales: per sub-block {@link #SCRATCH_PER_SUB_BLOCK} floats. */
    @Override
    int scratchFloats(int rows) {
        return SUB_BLOCKS * SCRATCH_PER_SUB_BLOCK;
    }

    /**
     * Per sub-block {@code d · scale} of the group's first half of rows times 2^-16 (for {@link #bottom}'s sums,
     * exact), then that of its second half.
     */
    @Override
    void decodeScales(long at, float[] scales) {
        IntVector d = IntVector.fromMemorySegment(SCALES, data, at, Simd.LE);
        FloatVector bottom = bottomScales(d);
        FloatVector top = topScales(d);
        for (int sub = 0; sub < SUB_BLOCKS; sub++) {
            long levels = at + LEVELS + (long) GROUP * sub;
            bottom.mul(levels(levels, 0)).intoArray(scales, SCRATCH_PER_SUB_BLOCK * sub);
            top.mul(levels(levels, 1)).intoArray(scales, SCRATCH_PER_SUB_BLOCK * sub + Simd.LANES);
        }
    }

    /**
     * A sum of shorts per 8 columns, each then added to the outputs: with the two sums of a sub-block added first,
     * C2 (JDK 25) went past its inlining budget (NodeCountInliningCutoff) and boxed the kernel's vectors.
     */
    @Override
    void multiplyTwoRows(long superBlockAt, int superBlock, float[] scales, BatchQuants quants, int r, float[] out,
            int o, int outRows) {
        long runs = superBlockAt + RUNS;
        int column = SUPER_BLOCK * superBlock;
        short[] x = quants.quants();
        float[] dx = quants.scales();
        short[] offsets = quants.byteOffsets();
        FloatVector a0 = FloatVector.fromArray(Simd.F, out, o);
        FloatVector b0 = FloatVector.fromArray(Simd.F, out, o + Simd.LANES);
        FloatVector a1 = FloatVector.fromArray(Simd.F, out, o + outRows);
        FloatVector b1 = FloatVector.fromArray(Simd.F, out, o + outRows + Simd.LANES);
        int blocks = cols / BLOCK;
        for (int part = 0; part < SUPER_BLOCK / SHORT_SUM; part++) {
            long at = runs + (long) PART_BYTES * part;
            int c = r * cols + column + SHORT_SUM * part;
            ShortVector sums0 = ShortVector.broadcast(S, offsets[c / SHORT_SUM]);
            ShortVector sums1 = ShortVector.broadcast(S, offsets[(c + cols) / SHORT_SUM]);
            for (int i = 0; i < SHORT_SUM; i += 2) {
                ShortVector pair = pair(at + (long) PAIR_BYTES * i / 2);
                ShortVector high = pair.lanewise(VectorOperators.ASHR, 8);
                sums0 = sums0.add(pair.mul(x[c + i])).add(high.mul(x[c + i + 1]));
                sums1 = sums1.add(pair.mul(x[c + cols + i])).add(high.mul(x[c + cols + i + 1]));
            }
            int d = r * blocks + (column + SHORT_SUM * part) / BLOCK;
            float dx0 = dx[d];
            float dx1 = dx[d + blocks];
            int scale = SCRATCH_PER_SUB_BLOCK * (part / 2);
            FloatVector bottomScale = FloatVector.fromArray(Simd.F, scales, scale);
            FloatVector topScale = FloatVector.fromArray(Simd.F, scales, scale + Simd.LANES);
            IntVector p0 = sums0.reinterpretAsInts();
            IntVector p1 = sums1.reinterpretAsInts();
            a0 = bottom(p0).mul(dx0).fma(bottomScale, a0);
            b0 = top(p0).mul(dx0).fma(topScale, b0);
            a1 = bottom(p1).mul(dx1).fma(bottomScale, a1);
            b1 = top(p1).mul(dx1).fma(topScale, b1);
        }
        a0.intoArray(out, o);
        b0.intoArray(out, o + Simd.LANES);
        a1.intoArray(out, o + outRows);
        b1.intoArray(out, o + outRows + Simd.LANES);
    }

    @Override
    void multiplyOneRow(long superBlockAt, int superBlock, float[] scales, BatchQuants quants, int r, float[] out,
            int o) {
        long runs = superBlockAt + RUNS;
        int column = SUPER_BLOCK * superBlock;
        short[] x = quants.quants();
        float[] dx = quants.scales();
        short[] offsets = quants.byteOffsets();
        FloatVector a = FloatVector.fromArray(Simd.F, out, o);
        FloatVector b = FloatVector.fromArray(Simd.F, out, o + Simd.LANES);
        for (int part = 0; part < SUPER_BLOCK / SHORT_SUM; part++) {
            long at = runs + (long) PART_BYTES * part;
            int c = r * cols + column + SHORT_SUM * part;
            ShortVector sums = ShortVector.broadcast(S, offsets[c / SHORT_SUM]);
            for (int i = 0; i < SHORT_SUM; i += 2) {
                ShortVector pair = pair(at + (long) PAIR_BYTES * i / 2);
                sums = sums.add(pair.mul(x[c + i])).add(pair.lanewise(VectorOperators.ASHR, 8).mul(x[c + i + 1]));
            }
            float dx0 = dx[r * (cols / BLOCK) + (column + SHORT_SUM * part) / BLOCK];
            int scale = SCRATCH_PER_SUB_BLOCK * (part / 2);
            IntVector pairs = sums.reinterpretAsInts();
            a = bottom(pairs).mul(dx0).fma(FloatVector.fromArray(Simd.F, scales, scale), a);
            b = top(pairs).mul(dx0).fma(FloatVector.fromArray(Simd.F, scales, scale + Simd.LANES), b);
        }
        a.intoArray(out, o);
        b.intoArray(out, o + Simd.LANES);
    }

    /** @return the group's shorts of two columns at byte offset {@code at} */
    private ShortVector pair(long at) {
        return ShortVector.fromMemorySegment(S, data, at, Simd.LE);
    }
}
