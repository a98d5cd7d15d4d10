package io.gantry.engine.sampling;

import io.gantry.api.inference.SamplingParams;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Chooses each next token of one request from its logits, following {@link SamplingParams}:
 * <ol>
 * <li>penalties on tokens already seen: the repetition penalty over the prompt and the generated tokens
 *     (positive logits divided by it, negative ones multiplied), then the presence penalty once and the frequency
 *     penalty per occurrence over the generated tokens;</li>
 * <li>temperature 0: the largest logit (the lowest id among equals), and nothing else applies;</li>
 * <li>otherwise the distribution {@code softmax(logits / temperature)} is cut to its top-k tokens, then to the
 *     smallest most-likely set whose probability reaches top-p (of the top-k set's mass), then to the tokens at
 *     least min-p times as likely as the most likely one, and one token is drawn from what is left.</li>
 * </ol>
 * This is the order of vLLM and Hugging Face: top-p and min-p act on the tempered distribution that is sampled.
 *
 * <p>The random generator is a {@link SplittableRandom} seeded from {@link SamplingParams#seed()} (a random
 * seed when it is {@code null}), and every sampled (non-greedy) token takes exactly one draw from it, so the same
 * seed and logits give the same tokens.
 *
 * <p>One instance per request, used by one thread at a time (the engine's step loop); the request's history
 * lives here: the prompt given to the constructor and each token passed to {@link #accept}.
 */
public final class Sampler {

    /** Top-p pre-selection buckets per unit of tempered distance from the largest logit. */
    private static final int BUCKETS_PER_UNIT = 32;
    /** Distances beyond 32 share the last bucket: e^-32 is a negligible probability per token. */
    private static final int BUCKETS = 32 * BUCKETS_PER_UNIT;

    private final SamplingParams params;
    private final int vocabularySize;
    private final SplittableRandom random;
    private final boolean penalized;
    /** Tokens the penalties apply to: the prompt (count 0) when there is a repetition penalty, and generated ones. */
    private final TokenCounts seen = new TokenCounts();
    /** The logits penalties overwrote, restored before {@link #sample} returns. */
    private float[] saved = new float[16];
    /** Scratch, grown on demand: a request that only uses top-k or min-p never needs a vocabulary's worth. */
    private long[] candidates = new long[64];
    private double[] weights = new double[64];
    private double[] bucketMass;

    /**
     * @param params         how to sample
     * @param vocabularySize logits per row
     * @param prompt         the prompt's tokens, which the repetition penalty also covers
     */
    public Sampler(SamplingParams params, int vocabularySize, int[] prompt) {
        if (vocabularySize < 1) {
            throw new IllegalArgumentException("The vocabulary must not be empty");
        }
        this.params = params;
        this.vocabularySize = vocabularySize;
        this.random = params.seed() == null ? new SplittableRandom() : new SplittableRandom(params.seed());
        this.penalized = params.repetitionPenalty() != 1 || params.presencePenalty() != 0
                || params.frequencyPenalty() != 0;
        if (params.repetitionPenalty() != 1) {
            for (int token : prompt) {
                seen.add(checked(token), 0);
            }
        }
    }

    /**
     * Records a token of the output, for the penalties. Call it for every generated token, including tokens
     * re-fed after a preemption, in order.
     *
     * @param token the token
     */
    public void accept(int token) {
        if (penalized) {
            seen.add(checked(token), 1);
        }
    }

    /**
     * Chooses the next token.
     *
     * @param logits holds {@code vocabularySize} logits from {@code offset}; read, and restored if modified, so it
     *               is unchanged when this returns
     * @param offset where the row starts
     * @return the chosen token id
     */
    public int sample(float[] logits, int offset) {
        if (offset < 0 || logits.length - offset < vocabularySize) {
            throw new IllegalArgumentException("Expected " + vocabularySize + " logits from offset " + offset
                    + " in an array of " + logits.length);
        }
        int changed = penalized ? penalize(logits, offset) : 0;
        try {
            return params.isGreedy() ? argmax(logits, offset, vocabularySize) : draw(logits, offset);
        } finally {
            // Penalising in place and restoring costs work per seen token, where a copy would cost the vocabulary.
            for (int i = 0; i < changed; i++) {
                logits[offset + seen.token(i)] = saved[i];
            }
        }
    }

    private int penalize(float[] logits, int offset) {
        int n = seen.size();
        if (saved.length < n) {
            saved = new float[Math.max(n, saved.length * 2)];
        }
        float repetition = params.repetitionPenalty();
        for (int i = 0; i < n; i++) {
            int index = offset + seen.token(i);
            float logit = logits[index];
            saved[i] = logit;
            logit = logit > 0 ? logit / repetition : logit * repetition;
            int count = seen.count(i);
            if (count > 0) {
                logit -= params.presencePenalty() + count * params.frequencyPenalty();
            }
            logits[index] = logit;
        }
        return n;
    }

    private int draw(float[] logits, int offset) {
        float temperature = params.temperature();
        double u = random.nextDouble();
        boolean topK = params.topK() > 0 && params.topK() < vocabularySize;
        boolean topP = params.topP() < 1;
        if (!topK && !topP) {
            return drawFromAll(logits, offset, temperature, u);
        }
        int n;
        if (topK) {
            n = params.topK();
            ensureCapacity(n);
            Candidates.selectTop(logits, offset, vocabularySize, n, candidates);
        } else {
            n = nucleusCandidates(logits, offset, temperature);
        }
        float max = Candidates.logit(candidates[0]);
        double mass = 0;
        for (int j = 0; j < n; j++) {
            weights[j] = Math.exp((Candidates.logit(candidates[j]) - max) / temperature);
            mass += weights[j];
        }
        int keep = n;
        if (topP) {
            // Without top-k, top-p's share is of the whole vocabulary's mass, which the buckets summed.
            double target = params.topP() * (topK ? mass : sum(bucketMass));
            double cumulative = 0;
            for (int j = 0; j < n; j++) {
                cumulative += weights[j];
                if (cumulative >= target) {
                    keep = j + 1;
                    break;
                }
            }
        }
        float minLogit = minLogit(max, temperature);
        while (keep > 1 && Candidates.logit(candidates[keep - 1]) < minLogit) {
            keep--;
        }
        double kept = 0;
        for (int j = 0; j < keep; j++) {
            kept += weights[j];
        }
        double r = u * kept;
        for (int j = 0; j < keep - 1; j++) {
            r -= weights[j];
            if (r < 0) {
                return Candidates.id(candidates[j]);
            }
        }
        return Candidates.id(candidates[keep - 1]);
    }

    /**
     * Gathers, sorted largest first, a superset of the top-p nucleus (cut by min-p) without sorting the vocabulary:
     * one pass sums the probability mass per bucket of distance from the largest logit, the buckets are walked
     * from the top until they hold top-p of the mass, and only tokens in those buckets become candidates. The
     * exact cut is made on the sorted candidates.
     *
     * @return the number of candidates
     */
    private int nucleusCandidates(float[] logits, int offset, float temperature) {
        float max = max(logits, offset);
        if (bucketMass == null) {
            bucketMass = new double[BUCKETS];
        }
        Arrays.fill(bucketMass, 0);
        for (int i = 0; i < vocabularySize; i++) {
            float logit = logits[offset + i];
            bucketMass[bucket(logit, max, temperature)] += Math.exp((logit - max) / temperature);
        }
        double target = params.topP() * sum(bucketMass);
        int lastBucket = BUCKETS - 1;
        double cumulative = 0;
        for (int b = 0; b < BUCKETS; b++) {
            cumulative += bucketMass[b];
            if (cumulative >= target) {
                lastBucket = b;
                break;
            }
        }
        float minLogit = minLogit(max, temperature);
        int n = 0;
        for (int i = 0; i < vocabularySize; i++) {
            float logit = logits[offset + i];
            if (logit >= minLogit && bucket(logit, max, temperature) <= lastBucket) {
                if (n == candidates.length) {
                    ensureCapacity(n * 2);
                }
                candidates[n++] = Candidates.key(logit, i);
            }
        }
        Arrays.sort(candidates, 0, n);
        for (int i = 0, j = n - 1; i < j; i++, j--) {
            long swap = candidates[i];
            candidates[i] = candidates[j];
            candidates[j] = swap;
        }
        return n;
    }

    /**
     * Temperature (and min-p) alone: draws by walking the vocabulary twice, recomputing each weight, so that no
     * vocabulary-sized scratch is needed.
     */
    private int drawFromAll(float[] logits, int offset, float temperature, double u) {
        float max = max(logits, offset);
        float minLogit = minLogit(max, temperature);
        double mass = 0;
        for (int i = 0; i < vocabularySize; i++) {
            float logit = logits[offset + i];
            if (logit >= minLogit) {
                mass += Math.exp((logit - max) / temperature);
            }
        }
        double r = u * mass;
        int last = -1;
        for (int i = 0; i < vocabularySize; i++) {
            float logit = logits[offset + i];
            if (logit >= minLogit) {
                r -= Math.exp((logit - max) / temperature);
                if (r < 0) {
                    return i;
                }
                last = i;
            }
        }
        return last; // rounding left r at or just above 0
    }

    /** @return the smallest logit min-p keeps: {@code p >= minP * pMax} is {@code logit >= max + T ln minP} */
    private float minLogit(float max, float temperature) {
        return params.minP() > 0 ? max + temperature * (float) Math.log(params.minP()) : Float.NEGATIVE_INFINITY;
    }

    private static int bucket(float logit, float max, float temperature) {
        return (int) Math.min(BUCKETS - 1, (max - logit) / temperature * BUCKETS_PER_UNIT);
    }

    private void ensureCapacity(int n) {
        if (candidates.length < n) {
            candidates = Arrays.copyOf(candidates, n);
            weights = new double[n];
        }
    }

    private float max(float[] logits, int offset) {
        return logits[offset + argmax(logits, offset, vocabularySize)];
    }

    private int checked(int token) {
        if (token < 0 || token >= vocabularySize) {
            throw new IllegalArgumentException("Token " + token + " is outside the vocabulary of " + vocabularySize);
        }
        return token;
    }

    private static double sum(double[] values) {
        double sum = 0;
        for (double value : values) {
            sum += value;
        }
        return sum;
    }

    /**
     * @return the index of the largest of {@code count} logits from {@code offset}, the first one among equals
     */
    static int argmax(float[] logits, int offset, int count) {
        int best = 0;
        float max = logits[offset];
        for (int i = 1; i < count; i++) {
            if (logits[offset + i] > max) {
                max = logits[offset + i];
                best = i;
            }
        }
        return best;
    }
}
