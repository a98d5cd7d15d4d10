package io.gantry.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * A batch quantized as ggml quantizes the activations its Q4_0 kernels multiply (Q8_0 blocks): per block of 32
 * elements a float scale {@code d = max|x| / 127} and the integers {@code x' = rint(x / d)}, in -127..127. Each row
 * is quantized alone, so its quants do not depend on its batch. The arrays are reused from call to call (one
 * multiplication at a time, see {@link Matmul}).
 *
 * <p>The quants are stored as shorts, paired in the form the weight's kernels read ({@link PackedWeight.BatchForm}).
 * For {@link PackedQ4_0}'s kernels: a block's first 16 as they are, each of its last 16 less 16 times its partner 16
 * places earlier ({@code x'[16 + i] - 16 x'[i]}), and per block the term {@code -8 Σ x'[i]} over the first 16. With
 * them a kernel multiplies a byte of two nibbles as one number, see {@link PackedQ4_0}. For the weights with a
 * minimum per block ({@link PackedQ4_K}), each block also has {@code 8 Σ x'} over all 32 and the sum of its elements
 * themselves, negated. For {@link PackedQ6_K}'s kernels, which multiply a short of two bytes as one number: each
 * even element as it is, each odd one less 256 times the one before ({@code x'[2i + 1] - 256 x'[2i]}, at most
 * 32,639 in magnitude), and per 8 elements the term {@code -32 Σ x'[2i]} over the even ones.
 */
final class BatchQuants {

    static final int BLOCK = PackedWeight.BLOCK;
    /** Shorts with one lane per float lane. */
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class,
            VectorShape.forBitSize(Simd.LANES * Short.SIZE));
    private static final float LARGEST_QUANT = 127;
    /** Elements from which the workers quantize a batch; the caller does smaller ones in microseconds. */
    private static final int PARALLEL = 1 << 16;

    private static final int HALF = BLOCK / 2;
    /** Elements per offset of the byte-paired form. */
    static final int BYTE_PAIRED = 8;

    /** Row {@code r}'s block {@code b} element {@code k}: {@code quants[r cols + 32 b + k]}, paired. */
    private short[] quants = new short[0];
    /** Row {@code r}'s block {@code b}: {@code scales[r cols / 32 + b]}. */
    private float[] scales = new float[0];
    /** Row {@code r}'s block {@code b}: {@code offsets[r cols / 32 + b] = -8 Σ x'[i < 16]}. */
    private short[] offsets = new short[0];
    /** Row {@code r}'s elements {@code 8e..8e+7}: {@code byteOffsets[r cols / 8 + e] = -32 Σ x'[8e + 2i]}. */
    private short[] byteOffsets = new short[0];
    /** Row {@code r}'s block {@code b}: {@code eightQuantSums[r cols / 32 + b] = 8 Σ x'}. */
    private float[] eightQuantSums = new float[0];
    /** Row {@code r}'s block {@code b}: {@code negatedSums[r cols / 32 + b] = -Σ x}. */
    private float[] negatedSums = new float[0];

    /**
     * Quantizes {@code rows} rows of {@code cols} elements (a multiple of 32) of {@code in}, in {@code form}: the
     * arrays it does not ask for are left stale.
     */
    void quantize(float[] in, int rows, int cols, PackedWeight.BatchForm form, WorkerPool pool) {
        if (form == PackedWeight.BatchForm.FLOATS) {
            throw new IllegalArgumentException("A batch read as floats is not quantized");
        }
        if (quants.length < rows * cols) {
            quants = new short[rows * cols];
            scales = new float[rows * cols / BLOCK];
            offsets = new short[rows * cols / BLOCK];
            byteOffsets = new short[rows * cols / BYTE_PAIRED];
            eightQuantSums = new float[rows * cols / BLOCK];
            negatedSums = new float[rows * cols / BLOCK];
        }
        int blocks = rows * cols / BLOCK;
        if (rows * cols < PARALLEL) {
            quantizeBlocks(in, 0, blocks, form);
        } else {
            int perTask = Math.ceilDiv(blocks, 4 * pool.threads());
            pool.run(Math.ceilDiv(blocks, perTask), (task, worker) -> quantizeBlocks(in, task * perTask,
                    Math.min(blocks, (task + 1) * perTask), form));
        }
    }

    short[] quants() {
        return quants;
    }

    float[] scales() {
        return scales;
    }

    short[] offsets() {
        return offsets;
    }

    short[] byteOffsets() {
        return byteOffsets;
    }

    float[] eightQuantSums() {
        return eightQuantSums;
    }

    float[] negatedSums() {
        return negatedSums;
    }

    private void quantizeBlocks(float[] in, int start, int end, PackedWeight.BatchForm form) {
        for (int block = start; block < end; block++) {
            int at = block * BLOCK;
            FloatVector largest = FloatVector.zero(Simd.F);
            for (int i = 0; i < BLOCK; i += Simd.LANES) {
                largest = largest.max(FloatVector.fromArray(Simd.F, in, at + i).abs());
            }
            float d = largest.reduceLanes(VectorOperators.MAX) / LARGEST_QUANT;
            float inverse = d == 0 ? 0 : 1 / d;
            scales[block] = d;
            for (int i = 0; i < BLOCK; i += Simd.LANES) {
                // Adding and taking away 1.5 * 2^23 rounds to the nearest integer (ties to even), as Math.rint.
                FloatVector scaled = FloatVector.fromArray(Simd.F, in, at + i).mul(inverse)
                        .add(Simd.ROUND_TO_INTEGER).sub(Simd.ROUND_TO_INTEGER);
                ((ShortVector) scaled.convertShape(VectorOperators.F2S, S, 0)).intoArray(quants, at + i);
            }
            if (form == PackedWeight.BatchForm.NIBBLE_PAIRED_QUANTS_AND_SUMS) {
                sumBlock(in, at, block);
            }
            if (form == PackedWeight.BatchForm.BYTE_PAIRED_QUANTS) {
                pairBytes(at);
            } else {
                pairBlock(at, block);
            }
        }
    }

    /** Pairs block {@code block}'s quants at {@code quants[at...]} and fills its offset. */
    private void pairBlock(int at, int block) {
        int sum = 0;
        for (int i = 0; i < HALF; i++) {
            sum += quants[at + i];
            quants[at + HALF + i] -= (short) (16 * quants[at + i]);
        }
        offsets[block] = (short) (-8 * sum);
    }

    /** Pairs the block's quants at {@code quants[at...]} for shorts of two bytes and fills its offsets. */
    private void pairBytes(int at) {
        for (int part = at; part < at + BLOCK; part += BYTE_PAIRED) {
            int sum = 0;
            for (int i = part; i < part + BYTE_PAIRED; i += 2) {
                sum += quants[i];
                quants[i + 1] -= (short) (256 * quants[i]);
            }
            byteOffsets[part / BYTE_PAIRED] = (short) (-32 * sum);
        }
    }

    /** Fills block {@code block}'s sums, its quants at {@code quants[at...]} not yet paired. */
    private void sumBlock(float[] in, int at, int block) {
        int quantSum = 0;
        for (int i = 0; i < BLOCK; i++) {
            quantSum += quants[at + i];
        }
        // Lane by lane, then across the lanes in Simd.sum's fixed order (reduceLanes leaves the order open, which
        // could differ between compilations and so between batches).
        FloatVector sums = FloatVector.zero(Simd.F);
        for (int i = 0; i < BLOCK; i += Simd.LANES) {
            sums = sums.add(FloatVector.fromArray(Simd.F, in, at + i));
        }
        eightQuantSums[block] = 8 * quantSum;
        negatedSums[block] = -Simd.sum(sums);
    }
}
