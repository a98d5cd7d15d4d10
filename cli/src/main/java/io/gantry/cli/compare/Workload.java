package io.gantry.cli.compare;

import java.util.Arrays;
import java.util.List;

/**
 * The requests of a {@link WorkloadSpec}, drawn: the same for every strategy a comparison runs.
 *
 * @param spec     what it was drawn from (its rate and concurrency also govern how the requests are sent)
 * @param requests the requests, in arrival order
 */
public record Workload(WorkloadSpec spec, List<Request> requests) {

    /** Copies the list. */
    public Workload {
        requests = List.copyOf(requests);
    }

    /**
     * A short workload to warm up on: the first requests, sent all at once, with outputs capped.
     *
     * @param count     the most requests
     * @param maxTokens the most output tokens per request
     * @return the warm-up workload
     */
    public Workload warmUp(int count, int maxTokens) {
        WorkloadSpec all = new WorkloadSpec(Math.min(count, requests.size()), Double.POSITIVE_INFINITY, 0,
                spec.promptTokens(), spec.maxTokens(), spec.sharedPrefixTokens(), spec.ignoreEos(), spec.priorities(),
                spec.seed());
        return new Workload(all, requests.subList(0, all.requests()).stream()
                .map(r -> new Request(r.index(), 0, r.prompt, Math.min(r.maxTokens(), maxTokens), r.priority()))
                .toList());
    }

    /** @return the longest prompt plus output of any request: what the model's context must hold */
    public int longestSequence() {
        return requests.stream().mapToInt(r -> r.prompt.length + r.maxTokens()).max().orElse(0);
    }

    /**
     * One request.
     *
     * @param index          its place in the workload
     * @param arrivalSeconds when it is sent, after the run's start
     * @param prompt         its prompt's token ids
     * @param maxTokens      its {@code max_tokens}
     * @param priority       its priority
     */
    public record Request(int index, double arrivalSeconds, int[] prompt, int maxTokens, int priority) {

        /** Copies the prompt. */
        public Request {
            prompt = prompt.clone();
        }

        @Override
        public int[] prompt() {
            return prompt.clone();
        }

        /** @return prompt tokens */
        public int promptTokens() {
            return prompt.length;
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Request that && index == that.index && arrivalSeconds == that.arrivalSeconds
                    && maxTokens == that.maxTokens && priority == that.priority && Arrays.equals(prompt, that.prompt);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(prompt) * 31 + index;
        }

        @Override
        public String toString() {
            return "Request[" + index + ", at " + arrivalSeconds + " s, " + prompt.length + " prompt tokens, max_tokens "
                    + maxTokens + ", priority " + priority + "]";
        }
    }
}
