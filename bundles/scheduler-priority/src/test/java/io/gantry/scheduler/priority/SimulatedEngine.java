package io.gantry.scheduler.priority;

import io.gantry.api.scheduler.Scheduler;
import io.gantry.api.scheduler.SequenceState;
import io.gantry.api.scheduler.SimulatedView;
import io.gantry.api.scheduler.SimulatedView.Seq;
import io.gantry.api.scheduler.StepPlan;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A fake step loop for scheduler tests: keeps request state as the engine does, builds a {@link SimulatedView}
 * each step (one simulated second apart), and applies the plan: preempted sequences lose their KV and wait to
 * re-prefill, run chunks advance prefill, and a sequence whose tokens are all computed samples its next token.
 * The view refuses a pool that is over-committed, so a plan whose blocks do not fit fails the next step.
 */
final class SimulatedEngine {

    private static final long SECOND = 1_000_000_000L;

    /** One request's mutable state. */
    private static final class Request {
        final long id;
        final int priority;
        final int promptTokens;
        final int maxTokens;
        final long arrivalNanos;
        SequenceState state = SequenceState.WAITING;
        int generated;
        int computed;
        int preemptions;
        long admittedAt;

        Request(long id, int priority, int promptTokens, int maxTokens, long arrivalNanos) {
            this.id = id;
            this.priority = priority;
            this.promptTokens = promptTokens;
            this.maxTokens = maxTokens;
            this.arrivalNanos = arrivalNanos;
        }

        Seq view() {
            return new Seq(id, state, promptTokens, generated, computed, maxTokens - generated, priority, arrivalNanos,
                    preemptions);
        }
    }

    private final int maxNumSeqs;
    private final int maxNumBatchedTokens;
    private final int totalBlocks;
    private final int blockSize;
    private final List<Request> live = new ArrayList<>();
    private final Set<Long> finished = new HashSet<>();
    private long now;
    private long nextId = 1;
    private long admissions;
    private int preemptions;

    SimulatedEngine(int maxNumSeqs, int maxNumBatchedTokens, int totalBlocks, int blockSize) {
        this.maxNumSeqs = maxNumSeqs;
        this.maxNumBatchedTokens = maxNumBatchedTokens;
        this.totalBlocks = totalBlocks;
        this.blockSize = blockSize;
    }

    /** @return the new request's id */
    long submit(int priority, int promptTokens, int maxTokens) {
        Request request = new Request(nextId++, priority, promptTokens, maxTokens, now);
        live.add(request);
        return request.id;
    }

    /** @return the view the scheduler sees now */
    SimulatedView view() {
        SimulatedView view = new SimulatedView(maxNumSeqs, maxNumBatchedTokens, totalBlocks, blockSize);
        live.stream().filter(request -> request.state != SequenceState.RUNNING)
                .sorted(Comparator.comparingLong(request -> request.arrivalNanos))
                .forEach(request -> view.add(request.view()));
        live.stream().filter(request -> request.state == SequenceState.RUNNING)
                .sorted(Comparator.comparingLong(request -> request.admittedAt))
                .forEach(request -> view.add(request.view()));
        return view.atNanos(now);
    }

    /** Plans a step with the scheduler, applies the plan and advances the clock by a second. */
    StepPlan step(Scheduler scheduler) {
        StepPlan plan = scheduler.plan(view());
        apply(plan);
        return plan;
    }

    void apply(StepPlan plan) {
        for (long id : plan.preempt()) {
            Request request = find(id);
            request.state = SequenceState.PREEMPTED;
            request.computed = 0;
            request.preemptions++;
            preemptions++;
        }
        for (StepPlan.Chunk chunk : plan.run()) {
            Request request = find(chunk.sequenceId());
            if (request.state != SequenceState.RUNNING) {
                request.state = SequenceState.RUNNING;
                request.admittedAt = admissions++;
            }
            request.computed += chunk.tokens();
            if (request.computed == request.promptTokens + request.generated) {
                request.generated++;
                if (request.generated == request.maxTokens) {
                    live.remove(request);
                    finished.add(request.id);
                }
            }
        }
        now += SECOND;
    }

    boolean finished(long id) {
        return finished.contains(id);
    }

    int finishedCount() {
        return finished.size();
    }

    boolean idle() {
        return live.isEmpty();
    }

    int preemptions() {
        return preemptions;
    }

    private Request find(long id) {
        return live.stream().filter(request -> request.id == id).findFirst()
                .orElseThrow(() -> new AssertionError("the plan names unknown sequence " + id));
    }
}
