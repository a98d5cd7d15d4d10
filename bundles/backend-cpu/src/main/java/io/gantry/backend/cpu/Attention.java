package io.gantry.backend.cpu;

import io.gantry.api.backend.AttentionBatch;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * Causal grouped-query attention over the KV pool. Each query attends to positions {@code 0..} its own of its
 * sequence, found through the sequence's block table ({@link SequenceSlots}).
 *
 * <p>One task per KV head and group of up to {@link #ROWS_PER_TASK} consecutive rows of one sequence (a decode row
 * alone, or part of a prefill chunk). A task reads its KV head's keys and values straight from the pool, a few
 * thousand elements at a time, each serving every row and query head of the task while it is in the core's L1
 * cache. Keys are multiplied a tile row at a time ({@link CpuKvPool}): one vector holds the scores of
 * {@link Simd#LANES} slots, so no horizontal sums are needed; values are added a head's vector at a time.
 */
final class Attention {

    /** Rows of one sequence per task: they share each key and value the task reads. */
    private static final int ROWS_PER_TASK = 8;
    /** Groups of slots whose scores one kernel call computes together: four independent FMA chains. */
    private static final int SUBTILES_PER_CALL = 4;

    private Attention() {
    }

    /**
     * @param out   rows of {@code heads * headDim}: the result
     * @param q     rows of {@code heads * headDim}: the rotated queries
     * @param heads query heads, a multiple of the pool's KV heads
     * @throws IllegalArgumentException if a block table maps a position outside the pool
     */
    static void run(WorkerPool pool, float[] out, float[] q, int heads, CpuKvPool kv, int layer,
            AttentionBatch batch, BatchRows rows, boolean vector) {
        int headDim = kv.spec().headDim();
        int kvHeads = kv.spec().kvHeads();
        int group = heads / kvHeads;
        float scale = (float) (1 / Math.sqrt(headDim));
        SequenceSlots[] sequenceSlots = new SequenceSlots[batch.sequences()];
        for (int s = 0; s < batch.sequences(); s++) {
            if (batch.rowCounts()[s] > 0) {
                sequenceSlots[s] = SequenceSlots.of(kv, batch, s);
            }
        }
        MemorySegment keys = kv.keys(layer);
        MemorySegment values = kv.values(layer);
        boolean half = kv.half();
        int[] taskRows = rowGroups(batch);
        pool.run(taskRows.length / 2 * kvHeads, (task, worker) -> {
            int firstRow = taskRows[2 * (task / kvHeads)];
            int rowCount = taskRows[2 * (task / kvHeads) + 1];
            int kvHead = task % kvHeads;
            SequenceSlots slots = sequenceSlots[rows.sequence()[firstRow]];
            int firstLength = rows.position()[firstRow] + 1;
            int length = firstLength + rowCount - 1;
            // Each query's scores: a vector's width of room before position 0 and after the last position, where
            // the lanes of partly used slot groups land (see scoresOfSubtiles).
            int stride = Simd.LANES + Math.ceilDiv(length + Simd.LANES, Simd.LANES) * Simd.LANES;
            float[] scores = pool.scratch(worker, rowCount * group * stride);
            long headKeys = kv.headKeys(kvHead);
            int runs = slots.runsBefore(length);
            if (vector) {
                int subtiles = slots.subtilesBefore(length);
                for (int k = 0; k < subtiles; k += SUBTILES_PER_CALL) {
                    for (int query = 0; query < rowCount * group; query++) {
                        scoresOfSubtiles(keys, half, headKeys, slots, k, subtiles - 1, q,
                                queryAt(firstRow, kvHead, query, group, heads, headDim), headDim, scale, scores,
                                query * stride + Simd.LANES);
                    }
                }
            } else {
                for (int r = 0; r < runs; r++) {
                    for (int query = 0; query < rowCount * group; query++) {
                        scalarScores(keys, half, kv, headKeys, slots, r, q,
                                queryAt(firstRow, kvHead, query, group, heads, headDim), headDim, scale, scores,
                                query * stride + Simd.LANES);
                    }
                }
            }
            for (int query = 0; query < rowCount * group; query++) {
                softmax(scores, query * stride + Simd.LANES, firstLength + query / group, vector);
                int at = queryAt(firstRow, kvHead, query, group, heads, headDim);
                Arrays.fill(out, at, at + headDim, 0f);
            }
            for (int r = 0; r < runs; r++) {
                int position = slots.runPosition(r);
                long value = kv.valueElement(kvHead, slots.runSlot(r));
                for (int query = 0; query < rowCount * group; query++) {
                    // The query's row attends to positions up to firstLength + query / group - 1.
                    int count = Math.min(slots.runLength(r), firstLength + query / group - position);
                    if (count > 0) {
                        addWeightedValues(out, queryAt(firstRow, kvHead, query, group, heads, headDim), values,
                                half, value, scores, query * stride + Simd.LANES + position, headDim, count, vector);
                    }
                }
            }
        });
    }

    /**
     * @param query a task's query: row {@code query / group} of the task, query head {@code query % group} of its
     *              KV head
     * @return where the query's vector starts in the queries (and its result in the output)
     */
    private static int queryAt(int firstRow, int kvHead, int query, int group, int heads, int headDim) {
        return ((firstRow + query / group) * heads + kvHead * group + query % group) * headDim;
    }

    /**
     * @return the tasks' rows: for each task its first row and its row count, up to {@link #ROWS_PER_TASK}
     *         consecutive rows of one sequence
     */
    private static int[] rowGroups(AttentionBatch batch) {
        int tasks = 0;
        for (int s = 0; s < batch.sequences(); s++) {
            tasks += Math.ceilDiv(batch.rowCounts()[s], ROWS_PER_TASK);
        }
        int[] taskRows = new int[2 * tasks];
        int task = 0;
        for (int s = 0; s < batch.sequences(); s++) {
            for (int j = 0; j < batch.rowCounts()[s]; j += ROWS_PER_TASK) {
                taskRows[2 * task] = batch.firstRows()[s] + j;
                taskRows[2 * task + 1] = Math.min(ROWS_PER_TASK, batch.rowCounts()[s] - j);
                task++;
            }
        }
        return taskRows;
    }

    /**
     * Writes the scaled scores of one query against the keys of {@link #SUBTILES_PER_CALL} consecutive subtiles of
     * {@code slots}, from {@code first} ({@code last} repeats in place of subtiles past the last): the score of
     * position {@code p} goes to {@code scores[at + p]}. Each subtile is {@link Simd#LANES} slots of one key tile,
     * multiplied with the query element by element: one FMA chain per subtile, four chains to hide each other's
     * latency. A subtile's lanes before its run's first slot are not stored, its lanes after the run's last slot
     * are (to positions that a later subtile overwrites, or past the sequence): stored in position order, every
     * position's last store comes from the subtile that holds its slot.
     */
    private static void scoresOfSubtiles(MemorySegment keys, boolean half, long headKeys, SequenceSlots slots,
            int first, int last, float[] q, int query, int headDim, float scale, float[] scores, int at) {
        int second = Math.min(first + 1, last);
        int third = Math.min(first + 2, last);
        int fourth = Math.min(first + 3, last);
        long keys0 = headKeys + slots.subtileElement(first);
        long keys1 = headKeys + slots.subtileElement(second);
        long keys2 = headKeys + slots.subtileElement(third);
        long keys3 = headKeys + slots.subtileElement(fourth);
        FloatVector sums0 = FloatVector.zero(Simd.F);
        FloatVector sums1 = sums0;
        FloatVector sums2 = sums0;
        FloatVector sums3 = sums0;
        for (int d = 0; d < headDim; d++) {
            FloatVector element = FloatVector.broadcast(Simd.F, q[query + d]);
            long row = (long) d * CpuKvPool.TILE;
            sums0 = load(keys, keys0 + row, half).fma(element, sums0);
            sums1 = load(keys, keys1 + row, half).fma(element, sums1);
            sums2 = load(keys, keys2 + row, half).fma(element, sums2);
            sums3 = load(keys, keys3 + row, half).fma(element, sums3);
        }
        storeScores(sums0, scale, scores, at, slots, first);
        storeScores(sums1, scale, scores, at, slots, second);
        storeScores(sums2, scale, scores, at, slots, third);
        storeScores(sums3, scale, scores, at, slots, fourth);
    }

    private static void storeScores(FloatVector sums, float scale, float[] scores, int at, SequenceSlots slots,
            int subtile) {
        int firstLane = slots.subtileFirstLane(subtile);
        int to = at + slots.subtilePosition(subtile);
        if (firstLane == 0) {
            sums.mul(scale).intoArray(scores, to);
        } else {
            sums.mul(scale).intoArray(scores, to, Simd.F.indexInRange(-firstLane, Simd.LANES));
        }
    }

    /** {@link #scoresOfSubtiles} for one run of slots, without vectors. */
    private static void scalarScores(MemorySegment keys, boolean half, CpuKvPool kv, long headKeys,
            SequenceSlots slots, int run, float[] q, int query, int headDim, float scale, float[] scores, int at) {
        int position = slots.runPosition(run);
        for (int t = 0; t < slots.runLength(run); t++) {
            long key = headKeys + kv.keyElement(slots.runSlot(run) + t);
            float sum = 0;
            for (int d = 0; d < headDim; d++) {
                sum = Math.fma(q[query + d], element(keys, key + (long) d * CpuKvPool.TILE, half), sum);
            }
            scores[at + position + t] = sum * scale;
        }
    }

    /**
     * {@code out += sum over t of weights[t] * v[t]} for the {@code count} values from element {@code value} on,
     * summed in registers: four vectors of the head's lanes at a time, then any vectors left one at a time, then
     * any elements left. Each sum starts from {@code out}, so run after run the additions go in position order as
     * one chain. Done for speed: adding each position into {@code out} in memory made every position wait for the
     * store of the one before, and one accumulator made every position wait for the FMA of the one before (four
     * independent FMAs per position: 2.5x faster on Zen 4).
     */
    private static void addWeightedValues(float[] out, int offset, MemorySegment values, boolean half, long value,
            float[] weights, int weightsAt, int headDim, int count, boolean vector) {
        int d = 0;
        if (vector) {
            for (int n = Simd.LANES; d + 4 * n <= headDim; d += 4 * n) {
                FloatVector sum0 = FloatVector.fromArray(Simd.F, out, offset + d);
                FloatVector sum1 = FloatVector.fromArray(Simd.F, out, offset + d + n);
                FloatVector sum2 = FloatVector.fromArray(Simd.F, out, offset + d + 2 * n);
                FloatVector sum3 = FloatVector.fromArray(Simd.F, out, offset + d + 3 * n);
                for (int t = 0; t < count; t++) {
                    FloatVector weight = FloatVector.broadcast(Simd.F, weights[weightsAt + t]);
                    long at = value + (long) t * headDim + d;
                    sum0 = load(values, at, half).fma(weight, sum0);
                    sum1 = load(values, at + n, half).fma(weight, sum1);
                    sum2 = load(values, at + 2 * n, half).fma(weight, sum2);
                    sum3 = load(values, at + 3 * n, half).fma(weight, sum3);
                }
                sum0.intoArray(out, offset + d);
                sum1.intoArray(out, offset + d + n);
                sum2.intoArray(out, offset + d + 2 * n);
                sum3.intoArray(out, offset + d + 3 * n);
            }
            for (; d + Simd.LANES <= headDim; d += Simd.LANES) {
                FloatVector sum = FloatVector.fromArray(Simd.F, out, offset + d);
                for (int t = 0; t < count; t++) {
                    sum = load(values, value + (long) t * headDim + d, half)
                            .fma(FloatVector.broadcast(Simd.F, weights[weightsAt + t]), sum);
                }
                sum.intoArray(out, offset + d);
            }
        }
        for (; d < headDim; d++) {
            float sum = out[offset + d];
            for (int t = 0; t < count; t++) {
                sum = Math.fma(element(values, value + (long) t * headDim + d, half), weights[weightsAt + t], sum);
            }
            out[offset + d] = sum;
        }
    }

    /** @return the {@link Simd#LANES} pool elements from {@code element} on, as floats */
    private static FloatVector load(MemorySegment pool, long element, boolean half) {
        return half
                ? Simd.halfToFloat(pool, element * Short.BYTES)
                : FloatVector.fromMemorySegment(Simd.F, pool, element * Float.BYTES, Simd.LE);
    }

    /** @return the pool element at {@code element}, as a float */
    private static float element(MemorySegment pool, long element, boolean half) {
        return half
                ? Float.float16ToFloat(pool.getAtIndex(Simd.SHORT_LE, element))
                : pool.getAtIndex(Simd.FLOAT_LE, element);
    }

    /** Turns {@code scores[at..at+length-1]} into softmax weights in place. */
    private static void softmax(float[] scores, int at, int length, boolean vector) {
        float max = Float.NEGATIVE_INFINITY;
        for (int t = at; t < at + length; t++) {
            max = Math.max(max, scores[t]);
        }
        float sum = 0;
        int t = 0;
        if (vector) {
            FloatVector sums = FloatVector.zero(Simd.F);
            for (int bound = Simd.F.loopBound(length); t < bound; t += Simd.LANES) {
                FloatVector e = Simd.exp(FloatVector.fromArray(Simd.F, scores, at + t).sub(max));
                e.intoArray(scores, at + t);
                sums = sums.add(e);
            }
            sum = Simd.sum(sums);
        }
        for (; t < length; t++) {
            float e = Simd.exp(scores[at + t] - max);
            scores[at + t] = e;
            sum += e;
        }
        float normalize = 1 / sum;
        for (int i = at; i < at + length; i++) {
            scores[i] *= normalize;
        }
    }
}
