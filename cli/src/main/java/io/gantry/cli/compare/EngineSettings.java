package io.gantry.cli.compare;

import io.gantry.api.backend.TensorType;
import io.gantry.engine.serving.ServingLimits;

import java.time.Duration;

/**
 * The engine settings every strategy of a comparison runs with.
 *
 * @param maxNumSeqs            most sequences in one step (also the static scheduler's batch size)
 * @param maxNumBatchedTokens   most tokens in one step
 * @param kvCacheMb             memory for the KV pool, in MiB
 * @param kvCacheType           the KV pool's element type, F16 or F32
 * @param blockSize             tokens per KV block of the paged allocators
 * @param threads               threads of the CPU backend
 * @param requestTimeoutSeconds how long one request may take before it ends as timed out
 */
public record EngineSettings(int maxNumSeqs, int maxNumBatchedTokens, int kvCacheMb, TensorType kvCacheType,
        int blockSize, int threads, int requestTimeoutSeconds) {

    /** Checks the values the limits do not check, naming the option that sets them. */
    public EngineSettings {
        if (kvCacheMb < 1) {
            throw new IllegalArgumentException("--kv-cache-mb must be at least 1, got " + kvCacheMb);
        }
        if (blockSize < 1) {
            throw new IllegalArgumentException("--block-size must be at least 1, got " + blockSize);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
        }
        if (requestTimeoutSeconds < 1) {
            throw new IllegalArgumentException("--request-timeout must be at least 1 second, got "
                    + requestTimeoutSeconds);
        }
        if (maxNumSeqs < 1) {
            throw new IllegalArgumentException("--max-num-seqs must be at least 1, got " + maxNumSeqs);
        }
        if (maxNumBatchedTokens < maxNumSeqs) {
            throw new IllegalArgumentException("--max-num-batched-tokens must be at least --max-num-seqs ("
                    + maxNumSeqs + "), got " + maxNumBatchedTokens);
        }
    }

    /**
     * @param requests requests a run sends: all may wait at once, so none is refused as overloaded
     * @return the step loop's limits
     */
    public ServingLimits limits(int requests) {
        return new ServingLimits(maxNumSeqs, maxNumBatchedTokens, Math.max(1, requests), (long) kvCacheMb << 20,
                Duration.ofSeconds(requestTimeoutSeconds), 0, kvCacheType);
    }
}
