package io.gantry.backend.cpu;

import io.gantry.api.backend.AttentionBatch;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * Causal grouped-query attention over the KV pool, one task per (row, KV head): each of the row's queries attends
 * to positions {@code 0..} its own of its sequence, found through the sequence's block table.
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
        int kvHeads = kv.spec().kvHeads();
        // One task per row and KV head, for the query heads that share it one after the other: the KV head's keys
        // and values come from memory for the first and from the core's caches for the others.
        pool.run(rows.rows() * kvHeads, (task, worker) -> {
            int row = task / kvHeads;
            int kvHead = task % kvHeads;
            int kvBase = kvHead * capacity * headDim;
            int length = rows.position()[row] + 1;
            // One scratch array: the scores, then room for a group of lane vectors (see scoresByGroups).
            float[] scratch = pool.scratch(worker, Simd.F.loopBound(length + Simd.LANES - 1) + Simd.LANES * Simd.LANES);
            int sequence = rows.sequence()[row];
            int[] table = batch.blockTables()[sequence];
            int blockSize = batch.blockSize();
            for (int head = kvHead * queriesPerKvHead; head < (kvHead + 1) * queriesPerKvHead; head++) {
                int offset = (row * heads + head) * headDim;
                if (batchedDots) {
                    scoresByGroups(scratch, q, offset, keys, kvBase, headDim, capacity, table, blockSize, sequence,
                            length, scale);
                } else {
                    SlotWalk walk = new SlotWalk(table, blockSize, capacity, sequence);
                    for (int t = 0; t < length; t++) {
                        scratch[t] = Simd.dot(q, offset, keys, kvBase + walk.next() * headDim, headDim, vector) * scale;
                    }
                }
                softmax(scratch, length, vector);
                if (batchedDots) {
                    weightedValuesByLanes(out, offset, scratch, values, kvBase, headDim, capacity, table, blockSize,
                            sequence, length);
                    continue;
                }
                Arrays.fill(out, offset, offset + headDim, 0f);
                for (int block = 0; block * blockSize < length; block++) {
                    int start = blockStart(table, block, blockSize, capacity, sequence);
                    for (int t = block * blockSize, end = Math.min(length, t + blockSize); t < end; t++) {
                        RowOps.addScaled(out, offset, scratch[t], values,
                                kvBase + (start + t - block * blockSize) * headDim, headDim, vector);
                    }
                }
            }
        });
    }

    /**
     * @return the first KV pool slot of block {@code block} of the sequence's table. Positions are walked block by
     *         block ({@link SlotWalk}, or a loop over blocks): done for speed, since {@link AttentionBatch#slot}'s
     *         division by a block size only known at run time cost more than the dot product of a position.
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
     * vectors together. Done for speed: a horizontal sum per position cost more than its dot product. Four positions
     * are multiplied together, so that four independent FMA chains hide each other's latency (in a group's last
     * four, positions past {@code length} repeat its last position; the lane vectors of positions past those four
     * keep stale values; the sums of both are dropped, and each sum comes from its own vector only).
     */
    private static void scoresByGroups(float[] scores, float[] q, int offset, float[] keys, int kvBase, int headDim,
            int capacity, int[] table, int blockSize, int sequence, int length, float scale) {
        int lanesOffset = Simd.F.loopBound(length + Simd.LANES - 1);
        SlotWalk walk = new SlotWalk(table, blockSize, capacity, sequence);
        for (int first = 0; first < length; first += Simd.LANES) {
            int count = Math.min(Simd.LANES, length - first);
            for (int j = 0; j < count; j += 4) {
                int key0 = kvBase + walk.next() * headDim;
                int key1 = j + 1 < count ? kvBase + walk.next() * headDim : key0;
                int key2 = j + 2 < count ? kvBase + walk.next() * headDim : key1;
                int key3 = j + 3 < count ? kvBase + walk.next() * headDim : key2;
                FloatVector products0 = FloatVector.zero(Simd.F);
                FloatVector products1 = products0;
                FloatVector products2 = products0;
                FloatVector products3 = products0;
                for (int d = 0; d < headDim; d += Simd.LANES) {
                    FloatVector query = FloatVector.fromArray(Simd.F, q, offset + d);
                    products0 = query.fma(FloatVector.fromArray(Simd.F, keys, key0 + d), products0);
                    products1 = query.fma(FloatVector.fromArray(Simd.F, keys, key1 + d), products1);
                    products2 = query.fma(FloatVector.fromArray(Simd.F, keys, key2 + d), products2);
                    products3 = query.fma(FloatVector.fromArray(Simd.F, keys, key3 + d), products3);
                }
                products0.intoArray(scores, lanesOffset + j * Simd.LANES);
                products1.intoArray(scores, lanesOffset + (j + 1) * Simd.LANES);
                products2.intoArray(scores, lanesOffset + (j + 2) * Simd.LANES);
                products3.intoArray(scores, lanesOffset + (j + 3) * Simd.LANES);
            }
            Simd.sums(scores, lanesOffset, Simd.LANES);
            for (int j = 0; j < count; j++) {
                scores[first + j] = scores[lanesOffset + Simd.sumIndex(j)] * scale;
            }
        }
    }

    /** A sequence's KV pool slots, position after position, found block by block through its block table. */
    private static final class SlotWalk {
        private final int[] table;
        private final int blockSize;
        private final int capacity;
        private final int sequence;
        private int block = -1;
        private int start;
        private int within;

        SlotWalk(int[] table, int blockSize, int capacity, int sequence) {
            this.table = table;
            this.blockSize = blockSize;
            this.capacity = capacity;
            this.sequence = sequence;
            this.within = blockSize;
        }

        /** @return the slot of the next position */
        int next() {
            if (within == blockSize) {
                start = blockStart(table, ++block, blockSize, capacity, sequence);
                within = 0;
            }
            return start + within++;
        }
    }

    /**
     * {@code out = sum over t of weights[t] * v[t]}, summed in registers over all positions: four vectors of the
     * head's lanes at a time, then any vectors left one at a time. Done for speed: adding each position into
     * {@code out} in memory made every position wait for the store of the one before, and one accumulator made every
     * position wait for the FMA of the one before (four independent FMAs per position: 2.5x faster on Zen 4).
     */
    private static void weightedValuesByLanes(float[] out, int offset, float[] weights, float[] values, int kvBase,
            int headDim, int capacity, int[] table, int blockSize, int sequence, int length) {
        int d = 0;
        for (int n = Simd.LANES; d + 4 * n <= headDim; d += 4 * n) {
            FloatVector sum0 = FloatVector.zero(Simd.F);
            FloatVector sum1 = sum0;
            FloatVector sum2 = sum0;
            FloatVector sum3 = sum0;
            for (int block = 0; block * blockSize < length; block++) {
                int first = block * blockSize;
                int value = kvBase + (blockStart(table, block, blockSize, capacity, sequence) - first) * headDim + d;
                for (int t = first, end = Math.min(length, first + blockSize); t < end; t++) {
                    FloatVector weight = FloatVector.broadcast(Simd.F, weights[t]);
                    int at = value + t * headDim;
                    sum0 = FloatVector.fromArray(Simd.F, values, at).fma(weight, sum0);
                    sum1 = FloatVector.fromArray(Simd.F, values, at + n).fma(weight, sum1);
                    sum2 = FloatVector.fromArray(Simd.F, values, at + 2 * n).fma(weight, sum2);
                    sum3 = FloatVector.fromArray(Simd.F, values, at + 3 * n).fma(weight, sum3);
                }
            }
            sum0.intoArray(out, offset + d);
            sum1.intoArray(out, offset + d + n);
            sum2.intoArray(out, offset + d + 2 * n);
            sum3.intoArray(out, offset + d + 3 * n);
        }
        for (; d < headDim; d += Simd.LANES) {
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
            FloatVector sums = FloatVector.zero(Simd.F);
            for (int bound = Simd.F.loopBound(length); t < bound; t += Simd.LANES) {
                FloatVector e = Simd.exp(FloatVector.fromArray(Simd.F, scores, t).sub(max));
                e.intoArray(scores, t);
                sums = sums.add(e);
            }
            sum = Simd.sum(sums);
        }
        for (; t < length; t++) {
            float e = Simd.exp(scores[t] - max);
            scores[t] = e;
            sum += e;
        }
        float normalize = 1 / sum;
        for (int i = 0; i < length; i++) {
            scores[i] *= normalize;
        }
    }
}
