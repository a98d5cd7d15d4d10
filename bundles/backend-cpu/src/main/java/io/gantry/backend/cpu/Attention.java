package io.gantry.backend.cpu;

import io.gantry.api.backend.AttentionBatch;
import java.util.Arrays;

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
        pool.run(rows.rows() * heads, (task, worker) -> {
            int row = task / heads;
            int head = task % heads;
            int position = rows.position()[row];
            int kvBase = head / queriesPerKvHead * capacity * headDim;
            attend(out, q, (row * heads + head) * headDim, keys, values, kvBase, headDim, capacity, batch,
                    rows.sequence()[row], position, scale, pool.scratch(worker, position + 1), vector);
        });
    }

    private static void attend(float[] out, float[] q, int offset, float[] keys, float[] values, int kvBase,
            int headDim, int capacity, AttentionBatch batch, int sequence, int position, float scale, float[] scores,
            boolean vector) {
        float max = Float.NEGATIVE_INFINITY;
        for (int t = 0; t <= position; t++) {
            int slot = batch.slot(sequence, t);
            if (slot < 0 || slot >= capacity) {
                throw new IllegalArgumentException("The block table of sequence " + sequence + " maps position " + t
                        + " to slot " + slot + ", outside the KV pool's " + capacity + " slots");
            }
            float score = Simd.dot(q, offset, keys, kvBase + slot * headDim, headDim, vector) * scale;
            scores[t] = score;
            max = Math.max(max, score);
        }
        float sum = 0;
        for (int t = 0; t <= position; t++) {
            float e = (float) Math.exp(scores[t] - max);
            scores[t] = e;
            sum += e;
        }
        float normalize = 1 / sum;
        Arrays.fill(out, offset, offset + headDim, 0f);
        for (int t = 0; t <= position; t++) {
            int slot = batch.slot(sequence, t);
            RowOps.addScaled(out, offset, scores[t] * normalize, values, kvBase + slot * headDim, headDim, vector);
        }
    }
}
