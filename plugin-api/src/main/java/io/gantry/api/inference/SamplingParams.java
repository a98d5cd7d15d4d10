package io.gantry.api.inference;

/**
 * How the next token is chosen from the logits. Defaults follow the OpenAI API and llama.cpp's server.
 *
 * @param temperature       0 for greedy; otherwise logits are divided by it (0..2 typical, at most 100)
 * @param topK              keep the k most likely tokens; 0 keeps all
 * @param topP              keep the smallest set whose probability reaches p; 1 keeps all
 * @param minP              drop tokens less likely than {@code minP} times the most likely; 0 keeps all
 * @param repetitionPenalty divides positive (multiplies negative) logits of tokens already seen; 1 is off
 * @param presencePenalty   subtracted once from logits of tokens already generated; -2..2
 * @param frequencyPenalty  subtracted per occurrence from logits of tokens already generated; -2..2
 * @param seed              the random seed; the same seed and request give the same output; {@code null}
 *                          picks one at random
 */
public record SamplingParams(float temperature, int topK, float topP, float minP, float repetitionPenalty,
        float presencePenalty, float frequencyPenalty, Long seed) {

    /** Greedy decoding with no penalties. */
    public static final SamplingParams GREEDY = new SamplingParams(0f, 0, 1f, 0f, 1f, 0f, 0f, null);

    /** Checks every value's range, naming the parameter that is out of range. */
    public SamplingParams {
        check("temperature", temperature, 0, 100);
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be 0 (off) or positive, got " + topK);
        }
        check("top_p", topP, 0, 1);
        if (topP == 0) {
            throw new IllegalArgumentException("top_p must be greater than 0, got 0");
        }
        check("min_p", minP, 0, 1);
        check("repetition_penalty", repetitionPenalty, 0, 10);
        if (repetitionPenalty == 0) {
            throw new IllegalArgumentException("repetition_penalty must be greater than 0, got 0");
        }
        check("presence_penalty", presencePenalty, -2, 2);
        check("frequency_penalty", frequencyPenalty, -2, 2);
    }

    private static void check(String name, float value, float min, float max) {
        if (!(value >= min && value <= max)) {
            throw new IllegalArgumentException(name + " must be between " + min + " and " + max + ", got " + value);
        }
    }

    /** @return whether sampling is greedy (temperature 0) */
    public boolean isGreedy() {
        return temperature == 0f;
    }

    /** @return whether the same request always produces the same output (greedy, or a fixed seed) */
    public boolean isDeterministic() {
        return isGreedy() || seed != null;
    }
}
