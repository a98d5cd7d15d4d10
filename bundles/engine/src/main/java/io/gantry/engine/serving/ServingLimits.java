package io.gantry.engine.serving;

import java.time.Duration;

/**
 * The limits of one model's step loop.
 *
 * @param maxNumSeqs          most sequences in one step ({@code max_num_seqs})
 * @param maxNumBatchedTokens most tokens in one step, prefill and decode together ({@code max_num_batched_tokens})
 * @param maxWaiting          most accepted requests not yet running; past it requests are refused as overloaded
 * @param kvCacheBytes        memory for the KV pool
 * @param defaultTimeout      how long a request may take when it does not say
 */
public record ServingLimits(int maxNumSeqs, int maxNumBatchedTokens, int maxWaiting, long kvCacheBytes,
        Duration defaultTimeout) {

    /** Checks every value, naming the one that is wrong. */
    public ServingLimits {
        if (maxNumSeqs < 1) {
            throw new IllegalArgumentException("maxNumSeqs must be at least 1, got " + maxNumSeqs);
        }
        if (maxNumBatchedTokens < maxNumSeqs) {
            throw new IllegalArgumentException("maxNumBatchedTokens must be at least maxNumSeqs ("
                    + maxNumSeqs + "), got " + maxNumBatchedTokens);
        }
        if (maxWaiting < 1) {
            throw new IllegalArgumentException("maxWaiting must be at least 1, got " + maxWaiting);
        }
        if (kvCacheBytes < 1) {
            throw new IllegalArgumentException("kvCacheMb must be positive, got " + kvCacheBytes + " bytes");
        }
        if (defaultTimeout.isNegative() || defaultTimeout.isZero()) {
            throw new IllegalArgumentException("requestTimeoutSeconds must be positive, got " + defaultTimeout);
        }
    }
}
