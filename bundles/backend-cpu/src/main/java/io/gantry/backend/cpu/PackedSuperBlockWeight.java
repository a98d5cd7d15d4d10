package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The packed integer formats with super-blocks of 256 columns ({@link PackedQ4_K}, {@link PackedQ6_K}). For each
 * group of rows its super-blocks follow each other, each with its scales before its quants, and the kernels decode
 * one super-block's scales into scratch just before they multiply its quants: the copy is read in one stream, and
 * the decoding is short enough for the out-of-order window to overlap it with the loads (decoding a whole group's
 * scales apart left the memory idle while it ran: a 1-row Q4_K product from memory ran at half Q4_0's speed).
 */
abstract sealed class PackedSuperBlockWeight extends PackedQuantWeight permits PackedQ4_K, PackedQ6_K {

    static final int SUPER_BLOCK = 256;

    private final int superBlockBytes;
    private final long groupBytes;

    /** @param superBlockBytes bytes of a packed super-block of a group */
    PackedSuperBlockWeight(int superBlockBytes, int rows, int cols) {
        super((long) superBlockBytes * (cols / SUPER_BLOCK) * (rows / GROUP), cols);
        this.superBlockBytes = superBlockBytes;
        this.groupBytes = (long) superBlockBytes * (cols / SUPER_BLOCK);
    }

    /**
     * Per group its outputs zeroed, then per super-block: its scales decoded, the batch {@link #BATCH_ROWS} rows at
     * a time, the rest one by one, then {@link #addRowTerms}; all accumulated in {@code out}.
     */
    @Override
    final void multiply(float[] in, BatchQuants quants, float[] out, int rows, int outRows, int start, int end,
            float[] scratch, MemorySegment tile) {
        for (int group = start / GROUP; group < end / GROUP; group++) {
            long at = group * groupBytes;
            int o = group * GROUP;
            for (int r = 0; r < rows; r++) {
                Arrays.fill(out, r * outRows + o, r * outRows + o + GROUP, 0);
            }
            for (int superBlock = 0; superBlock < cols / SUPER_BLOCK; superBlock++) {
                long superBlockAt = at + (long) superBlockBytes * superBlock;
                decodeScales(superBlockAt, scratch);
                int r = 0;
                for (; r + BATCH_ROWS <= rows; r += BATCH_ROWS) {
                    multiplyTwoRows(superBlockAt, superBlock, scratch, quants, r, out, r * outRows + o, outRows);
                }
                for (; r < rows; r++) {
                    multiplyOneRow(superBlockAt, superBlock, scratch, quants, r, out, r * outRows + o);
                }
                addRowTerms(superBlock, scratch, quants, rows, out, o, outRows);
            }
        }
    }

    /**
     * Decodes the scales of the super-block at byte offset {@code at} into {@code scratch}. A method apart from the
     * kernels: decoding in them takes a kernel past the size up to which C2 (JDK 25) inlines the Vector API
     * (NodeCountInliningCutoff), and it then boxes vectors on every block.
     */
    abstract void decodeScales(long at, float[] scratch);

    /**
     * Adds super-block {@code superBlock}, packed at byte offset {@code at}, times batch rows {@code r} and
     * {@code r + 1} to the outputs at {@code out[o]} and {@code out[o + outRows]}, its scales decoded in
     * {@code scales}.
     */
    abstract void multiplyTwoRows(long at, int superBlock, float[] scales, BatchQuants quants, int r, float[] out,
            int o, int outRows);

    /** As {@link #multiplyTwoRows} for batch row {@code r} alone, with the same operations per output. */
    abstract void multiplyOneRow(long at, int superBlock, float[] scales, BatchQuants quants, int r, float[] out,
            int o);

    /**
     * Adds the terms of super-block {@code superBlock} that the kernels leave out, for each of the batch's
     * {@code rows} rows (row {@code r}'s outputs at {@code out[r outRows + o]}); none unless a format has some.
     */
    void addRowTerms(int superBlock, float[] scales, BatchQuants quants, int rows, float[] out, int o, int outRows) {
    }
}
