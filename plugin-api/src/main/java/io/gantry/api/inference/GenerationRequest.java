package io.gantry.api.inference;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * One generation request, as a transport hands it to {@link InferenceService#submit}.
 *
 * @param model        a model id from {@link InferenceService#models()}
 * @param prompt       what to start from
 * @param sampling     how to choose tokens
 * @param maxTokens    the most tokens to generate (at least 1), or {@link #UNTIL_CONTEXT_FULL}
 * @param stop         strings that end generation when produced (not included in the output)
 * @param stopTokenIds token ids that end generation (besides EOS, unless {@code ignoreEos})
 * @param ignoreEos    keep generating past EOS until {@code maxTokens} or a stop condition
 * @param topLogprobs  how many alternative tokens' log-probabilities to report per token (0..20); -1 reports
 *                     none, 0 reports only the chosen token's
 * @param priority     larger is more urgent; used by priority schedulers, 0 is the default
 * @param timeout      the longest the request may take in all, or {@code null} for the engine's default
 * @param user         an opaque end-user id from the client, for logs and A/B assignment; may be {@code null}
 */
public record GenerationRequest(String model, Prompt prompt, SamplingParams sampling, int maxTokens,
        List<String> stop, int[] stopTokenIds, boolean ignoreEos, int topLogprobs, int priority, Duration timeout,
        String user) {

    /**
     * The {@link #maxTokens} that generates until the prompt and the output fill the model's context (or another
     * stop condition ends it first): the OpenAI API's behaviour when a request sets no {@code max_tokens}. A prompt
     * that fills the context by itself is refused as {@link InferenceException.Kind#CONTEXT_LENGTH_EXCEEDED}.
     */
    public static final int UNTIL_CONTEXT_FULL = Integer.MAX_VALUE;

    /** The most alternatives {@link #topLogprobs} may ask for. */
    public static final int MAX_TOP_LOGPROBS = 20;

    /** Checks every field, naming the one that is wrong. */
    public GenerationRequest {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(sampling, "sampling");
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max_tokens must be at least 1, got " + maxTokens);
        }
        stop = stop == null ? List.of() : List.copyOf(stop);
        if (stop.stream().anyMatch(String::isEmpty)) {
            throw new IllegalArgumentException("stop strings must not be empty");
        }
        stopTokenIds = stopTokenIds == null ? new int[0] : stopTokenIds.clone();
        if (topLogprobs < -1 || topLogprobs > MAX_TOP_LOGPROBS) {
            throw new IllegalArgumentException("top_logprobs must be between 0 and " + MAX_TOP_LOGPROBS + ", got " + topLogprobs);
        }
        if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
    }

    @Override
    public int[] stopTokenIds() {
        return stopTokenIds.clone();
    }

    /**
     * @param model     the model id
     * @param prompt    the prompt
     * @param maxTokens the most tokens to generate
     * @return a greedy request with no stop conditions, priority 0 and the default timeout
     */
    public static GenerationRequest greedy(String model, Prompt prompt, int maxTokens) {
        return new GenerationRequest(model, prompt, SamplingParams.GREEDY, maxTokens, List.of(), null, false, -1, 0,
                null, null);
    }
}
