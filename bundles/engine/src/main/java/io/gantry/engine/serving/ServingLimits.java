package io.gantry.engine.serving;

import io.gantry.api.backend.TensorType;
import java.time.Duration;
import java.util.Locale;

/**
 * The limits of one model's step loop (the engine's configuration, {@link EngineService.Config}).
 *
 * @param maxNumSeqs          most sequences in one step ({@code max_num_seqs})
 * @param maxNumBatchedTokens most tokens in one step, prefill and decode together ({@code max_num_batched_tokens})
 * @param maxWaiting          most accepted requests not yet running; past it requests are refused as overloaded
 * @param kvCacheBytes        memory for the KV pool
 * @param defaultTimeout      how long a request may take when it does not say
 * @param maxModelLen         the longest sequence (prompt plus output) to serve, at most the model's context; 0 for
 *                            the model's context ({@code max_model_len}: what a contiguous KV allocator reserves
 *                            per sequence)
 * @param kvCacheType         the KV pool's element type, {@link TensorType#F16} or {@link TensorType#F32}
 *                            ({@code kvCacheType}; a backend that cannot hold F16 gets F32)
 */
public record ServingLimits(int maxNumSeqs, int maxNumBatchedTokens, int maxWaiting, long kvCacheBytes,
        Duration defaultTimeout, int maxModelLen, TensorType kvCacheType) {

    /** Limits with the model's context as the longest sequence and an F32 KV pool. */
    public ServingLimits(int maxNumSeqs, int maxNumBatchedTokens, int maxWaiting, long kvCacheBytes,
            Duration defaultTimeout) {
        this(maxNumSeqs, maxNumBatchedTokens, maxWaiting, kvCacheBytes, defaultTimeout, 0, TensorType.F32);
    }

    /**
     * @param name {@code f16} or {@code f32}, in any case
     * @return the KV pool element type it names
     * @throws IllegalArgumentException for any other name
     */
    public static TensorType kvCacheType(String name) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "f16" -> TensorType.F16;
            case "f32" -> TensorType.F32;
            default -> throw new IllegalArgumentException("kvCacheType must be f16 or f32, got '" + name + "'");
        };
    }

    /** @return the longest sequence to serve for a model of {@code context} tokens */
    int sequenceLimit(int context) {
        return maxModelLen == 0 ? context : Math.min(maxModelLen, context);
    }

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
        if (maxModelLen < 0) {
            throw new IllegalArgumentException("maxModelLen must be 0 (the model's context) or positive, got "
                    + maxModelLen);
        }
        if (kvCacheType != TensorType.F16 && kvCacheType != TensorType.F32) {
            throw new IllegalArgumentException("kvCacheType must be f16 or f32, got " + kvCacheType);
        }
        if (defaultTimeout.isNegative() || defaultTimeout.isZero()) {
            throw new IllegalArgumentException("requestTimeoutSeconds must be positive, got " + defaultTimeout);
        }
    }
}
