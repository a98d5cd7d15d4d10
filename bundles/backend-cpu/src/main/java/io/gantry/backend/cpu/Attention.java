package io.gantry.backend.cpu;

import io.gantry.api.backend.AttentionBatch;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Causal grouped-query attention over the KV pool, one task per (row, query head): the row's query
 * attends to positions {@code 0..} its own of its sequence, found through the sequence's block table.
 */
final class Attention {

    private Attention() {
    }

    /**
     * @param out   rows of {@code heads * headDim}: the result
     * @param q     rows of {@code heads * headDim}: the rotated queries
     * @param heads query heads, a multiple of the pool's KV heads
     */
    static void run(WorkerPool pool, float[] out, float[] q, int heads, CpuKvPool kv, int layer,
            AttentionBatch batch, BatchRows rows, boolean vector) {
        int headDim = kv.spec().headDim();
        int capacity = kv.spec().capacitySlots();
        int queriesPerKvHead = heads / kv.spec().kvHeads();
        float scale = (float) (1 / Math.sqrt(headDim));
        float[] keys = kv.keys(layer);
        float[] values = kv.values(layer);
        boolean batchedDots = vector && headDim % Simd.LANES == 0;
        pool.run(rows.rows() * heads, (task, worker) -> {
            int row = task / heads;
            int head = task % heads;
            int position = rows.position()[row];
            int kvBase = head / queriesPerKvHead * capacity * headDim;
            int length = position + 1;
            // One scratch array: the scores, then room for a group of lane vectors (see scoresByGroups).
            float[] scratch = pool.scratch(worker, Simd.F.loopBound(length + Simd.LANES - 1) + Simd.LANES * Simd.LANES);
            int sequence = rows.sequence()[row];
            int[] table = batch.blockTables()[sequence];
            int blockSize = batch.blockSize();
            int offset = (row * heads + head) * headDim;
            if (batchedDots) {
                scoresByGroups(scratch, q, offset, keys, kvBase, headDim, capacity, table, blockSize, sequence, length,
                        scale);
            } else {
                for (int t = 0; t < length; t++) {
                    int slot = blockStart(table, t / blockSize, blockSize, capacity, sequence) + t % blockSize;
                    scratch[t] = Simd.dot(q, offset, keys, kvBase + slot * headDim, headDim, vector) * scale;
                }
            }
            softmax(scratch, length, vector);
            if (batchedDots) {
                weightedValuesByLanes(out, offset, scratch, values, kvBase, headDim, capacity, table, blockSize,
                        sequence, length);
                return;
            }
            Arrays.fill(out, offset, offset + headDim, 0f);
            for (int block = 0; block * blockSize < length; block++) {
                int start = blockStart(table, block, blockSize, capacity, sequence);
                for (int t = block * blockSize, end = Math.min(length, t + blockSize); t < end; t++) {
                    RowOps.addScaled(out, offset, scratch[t], values,
                            kvBase + (start + t - block * blockSize) * headDim, headDim, vector);
                }
            }
        });
    }

    /**
     * @return the first KV pool slot of block {@code block} of the sequence's table. Positions are walked block by
     *         block: done for speed, since {@link AttentionBatch#slot}'s division by a block size only known at run
     *         time cost more than the dot product of a position.
     */
    private static int blockStart(int[] table, int block, int blockSize, int capacity, int sequence) {
        int start = block < table.length ? table[block] * blockSize : -1;
        if (start < 0 || start + blockSize > capacity) {
            throw new IllegalArgumentException("The block table of sequence " + sequence + " maps block " + block
                    + " outside the KV pool's " + capacity + " slots");
        }
        return start;
    }

    /**
     * The scaled scores {@code q · k[t]} of positions {@code 0..length-1}, {@link Simd#LANES} positions at a time:
     * each position's products are summed into one vector, and one {@link Simd#sums} call reduces the group's
     * vectors together. Done for speed: a horizontal sum per position cost more than its dot product.
     */
    private static void scoresByGroups(float[] scores, float[] q, int offset, float[] keys, int kvBase, int headDim,
            int capacity, int[] table, int blockSize, int sequence, int length, float scale) {
        int lanesOffset = Simd.F.loopBound(length + Simd.LANES - 1);
        int block = 0;
        int within = 0;
        int start = blockStart(table, 0, blockSize, capacity, sequence);
        for (int first = 0; first < length; first += Simd.LANES) {
            int count = Math.min(Simd.LANES, length - first);
            for (int j = 0; j < Simd.LANES; j++) {
                FloatVector products = FloatVector.zero(Simd.F);
                if (j < count) {
                    int key = kvBase + (start + within) * headDim;
                    for (int d = 0; d < headDim; d += Simd.LANES) {
                        products = FloatVector.fromArray(Simd.F, q, offset + d)
                                .fma(FloatVector.fromArray(Simd.F, keys, key + d), products);
                    }
                    if (++within == blockSize && first + j + 1 < length) {
                        within = 0;
                        start = blockStart(table, ++block, blockSize, capacity, sequence);
                    }
                }
                products.intoArray(scores, lanesOffset + j * Simd.LANES);
            }
            Simd.sums(scores, lanesOffset, Simd.LANES);
            for (int j = 0; j < count; j++) {
                scores[first + j] = scores[lanesOffset + Simd.sumIndex(j)] * scale;
            }
        }
    }

    /**
     * {@code out = sum over t of weights[t] * v[t]}, one vector of lanes of the head at a time, summed in a register
     * over all positions. Done for speed: adding each position into {@code out} in memory made every position wait
     * for the store of the one before.
     */
    private static void weightedValuesByLanes(float[] out, int offset, float[] weights, float[] values, int kvBase,
            int headDim, int capacity, int[] table, int blockSize, int sequence, int length) {
        for (int d = 0; d < headDim; d += Simd.LANES) {
            FloatVector sum = FloatVector.zero(Simd.F);
            for (int block = 0; block * blockSize < length; block++) {
                int first = block * blockSize;
                int value = kvBase + (blockStart(table, block, blockSize, capacity, sequence) - first) * headDim + d;
                for (int t = first, end = Math.min(length, first + blockSize); t < end; t++) {
                    sum = FloatVector.fromArray(Simd.F, values, value + t * headDim)
                            .fma(FloatVector.broadcast(Simd.F, weights[t]), sum);
                }
            }
            sum.intoArray(out, offset + d);
        }
    }

    /** Turns {@code scores[0..length-1]} into softmax weights in place. */
    private static void softmax(float[] scores, int length, boolean vector) {
        float max = Float.NEGATIVE_INFINITY;
        for (int t = 0; t < length; t++) {
            max = Math.max(max, scores[t]);
        }
        float sum = 0;
        int t = 0;
        if (vector) {
            // Vector EXP runs on the platform's SIMD math library: far faster than Math.exp per score.
            FloatVector sums = FloatVector.zero(Simd.F);
            for (int bound = Simd.F.loopBound(length); t < bound; t += Simd.LANES) {
                FloatVector e = FloatVector.fromArray(Simd.F, scores, t).sub(max).lanewise(VectorOperators.EXP);
                e.intoArray(scores, t);
                sums = sums.add(e);
            }
            sum = Simd.sum(sums);
        }
        for (; t < length; t++) {
            float e = (float) Math.exp(scores[t] - max);
            scores[t] = e;
            sum += e;
        }
        float normalize = 1 / sum;
        for (int i = 0; i < length; i++) {
            scores[i] *= normalize;
        }
    }
}
