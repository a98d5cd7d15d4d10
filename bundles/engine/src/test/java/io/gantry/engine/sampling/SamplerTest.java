package io.gantry.engine.sampling;

import io.gantry.api.inference.SamplingParams;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {

    private static final int[] NO_PROMPT = {};
    /** Probabilities 0.5, 0.3, 0.15, 0.05 as logits. */
    private static final float[] FOUR = logs(0.5, 0.3, 0.15, 0.05);

    private static SamplingParams params(float temperature, int topK, float topP, float minP, Long seed) {
        return new SamplingParams(temperature, topK, topP, minP, 1f, 0f, 0f, seed);
    }

    private static SamplingParams penalties(float repetition, float presence, float frequency) {
        return new SamplingParams(0f, 0, 1f, 0f, repetition, presence, frequency, null);
    }

    @Test
    void greedyPicksTheLargestLogitAndTheLowestIdAmongEquals() {
        float[] logits = randomLogits(new Random(1), 1000);
        int best = IntStream.range(0, logits.length).reduce((a, b) -> logits[b] > logits[a] ? b : a).orElseThrow();
        assertEquals(best, new Sampler(SamplingParams.GREEDY, logits.length, NO_PROMPT).sample(logits, 0));

        float[] ties = {0f, 3f, 1f, 3f};
        assertEquals(1, new Sampler(SamplingParams.GREEDY, 4, NO_PROMPT).sample(ties, 0));
    }

    @Test
    void readsTheRowAtTheOffset() {
        float[] rows = {5f, 0f, 0f, 0f, 1f, 0f};
        assertEquals(1, new Sampler(SamplingParams.GREEDY, 3, NO_PROMPT).sample(rows, 3));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(SamplingParams.GREEDY, 3, NO_PROMPT).sample(rows, 4));
    }

    @Test
    void theSameSeedGivesTheSameTokens() {
        for (SamplingParams p : new SamplingParams[] {params(0.8f, 0, 1f, 0f, 42L), params(0.8f, 40, 1f, 0f, 42L),
                params(0.8f, 0, 0.9f, 0f, 42L), params(1.2f, 0, 1f, 0.05f, 42L)}) {
            int[] first = sampleSeries(p, 7);
            assertArrayEquals(first, sampleSeries(p, 7), p.toString());
            SamplingParams otherSeed = new SamplingParams(p.temperature(), p.topK(), p.topP(), p.minP(), 1f, 0f, 0f, 43L);
            assertFalse(Arrays.equals(first, sampleSeries(otherSeed, 7)), p.toString());
        }
    }

    @Test
    void topKOfOneIsGreedy() {
        Random random = new Random(3);
        Sampler topOne = new Sampler(params(1.5f, 1, 1f, 0f, 5L), 5000, NO_PROMPT);
        Sampler greedy = new Sampler(SamplingParams.GREEDY, 5000, NO_PROMPT);
        for (int i = 0; i < 50; i++) {
            float[] logits = randomLogits(random, 5000);
            assertEquals(greedy.sample(logits, 0), topOne.sample(logits, 0));
        }
    }

    @Test
    void repetitionPenaltyCoversThePromptAndShrinksLogitsOfEitherSign() {
        float[] positive = {2f, 1.5f, 0f};
        assertEquals(0, new Sampler(penalties(1f, 0f, 0f), 3, new int[] {0}).sample(positive, 0));
        assertEquals(1, new Sampler(penalties(2f, 0f, 0f), 3, new int[] {0}).sample(positive, 0));

        float[] negative = {-1f, -1.5f, -3f};
        assertEquals(1, new Sampler(penalties(2f, 0f, 0f), 3, new int[] {0}).sample(negative, 0));

        Sampler generated = new Sampler(penalties(2f, 0f, 0f), 3, NO_PROMPT);
        assertEquals(0, generated.sample(positive, 0));
        generated.accept(0);
        assertEquals(1, generated.sample(positive, 0));
    }

    @Test
    void presenceAndFrequencyPenaltiesCoverOnlyGeneratedTokens() {
        float[] logits = {1f, 0.9f, 0.5f};
        Sampler presence = new Sampler(penalties(1f, 0.2f, 0f), 3, new int[] {0});
        assertEquals(0, presence.sample(logits, 0), "the prompt is not penalised");
        presence.accept(0);
        assertEquals(1, presence.sample(logits, 0));

        float[] close = {1f, 0.5f};
        Sampler frequency = new Sampler(penalties(1f, 0f, 0.2f), 2, NO_PROMPT);
        frequency.accept(0);
        frequency.accept(0);
        assertEquals(0, frequency.sample(close, 0), "1 - 2 * 0.2 > 0.5");
        frequency.accept(0);
        assertEquals(1, frequency.sample(close, 0), "1 - 3 * 0.2 < 0.5");
    }

    @Test
    void samplingLeavesTheLogitsAsTheyWere() {
        float[] logits = randomLogits(new Random(4), 100);
        float[] copy = logits.clone();
        Sampler sampler = new Sampler(new SamplingParams(0.7f, 10, 0.9f, 0.01f, 1.3f, 0.5f, 0.5f, 1L), 100,
                new int[] {3, 4, 5});
        sampler.accept(3);
        sampler.accept(7);
        sampler.sample(logits, 0);
        assertArrayEquals(copy, logits);
    }

    @Test
    void temperatureSamplingFollowsTheSoftmax() {
        double[] frequencies = frequencies(params(1f, 0, 1f, 0f, 9L), FOUR, 40_000);
        double[] expected = {0.5, 0.3, 0.15, 0.05};
        for (int i = 0; i < 4; i++) {
            assertEquals(expected[i], frequencies[i], 0.01, "token " + i);
        }
        double[] sharper = frequencies(params(0.5f, 0, 1f, 0f, 9L), FOUR, 40_000);
        assertTrue(sharper[0] > 0.65, "temperature 0.5 squares the probabilities: " + sharper[0]);
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        double[] two = frequencies(params(1f, 0, 0.75f, 0f, 11L), FOUR, 20_000);
        assertEquals(0.625, two[0], 0.015);
        assertEquals(0.375, two[1], 0.015);
        assertEquals(0, two[2] + two[3]);
        double[] three = frequencies(params(1f, 0, 0.85f, 0f, 11L), FOUR, 20_000);
        assertTrue(three[2] > 0.1);
        assertEquals(0, three[3]);
    }

    @Test
    void minPDropsTokensFarLessLikelyThanTheBest() {
        double[] two = frequencies(params(1f, 0, 1f, 0.35f, 12L), FOUR, 20_000);
        assertEquals(0, two[2] + two[3], "0.15 < 0.35 * 0.5");
        assertEquals(0.625, two[0], 0.015);
        double[] three = frequencies(params(1f, 3, 1f, 0.25f, 12L), FOUR, 20_000);
        assertTrue(three[2] > 0.1);
        assertEquals(0, three[3]);
    }

    @Test
    void largeVocabulariesSampleOnlyInsideTheExactNucleus() {
        Random random = new Random(5);
        float temperature = 0.7f;
        for (int topK : new int[] {0, 50}) {
            Sampler sampler = new Sampler(params(temperature, topK, 0.9f, 0f, 13L), 32_000, NO_PROMPT);
            Set<Integer> seen = new HashSet<>();
            for (int round = 0; round < 20; round++) {
                float[] logits = randomLogits(random, 32_000);
                Set<Integer> nucleus = bruteForceNucleus(logits, temperature, topK, 0.9);
                for (int draw = 0; draw < 50; draw++) {
                    int token = sampler.sample(logits, 0);
                    assertTrue(nucleus.contains(token), "token " + token + " is outside the nucleus");
                    seen.add(token);
                }
            }
            assertTrue(seen.size() > 50, "draws spread over the nucleus: " + seen.size());
        }
    }

    @Test
    void logprobsAreALogSoftmax() {
        float[] logits = randomLogits(new Random(6), 1000);
        Logprobs all = Logprobs.of(logits, 0, 1000, 17, 1000);
        double sum = 0;
        for (int j = 0; j < 1000; j++) {
            sum += Math.exp(all.topLogprobs()[j]);
            if (j > 0) {
                assertTrue(all.topLogprobs()[j] <= all.topLogprobs()[j - 1]);
            }
        }
        assertEquals(1, sum, 1e-4);
        int rank = IntStream.range(0, 1000).filter(j -> all.topIds()[j] == 17).findFirst().orElseThrow();
        assertEquals(all.topLogprobs()[rank], all.logprob(), 1e-6);
        assertEquals(logits[17] - logits[all.topIds()[0]], all.logprob() - all.topLogprobs()[0], 1e-5);

        Logprobs five = Logprobs.of(logits, 0, 1000, 17, 5);
        assertArrayEquals(Arrays.copyOf(all.topIds(), 5), five.topIds());
        assertEquals(all.logprob(), five.logprob());
        assertEquals(0, Logprobs.of(logits, 0, 1000, 17, 0).topIds().length);
    }

    private static int[] sampleSeries(SamplingParams p, long logitSeed) {
        Random random = new Random(logitSeed);
        Sampler sampler = new Sampler(p, 2000, NO_PROMPT);
        int[] tokens = new int[100];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = sampler.sample(randomLogits(random, 2000), 0);
        }
        return tokens;
    }

    private static double[] frequencies(SamplingParams p, float[] logits, int draws) {
        Sampler sampler = new Sampler(p, logits.length, NO_PROMPT);
        double[] frequencies = new double[logits.length];
        for (int i = 0; i < draws; i++) {
            frequencies[sampler.sample(logits, 0)] += 1.0 / draws;
        }
        return frequencies;
    }

    /** Sorts the whole vocabulary: the definition the sampler's partial selection must agree with. */
    private static Set<Integer> bruteForceNucleus(float[] logits, float temperature, int topK, double topP) {
        Integer[] order = IntStream.range(0, logits.length).boxed().sorted(Comparator.comparingDouble(i -> -logits[i]))
                .toArray(Integer[]::new);
        int considered = topK > 0 ? topK : logits.length;
        double max = logits[order[0]];
        double total = 0;
        for (int j = 0; j < considered; j++) {
            total += Math.exp((logits[order[j]] - max) / temperature);
        }
        Set<Integer> nucleus = new HashSet<>();
        double cumulative = 0;
        for (int j = 0; j < considered && cumulative < topP * total * (1 + 1e-6); j++) {
            nucleus.add(order[j]);
            cumulative += Math.exp((logits[order[j]] - max) / temperature);
        }
        return nucleus;
    }

    private static float[] randomLogits(Random random, int count) {
        float[] logits = new float[count];
        for (int i = 0; i < count; i++) {
            logits[i] = (float) (random.nextGaussian() * 3);
        }
        return logits;
    }

    private static float[] logs(double... probabilities) {
        float[] logits = new float[probabilities.length];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) Math.log(probabilities[i]);
        }
        return logits;
    }
}
