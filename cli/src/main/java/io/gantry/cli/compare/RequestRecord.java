package io.gantry.cli.compare;

/**
 * What one request of a run measured. Times are in seconds; NaN where the request has no such time (a failed
 * request, or a TPOT of a one-token output).
 *
 * @param index              its place in the workload
 * @param priority           its priority
 * @param promptTokens       tokens in its prompt
 * @param cachedPromptTokens of those, tokens whose KV came from the prefix cache
 * @param outputTokens       tokens generated
 * @param sentSeconds        when it was submitted, after the run's start
 * @param ttftSeconds        time to first token: from submission to the first token
 * @param tpotSeconds        time per output token after the first: {@code (e2e - ttft) / (outputTokens - 1)}
 * @param e2eSeconds         end-to-end latency: from submission to its end
 * @param itlSeconds         inter-token latencies: every gap between two consecutive tokens
 * @param finishReason       how it ended ({@code stop}, {@code length}, {@code cancelled}, {@code timeout}), or
 *                           {@code error} / {@code not_sent}
 * @param error              why it failed, or {@code null}
 */
public record RequestRecord(int index, int priority, int promptTokens, int cachedPromptTokens, int outputTokens,
        double sentSeconds, double ttftSeconds, double tpotSeconds, double e2eSeconds, double[] itlSeconds,
        String finishReason, String error) {

    /** Copies the gaps. */
    public RequestRecord {
        itlSeconds = itlSeconds.clone();
    }

    @Override
    public double[] itlSeconds() {
        return itlSeconds.clone();
    }

    /** @return whether it ended normally (end of generation or its length), so that its times count */
    public boolean succeeded() {
        return error == null && ("stop".equals(finishReason) || "length".equals(finishReason));
    }
}
