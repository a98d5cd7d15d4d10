package io.gantry.api.scheduler;

import java.util.ArrayList;
import java.util.List;

/**
 * What one engine step does: the sequences to run with the number of pending tokens each feeds, and the
 * running sequences to preempt first (their KV space is freed; they go back to waiting and keep tokens).
 *
 * <p>Immutable. Build one with {@link #builder()}.
 *
 * @param run     sequences to run this step, each with the number of its pending tokens to feed (≥ 1)
 * @param preempt ids of running sequences to preempt before running the step
 */
public record StepPlan(List<Chunk> run, List<Long> preempt) {

    private static final StepPlan IDLE = new StepPlan(List.of(), List.of());

    /**
     * @param sequenceId the sequence's {@link SequenceView#id()}
     * @param tokens     how many of its pending tokens to feed this step (at least 1)
     */
    public record Chunk(long sequenceId, int tokens) {
        /** Checks that at least one token is fed. */
        public Chunk {
            if (tokens < 1) {
                throw new IllegalArgumentException("A scheduled chunk must feed at least 1 token, got " + tokens);
            }
        }
    }

    /** Copies both lists so the plan cannot change after it is made. */
    public StepPlan {
        run = List.copyOf(run);
        preempt = List.copyOf(preempt);
    }

    /** @return the plan that runs nothing */
    public static StepPlan idle() {
        return IDLE;
    }

    /** @return whether the plan neither runs nor preempts anything */
    public boolean isIdle() {
        return run.isEmpty() && preempt.isEmpty();
    }

    /** @return the total tokens the plan feeds through the model */
    public int totalTokens() {
        int total = 0;
        for (Chunk chunk : run) {
            total += chunk.tokens();
        }
        return total;
    }

    /** @return a new, empty builder */
    public static Builder builder() {
        return new Builder();
    }

    /** Collects a plan step by step; not thread-safe. */
    public static final class Builder {
        private final List<Chunk> run = new ArrayList<>();
        private final List<Long> preempt = new ArrayList<>();

        private Builder() {
        }

        /**
         * @param sequenceId the sequence to run
         * @param tokens     how many of its pending tokens to feed
         * @return this builder
         */
        public Builder run(long sequenceId, int tokens) {
            run.add(new Chunk(sequenceId, tokens));
            return this;
        }

        /**
         * @param sequenceId a running sequence to preempt
         * @return this builder
         */
        public Builder preempt(long sequenceId) {
            preempt.add(sequenceId);
            return this;
        }

        /** @return the plan collected so far */
        public StepPlan build() {
            return run.isEmpty() && preempt.isEmpty() ? IDLE : new StepPlan(run, preempt);
        }
    }
}
