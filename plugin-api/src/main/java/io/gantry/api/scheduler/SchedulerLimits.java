package io.gantry.api.scheduler;

/**
 * Per-step limits set by the engine's configuration. A plan that exceeds them is trimmed by the engine.
 *
 * @param maxNumSeqs          most sequences that may run in one step ({@code max_num_seqs})
 * @param maxNumBatchedTokens most tokens, prefill and decode together, that one step may feed through
 *                            the model ({@code max_num_batched_tokens}); bounds the chunk of a long prefill
 */
public record SchedulerLimits(int maxNumSeqs, int maxNumBatchedTokens) {

    /** Checks that both limits are positive. */
    public SchedulerLimits {
        if (maxNumSeqs < 1 || maxNumBatchedTokens < 1) {
            throw new IllegalArgumentException("Scheduler limits must be positive: maxNumSeqs=" + maxNumSeqs
                    + ", maxNumBatchedTokens=" + maxNumBatchedTokens);
        }
    }
}
