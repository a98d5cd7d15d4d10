package io.gantry.backend.cpu;

import io.gantry.api.backend.AttentionBatch;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * Causal grouped-query attention over the KV pool. Each query attends to positions {@code 0..} its own of its
 * sequence, found through the sequence's block table.
 *
 * <p>One task per KV head and group of up to {@link #ROWS_PER_TASK} consecutive rows of one sequence (a decode row
 * alone, or part of a prefill chunk). A task reads its KV head's keys, then its values, {@link #CHUNK} positions at
 * a time: it copies them from the pool's blocks into one contiguous run of floats (converting F16 pools' elements),
 * which then serves every row and query head of the task. The kernels thus see neither block tables nor the pool's
 * element type, and read each chunk from the core's cache.
 */
final class Attention {

    /**
     * Positions per chunk: a multiple of every vector width, and few enough that a chunk of 128-element heads
     * (32 KiB) stays in the core's L1 or L2 cache next to the scores.
     */
    private static final int CHUNK = 64;
    /** Rows of one sequence per task: they share each chunk the task reads. */
    private static final int ROWS_PER_TASK = 8;

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
        int kvHeads = kv.spec().kvHeads();
        int group = heads / kvHeads;
        float scale = (float) (1 / Math.sqrt(headDim));
        boolean batchedDots = vector && headDim % Simd.LANES == 0;
        int[] taskRows = rowGroups(batch);
        pool.run(taskRows.length / 2 * kvHeads, (task, worker) -> {
            int firstRow = taskRows[2 * (task / kvHeads)];
            int rowCount = taskRows[2 * (task / kvHeads) + 1];
            int kvHead = task % kvHeads;
            int sequence = rows.sequence()[firstRow];
            int firstLength = rows.position()[firstRow] + 1;
            int length = firstLength + rowCount - 1;
            Blocks blocks = new Blocks(kv, layer, (long) kvHead * capacity * headDim, batch.blockTables()[sequence],
                    batch.blockSize(), sequence);
            // One scratch array: the chunk, the scores of each row and query head, room for a group of lane vectors.
            int scoresStride = Simd.F.loopBound(length + Simd.LANES - 1);
            int scoresAt = CHUNK * headDim;
            int lanesAt = scoresAt + rowCount * group * scoresStride;
            float[] scratch = pool.scratch(worker, lanesAt + Simd.LANES * Simd.LANES);
            for (int first = 0; first < length; first += CHUNK) {
                int count = Math.min(CHUNK, length - first);
                blocks.read(true, first, count, scratch);
                for (int j = 0; j < rowCount; j++) {
                    // Row j attends to positions up to firstLength + j - 1.
                    int rowCountInChunk = Math.min(count, firstLength + j - first);
                    for (int h = 0; h < group && rowCountInChunk > 0; h++) {
                        int query = ((firstRow + j) * heads + kvHead * group + h) * headDim;
                        int scores = scoresAt + (j * group + h) * scoresStride + first;
                        if (batchedDots) {
                            scoresByGroups(scratch, scores, lanesAt, q, query, headDim, rowCountInChunk, scale);
                        } else {
                            for (int t = 0; t < rowCountInChunk; t++) {
                                scratch[scores + t] = Simd.dot(q, query, scratch, t * headDim, headDim, vector) * scale;
                            }
                        }
                    }
                }
            }
            for (int j = 0; j < rowCount; j++) {
                for (int h = 0; h < group; h++) {
                    softmax(scratch, scoresAt + (j * group + h) * scoresStride, firstLength + j, vector);
                    int offset = ((firstRow + j) * heads + kvHead * group + h) * headDim;
                    Arrays.fill(out, offset, offset + headDim, 0f);
                }
            }
            for (int first = 0; first < length; first += CHUNK) {
                int count = Math.min(CHUNK, length - first);
                blocks.read(false, first, count, scratch);
                for (int j = 0; j < rowCount; j++) {
                    int rowCountInChunk = Math.min(count, firstLength + j - first);
                    for (int h = 0; h < group && rowCountInChunk > 0; h++) {
                        int offset = ((firstRow + j) * heads + kvHead * group + h) * headDim;
                        int weights = scoresAt + (j * group + h) * scoresStride + first;
                        if (batchedDots) {
                            addWeightedValues(out, offset, scratch, weights, headDim, rowCountInChunk);
                        } else {
                            for (int t = 0; t < rowCountInChunk; t++) {
                                RowOps.addScaled(out, offset, scratch[weights + t], scratch, t * headDim, headDim,
                                        vector);
                            }
                        }
                    }
                }
            }
        });
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

    /** One KV head's keys and values of one sequence in one layer, found through the sequence's block table. */
    private record Blocks(CpuKvPool kv, int layer, long headBase, int[] table, int blockSize, int sequence) {

        /**
         * Copies the keys (or values) of positions {@code first..first+count-1} to {@code out[0...]} as floats, one
         * position's vector after the other.
         */
        void read(boolean keys, int first, int count, float[] out) {
            int headDim = kv.spec().headDim();
            int capacity = kv.spec().capacitySlots();
            for (int position = first, end = first + count; position < end; ) {
                int block = position / blockSize;
                int within = position - block * blockSize;
                int run = Math.min(blockSize - within, end - position);
                int start = block < table.length ? table[block] * blockSize : -1;
                if (start < 0 || start + blockSize > capacity) {
                    throw new IllegalArgumentException("The block table of sequence " + sequence + " maps block "
                            + block + " outside the KV pool's " + capacity + " slots");
                }
                kv.read(layer, keys, headBase + (long) (start + within) * headDim, run, out,
                        (position - first) * headDim);
                position += run;
            }
        }
    }

    /**
     * Writes the scaled scores {@code q · k[t]} of the chunk's {@code count} keys (contiguous at {@code chunk[0...]})
     * to {@code chunk[scores...]}, {@link Simd#LANES} positions at a time: each position's products are summed into
     * one vector at {@code chunk[lanes...]}, and one {@link Simd#sums} call reduces the group's vectors together.
     * Done for speed: a horizontal sum per position cost more than its dot product. Four positions are multiplied
     * together, so that four independent FMA chains hide each other's latency (in a group's last four, positions past
     * {@code count} repeat its last position; the lane vectors of positions past those four keep stale values; the
     * sums of both are dropped, and each sum comes from its own vector only).
     */
    private static void scoresByGroups(float[] chunk, int scores, int lanes, float[] q, int query, int headDim,
            int count, float scale) {
        for (int first = 0; first < count; first += Simd.LANES) {
            int groupCount = Math.min(Simd.LANES, count - first);
            for (int j = 0; j < groupCount; j += 4) {
                int key0 = (first + j) * headDim;
                int key1 = j + 1 < groupCount ? key0 + headDim : key0;
                int key2 = j + 2 < groupCount ? key1 + headDim : key1;
                int key3 = j + 3 < groupCount ? key2 + headDim : key2;
                FloatVector products0 = FloatVector.zero(Simd.F);
                FloatVector products1 = products0;
                FloatVector products2 = products0;
                FloatVector products3 = products0;
                for (int d = 0; d < headDim; d += Simd.LANES) {
                    FloatVector queryPart = FloatVector.fromArray(Simd.F, q, query + d);
                    products0 = queryPart.fma(FloatVector.fromArray(Simd.F, chunk, key0 + d), products0);
                    products1 = queryPart.fma(FloatVector.fromArray(Simd.F, chunk, key1 + d), products1);
                    products2 = queryPart.fma(FloatVector.fromArray(Simd.F, chunk, key2 + d), products2);
                    products3 = queryPart.fma(FloatVector.fromArray(Simd.F, chunk, key3 + d), products3);
                }
                products0.intoArray(chunk, lanes + j * Simd.LANES);
                products1.intoArray(chunk, lanes + (j + 1) * Simd.LANES);
                products2.intoArray(chunk, lanes + (j + 2) * Simd.LANES);
                products3.intoArray(chunk, lanes + (j + 3) * Simd.LANES);
            }
            Simd.sums(chunk, lanes, Simd.LANES);
            for (int j = 0; j < groupCount; j++) {
                chunk[scores + first + j] = chunk[lanes + Simd.sumIndex(j)] * scale;
            }
        }
    }

    /**
     * {@code out += sum over t of weights[t] * v[t]} for the chunk's {@code count} values (contiguous at
     * {@code chunk[0...]}), summed in registers: four vectors of the head's lanes at a time, then any vectors left
     * one at a time. Each sum starts from {@code out}, so chunk after chunk the additions run in position order as
     * one chain. Done for speed: adding each position into {@code out} in memory made every position wait for the
     * store of the one before, and one accumulator made every position wait for the FMA of the one before (four
     * independent FMAs per position: 2.5x faster on Zen 4).
     */
    private static void addWeightedValues(float[] out, int offset, float[] chunk, int weights, int headDim,
            int count) {
        int d = 0;
        for (int n = Simd.LANES; d + 4 * n <= headDim; d += 4 * n) {
            FloatVector sum0 = FloatVector.fromArray(Simd.F, out, offset + d);
            FloatVector sum1 = FloatVector.fromArray(Simd.F, out, offset + d + n);
            FloatVector sum2 = FloatVector.fromArray(Simd.F, out, offset + d + 2 * n);
            FloatVector sum3 = FloatVector.fromArray(Simd.F, out, offset + d + 3 * n);
            for (int t = 0; t < count; t++) {
                FloatVector weight = FloatVector.broadcast(Simd.F, chunk[weights + t]);
                int at = t * headDim + d;
                sum0 = FloatVector.fromArray(Simd.F, chunk, at).fma(weight, sum0);
                sum1 = FloatVector.fromArray(Simd.F, chunk, at + n).fma(weight, sum1);
                sum2 = FloatVector.fromArray(Simd.F, chunk, at + 2 * n).fma(weight, sum2);
                sum3 = FloatVector.fromArray(Simd.F, chunk, at + 3 * n).fma(weight, sum3);
            }
            sum0.intoArray(out, offset + d);
            sum1.intoArray(out, offset + d + n);
            sum2.intoArray(out, offset + d + 2 * n);
            sum3.intoArray(out, offset + d + 3 * n);
        }
        for (; d < headDim; d += Simd.LANES) {
            FloatVector sum = FloatVector.fromArray(Simd.F, out, offset + d);
            for (int t = 0; t < count; t++) {
                sum = FloatVector.fromArray(Simd.F, chunk, t * headDim + d)
                        .fma(FloatVector.broadcast(Simd.F, chunk[weights + t]), sum);
            }
            sum.intoArray(out, offset + d);
        }
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
