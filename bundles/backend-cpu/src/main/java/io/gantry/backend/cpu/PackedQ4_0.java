package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;

/**
 * A Q4_0 weight repacked for integer kernels: it multiplies the batch quantized to 8 bits ({@link BatchQuants}),
 * as ggml's Q4_0 kernels do, and sums each block's products exactly in 16-bit lanes, two lanes per float lane.
 * Per block the lanes' sums are converted to floats and scaled: {@code out += (Σ (q - 8)·x) · dx · dw}.
 *
 * <p>Why 16 bits: {@code |q - 8| ≤ 8} and {@code |x| ≤ 127}, so a block's 32 products sum to at most 32,512 in
 * magnitude, and a 16-bit multiply handles twice the lanes of a float FMA. Lanes wrap around on overflow, so
 * partial sums may leave that range as long as the block's sum is in it: the sum is still exact.
 *
 * <p>Decoding: a byte holds weight {@code i} of a block as {@code u = q}, unsigned, in its low nibble and weight
 * {@code 16 + i} as {@code h = q - 8}, signed, in its high one; read as a signed byte it is {@code s = 16h + u}.
 * With the batch's quants paired as {@link BatchQuants} stores them,
 * {@code (u - 8)·x[i] + h·x[16 + i] = s·x[i] + h·(x[16 + i] - 16 x[i]) - 8 x[i]}: one shift decodes a byte, and
 * the last term, summed over the block, is the batch's own, added once per block.
 *
 * <p>Layout: output rows in groups of {@link #GROUP} (the short lanes of a vector); for each group its blocks of
 * 32 columns in order, each the group's half-float scales ({@code dw}) and then 16 runs of {@link #GROUP} bytes,
 * run {@code i} holding row {@code j}'s source byte {@code i}: weight {@code i} of the block in the low nibble and
 * weight {@code 16 + i} in the high one (ggml's order), the high one stored as {@code q ^ 8}. Scales and bytes are
 * in lane order: short lane {@code 2j} holds row {@code j} and lane {@code 2j + 1} row {@code GROUP / 2 + j}, so
 * that each half of the rows is one int lane's bottom or top short. The copy is as large as the source.
 *
 * <p>Order: the integer sums are exact, and each output then takes one multiplication and one FMA per block in
 * block order, whatever the batch size and whichever kernel runs.
 */
final class PackedQ4_0 extends PackedQuantWeight {

    private static final int SOURCE_BLOCK_BYTES = 18;
    private static final int BLOCK_BYTES = SCALE_BYTES + HALF * GROUP;

    private final long groupBytes;

    /** @return whether the vector kernels can take a weight of {@code rows} rows: see {@link #packsRows} */
    static boolean packs(int rows) {
        return packsRows(rows);
    }

    /** Repacks {@code rows} rows of {@code rowBytes} bytes from {@code source}, a group per task on the workers. */
    PackedQ4_0(MemorySegment source, long rowBytes, int rows, int cols, WorkerPool pool) {
        super((long) BLOCK_BYTES * (cols / BLOCK) * (rows / GROUP), cols);
        this.groupBytes = (long) BLOCK_BYTES * (cols / BLOCK);
        repack(source, rowBytes, rows, GROUP, BLOCK, SOURCE_BLOCK_BYTES, BLOCK_BYTES, pool, (block, row, packed) -> {
            int lane = lane(row);
            SHORTS.set(packed, Short.BYTES * lane, (short) SHORTS.get(block, 0));
            for (int i = 0; i < HALF; i++) {
                packed[SCALE_BYTES + i * GROUP + lane] = (byte) (block[2 + i] ^ SIGN_HIGH_NIBBLE);
            }
        });
    }

    /** The scales of a group that {@link #multiplyTwo} reads, decoded: see {@link #decodeScales}. */
    @Override
    int scratchFloats(int rows) {
        return rows < BATCH_ROWS ? 0 : cols / BLOCK * GROUP;
    }

    /**
     * Per group, the batch {@link #BATCH_ROWS} rows at a time, then the rest one by one. For the former the group's
     * scales are decoded once into {@code scratch}, for all of its calls.
     */
    @Override
    void multiply(float[] in, BatchQuants quants, float[] out, int rows, int outRows, int start, int end,
            float[] scratch, MemorySegment tile) {
        short[] x = quants.quants();
        float[] dx = quants.scales();
        short[] offsets = quants.offsets();
        for (int group = start / GROUP; group < end / GROUP; group++) {
            long at = group * groupBytes;
            int r = 0;
            if (rows >= BATCH_ROWS) {
                decodeScales(at, scratch);
            }
            for (; r + BATCH_ROWS <= rows; r += BATCH_ROWS) {
                int o = r * outRows + group * GROUP;
                Arrays.fill(out, o, o + GROUP, 0);
                Arrays.fill(out, o + outRows, o + outRows + GROUP, 0);
                multiplyTwo(at + SCALE_BYTES, BLOCK_BYTES, 0, cols / BLOCK, scratch, GROUP, quants, r, out, o,
                        outRows);
            }
            for (; r < rows; r++) {
                multiplyOne(at, x, dx, offsets, r, out, r * outRows + group * GROUP);
            }
        }
    }

    /**
     * Decodes the scales of the group at byte offset {@code at}, block by block: {@link #bottomScales} at
     * {@code scales[GROUP block]}, then {@link #topScales}. Done for C2: decoding them in {@link #multiplyTwo} takes
     * it past the size up to which C2 inlines the Vector API, and it then boxes vectors on every step.
     */
    private void decodeScales(long at, float[] scales) {
        for (int block = 0, blocks = cols / BLOCK; block < blocks; block++) {
            IntVector halves = IntVector.fromMemorySegment(SCALES, data, at + (long) BLOCK_BYTES * block, Simd.LE);
            bottomScales(halves).intoArray(scales, GROUP * block);
            topScales(halves).intoArray(scales, GROUP * block + Simd.LANES);
        }
    }

    /** As {@link #multiplyTwo} for batch row {@code r} alone, with the same operations per output. */
    private void multiplyOne(long at, short[] x, float[] dx, short[] offsets, int r, float[] out, int o) {
        FloatVector a = FloatVector.zero(Simd.F);
        FloatVector b = a;
        int blocks = cols / BLOCK;
        for (int block = 0; block < blocks; block++) {
            long scales = at + (long) BLOCK_BYTES * block;
            long runs = scales + SCALE_BYTES;
            int d = r * blocks + block;
            ShortVector sums = ShortVector.broadcast(S, offsets[d]);
            int c = r * cols + BLOCK * block;
            for (int i = 0; i < HALF; i++) {
                ShortVector run = (ShortVector) ByteVector.fromMemorySegment(RUN, data, runs + (long) GROUP * i,
                        Simd.LE).castShape(S, 0);
                sums = sums.add(run.mul(x[c + i])).add(high(run).mul(x[c + i + HALF]));
            }
            IntVector halves = IntVector.fromMemorySegment(SCALES, data, scales, Simd.LE);
            IntVector pairs = sums.reinterpretAsInts();
            float dx0 = dx[d];
            a = bottom(pairs).mul(dx0).fma(bottomScales(halves), a);
            b = top(pairs).mul(dx0).fma(topScales(halves), b);
        }
        a.intoArray(out, o);
        b.intoArray(out, o + Simd.LANES);
    }
}
