package io.gantry.backend.cpu;

import io.gantry.api.backend.AttentionBatch;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

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
    /** Groups of slots whose scores one kernel call computes for one query: four independent FMA chains. */
    private static final int SUBTILES_PER_CALL = 4;
    /** Queries that one kernel call multiplies with the same keys or values. */
    private static final int QUERIES_PER_CALL = 4;

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
        // The vector kernels load halves 2^-112 times their value (Simd.halfToDownscaledFloat) and multiply them with
        // queries and weights 2^112 times theirs: the same products, and a multiplication per vector less.
        float elementScale = vector && half ? Simd.HALF_TO_FLOAT_SCALE : 1f;
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
            int queries = rowCount * group;
            // The task's queries, scaled (query i from i * headDim), then each query's scores (from scoresAt).
            float[] scratch = pool.scratch(worker, queries * (headDim + stride));
            float scoreScale = scale * scaleQueries(q, firstRow, kvHead, group, heads, headDim, queries,
                    elementScale, scratch);
            int scoresAt = queries * headDim;
            long headKeys = kv.headKeys(kvHead);
            int runs = slots.runsBefore(length);
            // Queries in fours share each key and value they load (GQA groups, the rows of a prefill).
            int sharing = queries - queries % QUERIES_PER_CALL;
            if (vector) {
                int subtiles = slots.subtilesBefore(length);
                for (int k = 0; k < subtiles; k++) {
                    for (int query = 0; query < sharing; query += QUERIES_PER_CALL) {
                        scoresOfQueries(keys, half, headKeys + slots.subtileElement(k), scratch,
                                query * headDim, headDim, scoreScale, scratch,
                                scoresAt + query * stride + Simd.LANES + slots.subtilePosition(k), stride,
                                slots.subtileFirstLane(k));
                    }
                }
                for (int k = 0; k < subtiles; k += SUBTILES_PER_CALL) {
                    for (int query = sharing; query < queries; query++) {
                        scoresOfSubtiles(keys, half, headKeys, slots, k, subtiles - 1, scratch,
                                query * headDim, headDim, scoreScale, scratch, scoresAt + query * stride + Simd.LANES);
                    }
                }
            } else {
                for (int r = 0; r < runs; r++) {
                    for (int query = 0; query < queries; query++) {
                        scalarScores(keys, half, kv, headKeys, slots, r, scratch, query * headDim, headDim,
                                scoreScale, scratch, scoresAt + query * stride + Simd.LANES);
                    }
                }
            }
            for (int query = 0; query < queries; query++) {
                // The query's row attends to positions up to firstLength + query / group - 1; the task's later
                // positions get weight 0, so that every query of the task adds the same values.
                int weights = scoresAt + query * stride + Simd.LANES;
                softmax(scratch, weights, firstLength + query / group, elementScale, vector);
                Arrays.fill(scratch, weights + firstLength + query / group, weights + length, 0f);
                int at = queryAt(firstRow, kvHead, query, group, heads, headDim);
                Arrays.fill(out, at, at + headDim, 0f);
            }
            boolean sharedValues = vector && headDim % (2 * Simd.LANES) == 0;
            for (int r = 0; r < runs; r++) {
                int position = slots.runPosition(r);
                long value = kv.valueElement(kvHead, slots.runSlot(r));
                int count = Math.min(slots.runLength(r), length - position);
                int query = 0;
                for (; sharedValues && query < sharing; query += QUERIES_PER_CALL) {
                    addWeightedValuesOfQueries(out, query, firstRow, kvHead, group, heads, values, half, value,
                            scratch, scoresAt + query * stride + Simd.LANES + position, stride, headDim, count);
                }
                for (; query < queries; query++) {
                    addWeightedValues(out, queryAt(firstRow, kvHead, query, group, heads, headDim), values, half,
                            value, scratch, scoresAt + query * stride + Simd.LANES + position, headDim, count,
                            elementScale, vector);
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
     * Copies a task's queries to {@code scaled}, query {@code i} from {@code i * headDim}, times {@code elementScale}
     * where that keeps them finite: below 2^16 (a model's queries are), a query times 2^112 is. Larger ones are
     * scaled by less and the factor left out is returned, for the sums of their products: those products then lose
     * bits where they fall below 2^-126 (as subnormals), negligible next to a query of 2^16 or more.
     *
     * @return the factor the sums of the scaled queries' products need, 1 unless a query is 2^16 or more
     */
    private static float scaleQueries(float[] q, int firstRow, int kvHead, int group, int heads, int headDim,
            int queries, float elementScale, float[] scaled) {
        float largest = 0;
        for (int query = 0; query < queries; query++) {
            int at = queryAt(firstRow, kvHead, query, group, heads, headDim);
            for (int d = 0; d < headDim; d++) {
                largest = Math.max(largest, Math.abs(q[at + d]));
            }
        }
        int shift = elementScale == 1 ? 0 : Math.max(0, Math.getExponent(largest) - 15);
        float queryScale = Math.scalb(elementScale, -shift);
        for (int query = 0; query < queries; query++) {
            int at = queryAt(firstRow, kvHead, query, group, heads, headDim);
            for (int d = 0; d < headDim; d++) {
                scaled[query * headDim + d] = q[at + d] * queryScale;
            }
        }
        return Math.scalb(1f, shift);
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
        storeScores(sums0, scale, scores, at + slots.subtilePosition(first), slots.subtileFirstLane(first));
        storeScores(sums1, scale, scores, at + slots.subtilePosition(second), slots.subtileFirstLane(second));
        storeScores(sums2, scale, scores, at + slots.subtilePosition(third), slots.subtileFirstLane(third));
        storeScores(sums3, scale, scores, at + slots.subtilePosition(fourth), slots.subtileFirstLane(fourth));
    }

    /**
     * Writes the scaled scores of {@link #QUERIES_PER_CALL} queries, from {@code q[query]} and {@code headDim} apart,
     * against the keys of one subtile (from element {@code keysAt}): as {@link #scoresOfSubtiles}, one FMA chain per
     * query, each key vector loaded once for all of them. Query {@code i}'s scores go to
     * {@code scores[at + i * stride...]}, from lane {@code firstLane} on.
     */
    private static void scoresOfQueries(MemorySegment keys, boolean half, long keysAt, float[] q, int query,
            int headDim, float scale, float[] scores, int at, int stride, int firstLane) {
        int q0 = query;
        int q1 = query + headDim;
        int q2 = query + 2 * headDim;
        int q3 = query + 3 * headDim;
        FloatVector sums0 = FloatVector.zero(Simd.F);
        FloatVector sums1 = sums0;
        FloatVector sums2 = sums0;
        FloatVector sums3 = sums0;
        for (int d = 0; d < headDim; d++) {
            FloatVector key = load(keys, keysAt + (long) d * CpuKvPool.TILE, half);
            sums0 = key.fma(FloatVector.broadcast(Simd.F, q[q0 + d]), sums0);
            sums1 = key.fma(FloatVector.broadcast(Simd.F, q[q1 + d]), sums1);
            sums2 = key.fma(FloatVector.broadcast(Simd.F, q[q2 + d]), sums2);
            sums3 = key.fma(FloatVector.broadcast(Simd.F, q[q3 + d]), sums3);
        }
        storeScores(sums0, scale, scores, at, firstLane);
        storeScores(sums1, scale, scores, at + stride, firstLane);
        storeScores(sums2, scale, scores, at + 2 * stride, firstLane);
        storeScores(sums3, scale, scores, at + 3 * stride, firstLane);
    }

    /** Stores a subtile's scores times {@code scale} at {@code scores[to...]}, lanes before {@code firstLane} left. */
    private static void storeScores(FloatVector sums, float scale, float[] scores, int to, int firstLane) {
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
            float[] weights, int weightsAt, int headDim, int count, float elementScale, boolean vector) {
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
        // The weights are elementScale times theirs, the elements read here are not.
        float unscale = 1 / elementScale;
        for (; d < headDim; d++) {
            float sum = out[offset + d];
            for (int t = 0; t < count; t++) {
                sum = Math.fma(element(values, value + (long) t * headDim + d, half), weights[weightsAt + t] * unscale,
                        sum);
            }
            out[offset + d] = sum;
        }
    }

    /**
     * {@link #addWeightedValues} for {@link #QUERIES_PER_CALL} consecutive queries of a task, from {@code query}, with
     * their weights at {@code weights[at + i * stride...]}: two vectors of the head at a time for all four queries,
     * each value vector loaded once for them, with the same additions in the same order as for one query.
     * {@code headDim} is a multiple of two vectors.
     */
    private static void addWeightedValuesOfQueries(float[] out, int query, int firstRow, int kvHead, int group,
            int heads, MemorySegment values, boolean half, long value, float[] weights, int at, int stride,
            int headDim, int count) {
        int o0 = queryAt(firstRow, kvHead, query, group, heads, headDim);
        int o1 = queryAt(firstRow, kvHead, query + 1, group, heads, headDim);
        int o2 = queryAt(firstRow, kvHead, query + 2, group, heads, headDim);
        int o3 = queryAt(firstRow, kvHead, query + 3, group, heads, headDim);
        int n = Simd.LANES;
        for (int d = 0; d < headDim; d += 2 * n) {
            FloatVector sum00 = FloatVector.fromArray(Simd.F, out, o0 + d);
            FloatVector sum01 = FloatVector.fromArray(Simd.F, out, o0 + d + n);
            FloatVector sum10 = FloatVector.fromArray(Simd.F, out, o1 + d);
            FloatVector sum11 = FloatVector.fromArray(Simd.F, out, o1 + d + n);
            FloatVector sum20 = FloatVector.fromArray(Simd.F, out, o2 + d);
            FloatVector sum21 = FloatVector.fromArray(Simd.F, out, o2 + d + n);
            FloatVector sum30 = FloatVector.fromArray(Simd.F, out, o3 + d);
            FloatVector sum31 = FloatVector.fromArray(Simd.F, out, o3 + d + n);
            for (int t = 0; t < count; t++) {
                long element = value + (long) t * headDim + d;
                FloatVector first = load(values, element, half);
                FloatVector second = load(values, element + n, half);
                FloatVector weight0 = FloatVector.broadcast(Simd.F, weights[at + t]);
                FloatVector weight1 = FloatVector.broadcast(Simd.F, weights[at + stride + t]);
                FloatVector weight2 = FloatVector.broadcast(Simd.F, weights[at + 2 * stride + t]);
                FloatVector weight3 = FloatVector.broadcast(Simd.F, weights[at + 3 * stride + t]);
                sum00 = first.fma(weight0, sum00);
                sum01 = second.fma(weight0, sum01);
                sum10 = first.fma(weight1, sum10);
                sum11 = second.fma(weight1, sum11);
                sum20 = first.fma(weight2, sum20);
                sum21 = second.fma(weight2, sum21);
                sum30 = first.fma(weight3, sum30);
                sum31 = second.fma(weight3, sum31);
            }
            sum00.intoArray(out, o0 + d);
            sum01.intoArray(out, o0 + d + n);
            sum10.intoArray(out, o1 + d);
            sum11.intoArray(out, o1 + d + n);
            sum20.intoArray(out, o2 + d);
            sum21.intoArray(out, o2 + d + n);
            sum30.intoArray(out, o3 + d);
            sum31.intoArray(out, o3 + d + n);
        }
    }

    /**
     * @return the {@link Simd#LANES} pool elements from {@code element} on, as floats: halves downscaled, 2^-112 times
     *         their value ({@code elementScale} in {@link #run})
     */
    private static FloatVector load(MemorySegment pool, long element, boolean half) {
        return half
                ? Simd.halfToDownscaledFloat(pool, element * Short.BYTES)
                : FloatVector.fromMemorySegment(Simd.F, pool, element * Float.BYTES, Simd.LE);
    }

    /** @return the pool element at {@code element}, as a float */
    private static float element(MemorySegment pool, long element, boolean half) {
        return half
                ? Float.float16ToFloat(pool.getAtIndex(Simd.SHORT_LE, element))
                : pool.getAtIndex(Simd.FLOAT_LE, element);
    }

    /**
     * Turns {@code scores[at..at+length-1]} into softmax weights times {@code scale} (a power of two) in place. The
     * vector and scalar loops give the same weights: the largest score is the same whichever order it is found in,
     * and each exponential and product is the same operation on the same floats.
     */
    private static void softmax(float[] scores, int at, int length, float scale, boolean vector) {
        int bound = vector ? Simd.F.loopBound(length) : 0;
        float max = Float.NEGATIVE_INFINITY;
        if (vector) {
            FloatVector maxes = FloatVector.broadcast(Simd.F, Float.NEGATIVE_INFINITY);
            for (int t = 0; t < bound; t += Simd.LANES) {
                maxes = maxes.max(FloatVector.fromArray(Simd.F, scores, at + t));
            }
            max = maxes.reduceLanes(VectorOperators.MAX);
        }
        for (int t = bound; t < length; t++) {
            max = Math.max(max, scores[at + t]);
        }
        float sum = 0;
        if (vector) {
            FloatVector sums = FloatVector.zero(Simd.F);
            for (int t = 0; t < bound; t += Simd.LANES) {
                FloatVector e = Simd.exp(FloatVector.fromArray(Simd.F, scores, at + t).sub(max));
                e.intoArray(scores, at + t);
                sums = sums.add(e);
            }
            sum = Simd.sum(sums);
        }
        for (int t = bound; t < length; t++) {
            float e = Simd.exp(scores[at + t] - max);
            scores[at + t] = e;
            sum += e;
        }
        float normalize = 1 / sum;
        // Scaled after the rounding of each weight: exactly the weight times scale.
        for (int t = 0; t < bound; t += Simd.LANES) {
            FloatVector.fromArray(Simd.F, scores, at + t).mul(normalize).mul(scale).intoArray(scores, at + t);
        }
        for (int t = bound; t < length; t++) {
            scores[at + t] = scores[at + t] * normalize * scale;
        }
    }
}
