package io.gantry.engine.sampling;

/**
 * Log-probabilities of a chosen token and of the most likely alternatives, under the model's own distribution:
 * the log-softmax of the raw logits, before penalties and temperature (as the OpenAI API and vLLM report them).
 * The arrays are the record's own and not copied: treat them as read-only.
 *
 * @param token       the chosen token
 * @param logprob     its log-probability
 * @param topIds      the most likely tokens, most likely first
 * @param topLogprobs their log-probabilities, in the same order
 */
public record Logprobs(int token, float logprob, int[] topIds, float[] topLogprobs) {

    /**
     * @param logits         holds {@code vocabularySize} logits from {@code offset}; not modified
     * @param offset         where the row starts
     * @param vocabularySize logits in the row
     * @param token          the chosen token
     * @param top            how many alternatives to report, 0 for none (at most the vocabulary)
     * @return the log-probabilities
     */
    public static Logprobs of(float[] logits, int offset, int vocabularySize, int token, int top) {
        if (token < 0 || token >= vocabularySize || top < 0) {
            throw new IllegalArgumentException("Token " + token + " or count " + top + " is out of range for a "
                    + "vocabulary of " + vocabularySize);
        }
        float max = logits[offset + Sampler.argmax(logits, offset, vocabularySize)];
        double sum = 0;
        for (int i = 0; i < vocabularySize; i++) {
            sum += Math.exp(logits[offset + i] - max);
        }
        float logSumExp = (float) (max + Math.log(sum));
        int n = Math.min(top, vocabularySize);
        int[] ids = new int[n];
        float[] values = new float[n];
        if (n > 0) {
            long[] best = new long[n];
            Candidates.selectTop(logits, offset, vocabularySize, n, best);
            for (int j = 0; j < n; j++) {
                ids[j] = Candidates.id(best[j]);
                values[j] = Candidates.logit(best[j]) - logSumExp;
            }
        }
        return new Logprobs(token, logits[offset + token] - logSumExp, ids, values);
    }
}
