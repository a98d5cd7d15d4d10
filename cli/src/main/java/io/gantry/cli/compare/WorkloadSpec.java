package io.gantry.cli.compare;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A synthetic serving workload, reproducible from its seed: how many requests, when they arrive, how long their
 * prompts and outputs are, whether the prompts share a prefix, and their priorities. Prompts are random token ids.
 *
 * <p>Arrivals: with a finite {@code requestRate}, the gaps between requests are exponential (a Poisson process) with
 * that mean rate; an infinite rate sends them all at once. {@code concurrency} (0: unbounded) caps how many are in
 * flight: with an infinite rate that is a closed loop of that many clients, each sending its next request when its
 * previous one ends.
 *
 * @param requests           how many requests, at least 1
 * @param requestRate        mean requests per second, or {@link Double#POSITIVE_INFINITY} for all at once
 * @param concurrency        the most requests in flight, or 0 for no limit
 * @param promptTokens       each prompt's own tokens, after the shared prefix
 * @param maxTokens          each request's {@code max_tokens}
 * @param sharedPrefixTokens tokens every prompt starts with (the same ones), 0 for none
 * @param ignoreEos          generate past end-of-generation tokens, so outputs have exactly {@code max_tokens}
 * @param priorities         the requests' priorities
 * @param seed               the seed every random choice derives from
 */
public record WorkloadSpec(int requests, double requestRate, int concurrency, LengthDistribution promptTokens,
        LengthDistribution maxTokens, int sharedPrefixTokens, boolean ignoreEos, PriorityPattern priorities,
        long seed) {

    /** Checks every value, naming the option that sets it. */
    public WorkloadSpec {
        if (requests < 1) {
            throw new IllegalArgumentException("--requests must be at least 1, got " + requests);
        }
        if (!(requestRate > 0)) {
            throw new IllegalArgumentException("--request-rate must be positive (or inf), got " + requestRate);
        }
        if (concurrency < 0) {
            throw new IllegalArgumentException("--concurrency must be at least 1, got " + concurrency);
        }
        if (sharedPrefixTokens < 0) {
            throw new IllegalArgumentException("--shared-prefix-tokens must be 0 or more, got " + sharedPrefixTokens);
        }
    }

    /**
     * Draws the workload. Each aspect (arrivals, prompt lengths, output lengths, tokens, priorities) has a random
     * stream of its own, split from the seed, so changing one option leaves the others' draws as they were.
     *
     * @param vocabularySize the model's vocabulary: token ids are drawn from {@code [0, vocabularySize)}
     * @return the requests, in arrival order
     */
    public Workload generate(int vocabularySize) {
        if (vocabularySize < 1) {
            throw new IllegalArgumentException("The vocabulary is empty");
        }
        SplittableRandom root = new SplittableRandom(seed);
        SplittableRandom arrivals = root.split();
        SplittableRandom promptLengths = root.split();
        SplittableRandom outputLengths = root.split();
        SplittableRandom tokens = root.split();
        SplittableRandom priorityDraws = root.split();
        int[] prefix = tokens.ints(sharedPrefixTokens, 0, vocabularySize).toArray();
        List<Workload.Request> list = new ArrayList<>(requests);
        double arrival = 0;
        for (int i = 0; i < requests; i++) {
            if (i > 0 && Double.isFinite(requestRate)) {
                arrival += -Math.log1p(-arrivals.nextDouble()) / requestRate;
            }
            int own = promptTokens.sample(promptLengths);
            int output = maxTokens.sample(outputLengths);
            int[] prompt = new int[sharedPrefixTokens + own];
            System.arraycopy(prefix, 0, prompt, 0, prefix.length);
            for (int t = prefix.length; t < prompt.length; t++) {
                prompt[t] = tokens.nextInt(vocabularySize);
            }
            list.add(new Workload.Request(i, arrival, prompt, output, priorities.priorityOf(i, priorityDraws)));
        }
        return new Workload(this, list);
    }
}
