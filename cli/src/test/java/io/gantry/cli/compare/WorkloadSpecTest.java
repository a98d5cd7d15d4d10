package io.gantry.cli.compare;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WorkloadSpecTest {

    private static final int VOCABULARY = 1000;

    private static WorkloadSpec spec(long seed, String prompt, String output, double rate, int prefix) {
        return new WorkloadSpec(50, rate, 0, LengthDistribution.parse(prompt), LengthDistribution.parse(output), prefix,
                true, PriorityPattern.parse("0,0,1"), seed);
    }

    @Test
    void theSameSeedGivesTheSameWorkloadAndAnotherSeedAnother() {
        WorkloadSpec spec = spec(7, "uniform:10-90", "normal:40,10", 5, 16);
        Workload first = spec.generate(VOCABULARY);
        Workload again = spec.generate(VOCABULARY);
        assertEquals(first.requests(), again.requests());
        Workload other = spec(8, "uniform:10-90", "normal:40,10", 5, 16).generate(VOCABULARY);
        assertNotEquals(first.requests(), other.requests());
        assertEquals(50, first.requests().size());
    }

    @Test
    void eachAspectHasItsOwnRandomStream() {
        Workload base = spec(3, "uniform:10-90", "64", 5, 0).generate(VOCABULARY);
        Workload otherOutputs = spec(3, "uniform:10-90", "uniform:1-128", 5, 0).generate(VOCABULARY);
        Workload otherRate = spec(3, "uniform:10-90", "64", 50, 0).generate(VOCABULARY);
        for (int i = 0; i < base.requests().size(); i++) {
            Workload.Request request = base.requests().get(i);
            assertArrayEquals(request.prompt(), otherOutputs.requests().get(i).prompt(), "prompts stay with other outputs");
            assertEquals(request.arrivalSeconds(), otherOutputs.requests().get(i).arrivalSeconds());
            assertArrayEquals(request.prompt(), otherRate.requests().get(i).prompt(), "prompts stay with another rate");
            assertEquals(request.maxTokens(), otherRate.requests().get(i).maxTokens());
        }
    }

    @Test
    void lengthsPrefixTokensAndPrioritiesFollowTheSpec() {
        Workload workload = spec(1, "uniform:10-20", "uniform:5-6", Double.POSITIVE_INFINITY, 24).generate(VOCABULARY);
        int[] prefix = Arrays.copyOf(workload.requests().getFirst().prompt(), 24);
        for (Workload.Request request : workload.requests()) {
            int[] prompt = request.prompt();
            assertTrue(prompt.length >= 24 + 10 && prompt.length <= 24 + 20, request.toString());
            assertArrayEquals(prefix, Arrays.copyOf(prompt, 24), "every prompt starts with the shared prefix");
            assertTrue(Arrays.stream(prompt).allMatch(token -> token >= 0 && token < VOCABULARY));
            assertTrue(request.maxTokens() == 5 || request.maxTokens() == 6, request.toString());
            assertEquals(request.index() % 3 == 2 ? 1 : 0, request.priority(), "0,0,1 in turn");
            assertEquals(0, request.arrivalSeconds(), "an infinite rate sends everything at once");
        }
        assertNotEquals(workload.requests().get(0).prompt()[30], workload.requests().get(1).prompt()[30]);
        assertEquals(24 + 20 + 6, workload.longestSequence(), "uniform draws reach both ends in 50 requests");
    }

    @Test
    void arrivalsArePoissonWithTheGivenRate() {
        WorkloadSpec spec = new WorkloadSpec(4000, 20, 0, LengthDistribution.parse("1"), LengthDistribution.parse("1"),
                0, true, PriorityPattern.NONE, 11);
        List<Workload.Request> requests = spec.generate(10).requests();
        assertEquals(0, requests.getFirst().arrivalSeconds());
        double[] gaps = new double[requests.size() - 1];
        for (int i = 1; i < requests.size(); i++) {
            gaps[i - 1] = requests.get(i).arrivalSeconds() - requests.get(i - 1).arrivalSeconds();
            assertTrue(gaps[i - 1] >= 0);
        }
        double mean = Arrays.stream(gaps).average().orElseThrow();
        double variance = Arrays.stream(gaps).map(g -> (g - mean) * (g - mean)).sum() / gaps.length;
        assertEquals(0.05, mean, 0.005, "mean gap 1/rate");
        assertEquals(0.05, Math.sqrt(variance), 0.005, "exponential gaps: standard deviation = mean");
    }

    @Test
    void theWarmUpIsTheFirstRequestsAtOnceWithShortOutputs() {
        Workload workload = spec(5, "30", "64", 2, 0).generate(VOCABULARY);
        Workload warmUp = workload.warmUp(8, 16);
        assertEquals(8, warmUp.requests().size());
        for (int i = 0; i < 8; i++) {
            assertArrayEquals(workload.requests().get(i).prompt(), warmUp.requests().get(i).prompt());
            assertEquals(16, warmUp.requests().get(i).maxTokens());
            assertEquals(0, warmUp.requests().get(i).arrivalSeconds());
        }
        assertEquals(50, workload.warmUp(100, 16).requests().size(), "at most the whole workload");
    }

    @Test
    void badValuesNameTheirOption() {
        assertEquals("--requests must be at least 1, got 0", assertThrows(IllegalArgumentException.class,
                () -> new WorkloadSpec(0, 1, 0, new LengthDistribution.Fixed(1), new LengthDistribution.Fixed(1), 0,
                        true, PriorityPattern.NONE, 1)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new WorkloadSpec(1, 0, 0,
                new LengthDistribution.Fixed(1), new LengthDistribution.Fixed(1), 0, true, PriorityPattern.NONE, 1))
                .getMessage().startsWith("--request-rate must be positive"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new WorkloadSpec(1, 1, 0,
                new LengthDistribution.Fixed(1), new LengthDistribution.Fixed(1), -1, true, PriorityPattern.NONE, 1))
                .getMessage().startsWith("--shared-prefix-tokens must be 0 or more"));
    }
}
