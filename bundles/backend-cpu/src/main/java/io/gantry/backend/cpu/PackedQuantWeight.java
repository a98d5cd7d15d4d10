package io.gantry.backend.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The packed integer formats' common ground ({@link PackedQ4_0}, {@link PackedQ4_K}, {@link PackedQ6_K}): kernels
 * that multiply the batch quantized to 8 bits ({@link BatchQuants}) and sum the products exactly in 16-bit lanes,
 * two lanes per float lane, a group of {@link #GROUP} output rows at a time. Short lane {@code 2j} holds row
 * {@code j} of the group and lane {@code 2j + 1} row {@code GROUP / 2 + j}, so that each half of the rows is one int
 * lane's bottom or top short ({@link #lane}); a block's quants are runs of a byte per row, in that lane order.
 */
abstract sealed class PackedQuantWeight extends PackedWeight permits PackedQ4_0, PackedSuperBlockWeight {

    static final int HALF = BLOCK / 2;
    /** Shorts of the vector shape of {@link Simd#F}: twice its lanes. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, Simd.F.vectorShape());
    /** Output rows of a group: one short lane each. */
    static final int GROUP = S.length();
    /** One run: a byte per row of the group. */
    static final VectorSpecies<Byte> RUN = VectorSpecies.of(byte.class,
            VectorShape.forBitSize(GROUP * Byte.SIZE));
    /**
     * Bytes of half a group's rows, one per float lane; null below 8 lanes (NEON, SSE), where no vector is that
     * small and the formats that read levels do not pack ({@link #packsLevels}).
     */
    static final VectorSpecies<Byte> HALF_GROUP_BYTES = Simd.LANES >= 8
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(Simd.LANES * Byte.SIZE)) : null;
    static final int SCALE_BYTES = GROUP * Short.BYTES;
    /** The group's scales, two halves per int lane: the vector shape of {@link Simd#F}. */
    static final VectorSpecies<Integer> SCALES = VectorSpecies.of(int.class, Simd.F.vectorShape());
    /**
     * Batch rows {@link #multiplyTwo} multiplies together. With 3 or 4, C2 (JDK 25) left the kernel's vectors boxed,
     * allocating on every step: 3 times slower.
     */
    static final int BATCH_ROWS = 2;
    /** Flips the top bit of the high nibble: {@code q ^ 8}, read as a signed nibble, is {@code q - 8}. */
    static final byte SIGN_HIGH_NIBBLE = (byte) 0x80;

    PackedQuantWeight(long bytes, int cols) {
        super(bytes, cols);
    }

    /** @return whether the integer kernels can take a weight of {@code rows} rows: whole groups of 8 or more */
    static boolean packsRows(int rows) {
        return Simd.AVAILABLE && GROUP >= 8 && rows % GROUP == 0;
    }

    /**
     * @return whether the kernels of a format with per-row levels ({@link #levels}) can take a weight of
     *         {@code rows} rows: as {@link #packsRows}, with at least 8 float lanes (half a group's bytes make no
     *         vector species below)
     */
    static boolean packsLevels(int rows) {
        return Simd.LANES >= 8 && packsRows(rows);
    }

    @Override
    int groupRows() {
        return GROUP;
    }

    @Override
    BatchForm batchForm() {
        return BatchForm.NIBBLE_PAIRED_QUANTS;
    }

    @Override
    int tileFloats(int rows) {
        return 0;
    }

    /**
     * Adds {@code count} blocks of a group, from block {@code block}, times batch rows {@code r} and {@code r + 1}
     * ({@link #BATCH_ROWS}) to the outputs at {@code out[o]} and {@code out[o + outRows]}: per block and output
     * {@code s Σ (q - 8) x' dx}. The first block's runs lie at byte offset {@code runs}, each next block's
     * {@code runStride} bytes on; their scales {@code s} are decoded in {@code scales}, {@link #bottomScales} then
     * {@link #topScales}, {@code scaleStride} floats per block.
     */
    final void multiplyTwo(long runs, int runStride, int block, int count, float[] scales, int scaleStride,
            BatchQuants quants, int r, float[] out, int o, int outRows) {
        short[] x = quants.quants();
        float[] dx = quants.scales();
        short[] offsets = quants.offsets();
        FloatVector a0 = FloatVector.fromArray(Simd.F, out, o);
        FloatVector b0 = FloatVector.fromArray(Simd.F, out, o + Simd.LANES);
        FloatVector a1 = FloatVector.fromArray(Simd.F, out, o + outRows);
        FloatVector b1 = FloatVector.fromArray(Simd.F, out, o + outRows + Simd.LANES);
        int blocks = cols / BLOCK;
        for (int n = 0; n < count; n++) {
            long at = runs + (long) runStride * n;
            int d = r * blocks + block + n;
            ShortVector s0 = ShortVector.broadcast(S, offsets[d]);
            ShortVector s1 = ShortVector.broadcast(S, offsets[d + blocks]);
            int c = r * cols + BLOCK * (block + n);
            for (int i = 0; i < HALF; i++) {
                ShortVector run = (ShortVector) ByteVector.fromMemorySegment(RUN, data, at + (long) GROUP * i,
                        Simd.LE).castShape(S, 0);
                ShortVector h = high(run);
                int k = c + i;
                s0 = s0.add(run.mul(x[k])).add(h.mul(x[k + HALF]));
                s1 = s1.add(run.mul(x[k + cols])).add(h.mul(x[k + cols + HALF]));
            }
            FloatVector first = FloatVector.fromArray(Simd.F, scales, scaleStride * n);
            FloatVector second = FloatVector.fromArray(Simd.F, scales, scaleStride * n + Simd.LANES);
            IntVector p0 = s0.reinterpretAsInts();
            IntVector p1 = s1.reinterpretAsInts();
            float dx0 = dx[d];
            float dx1 = dx[d + blocks];
            a0 = bottom(p0).mul(dx0).fma(first, a0);
            b0 = top(p0).mul(dx0).fma(second, b0);
            a1 = bottom(p1).mul(dx1).fma(first, a1);
            b1 = top(p1).mul(dx1).fma(second, b1);
        }
        a0.intoArray(out, o);
        b0.intoArray(out, o + Simd.LANES);
        a1.intoArray(out, o + outRows);
        b1.intoArray(out, o + outRows + Simd.LANES);
    }

    /**
     * @return the {@code part}th run of {@link Simd#LANES} signed 8-bit levels from byte offset {@code at}, as
     *         floats: a format stores a group's levels of a block a byte per row in row order, so even parts are the
     *         group's first half of rows, odd parts its second; under 35 bytecodes, so that C2 inlines it wherever it
     *         is called (see below)
     */
    final FloatVector levels(long at, int part) {
        return (FloatVector) ByteVector.fromMemorySegment(HALF_GROUP_BYTES, data, at + (long) Simd.LANES * part,
                Simd.LE).castShape(Simd.F, 0);
    }

    /** @return the signed high nibbles {@code h} of a run widened to shorts */
    static ShortVector high(ShortVector run) {
        return run.lanewise(VectorOperators.ASHR, 4);
    }

    // The helpers below stay under 35 bytecodes: C2 inlines larger ones only where it finds the call hot, and
    // the kernels' once-per-block calls are not; a vector passed to a call that is not inlined is boxed.

    /**
     * @return the bottom short of each int lane of short sums, times 2^16, as floats (exact: at most 15
     *         significant bits): the sums of the group's first half of rows, scaled up to save the shift down;
     *         {@link #bottomScales} scales down
     */
    static FloatVector bottom(IntVector sums) {
        return (FloatVector) sums.lanewise(VectorOperators.LSHL, 16).castShape(Simd.F, 0);
    }

    /** @return the top short of each int lane, as floats: the sums of the group's second half of rows */
    static FloatVector top(IntVector sums) {
        // Shifts within int lanes: a cast of the top half of the short lanes would move lanes across the vector,
        // which C2 does not compile to one instruction.
        return (FloatVector) sums.lanewise(VectorOperators.ASHR, 16).castShape(Simd.F, 0);
    }

    /**
     * @return the bottom half float of each int lane times 2^-16, as a float (exact: no half is that small): the
     *         scales of the group's first half of rows, for {@link #bottom}'s sums
     */
    static FloatVector bottomScales(IntVector halves) {
        return scales(halves.lanewise(VectorOperators.LSHL, 16), Simd.HALF_TO_FLOAT_SCALE * 0x1p-16f);
    }

    /** @return the top half float of each int lane, as a float: the scales of the group's second half of rows */
    static FloatVector topScales(IntVector halves) {
        return scales(halves, Simd.HALF_TO_FLOAT_SCALE);
    }

    /**
     * @return the half floats in the top of the int lanes, times {@code rebias / 2^112}: shifted down by 3,
     *         arithmetically, a half's exponent and mantissa land in a float's with copies of its sign above
     */
    static FloatVector scales(IntVector halves, float rebias) {
        return Simd.halfBitsToFloat(halves.lanewise(VectorOperators.ASHR, 3), rebias);
    }

    /** @return the short lane holding output row {@code row} of a group: rows alternate between the halves */
    static int lane(int row) {
        return row < GROUP / 2 ? 2 * row : 2 * (row - GROUP / 2) + 1;
    }
}
