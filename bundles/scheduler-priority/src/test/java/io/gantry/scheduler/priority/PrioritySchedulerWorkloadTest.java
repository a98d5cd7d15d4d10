package io.gantry.scheduler.priority;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.scheduler.KvBudget;
import io.gantry.api.scheduler.SequenceState;
import io.gantry.api.scheduler.SequenceView;
import io.gantry.api.scheduler.SimulatedView;
import io.gantry.api.scheduler.StepPlan;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Random traffic of mixed priorities through the fake engine, with the plan checked every step. */
class PrioritySchedulerWorkloadTest {

    private static final int REQUESTS = 2000;

    @Test
    void servesEveryRequestOfRandomMixedPriorityTrafficWithValidPlans() {
        PriorityScheduler scheduler = new PriorityScheduler(0.5);
        Random random = new Random(4242);
        SimulatedEngine engine = new SimulatedEngine(8, 96, 48, 8);
        int submitted = 0;
        int steps = 0;
        while (submitted < REQUESTS || !engine.idle()) {
            assertTrue(++steps < 100 * REQUESTS, "no progress");
            if (submitted < REQUESTS && random.nextInt(3) == 0) {
                engine.submit(random.nextInt(4) == 0 ? random.nextInt(10) : 0, 1 + random.nextInt(60),
                        1 + random.nextInt(30));
                submitted++;
            }
            SimulatedView view = engine.view();
            StepPlan plan = scheduler.plan(view);
            checkPlan(view, plan, scheduler.ageingRate());
            engine.apply(plan);
        }
        assertEquals(REQUESTS, engine.finishedCount());
        assertTrue(engine.preemptions() > 50, "KV must run short often enough to preempt: " + engine.preemptions());
    }

    /**
     * The plan fits the step's limits and the KV it frees and takes, preempts only running sequences that it
     * does not also run, and admits waiting sequences strictly in rank order.
     */
    private static void checkPlan(SimulatedView view, StepPlan plan, double ageingRate) {
        Map<Long, SequenceView> sequences = new HashMap<>();
        view.running().forEach(sequence -> sequences.put(sequence.id(), sequence));
        view.waiting().forEach(sequence -> sequences.put(sequence.id(), sequence));
        KvBudget kv = view.kv();
        assertTrue(plan.run().size() <= view.limits().maxNumSeqs(), "too many sequences");
        assertTrue(plan.totalTokens() <= view.limits().maxNumBatchedTokens(), "over the token budget");
        int free = kv.freeBlocks();
        Set<Long> preempted = new HashSet<>(plan.preempt());
        assertEquals(plan.preempt().size(), preempted.size(), "a sequence preempted twice");
        for (long id : plan.preempt()) {
            SequenceView sequence = sequences.get(id);
            assertEquals(SequenceState.RUNNING, sequence.state(), "only running sequences can be preempted");
            free += kv.blocksFreedByPreempting(sequence);
        }
        Set<Long> admitted = new HashSet<>();
        for (StepPlan.Chunk chunk : plan.run()) {
            SequenceView sequence = sequences.get(chunk.sequenceId());
            assertTrue(!preempted.contains(chunk.sequenceId()) && admitted.add(chunk.sequenceId()),
                    "sequence " + chunk.sequenceId() + " both preempted and run, or run twice");
            assertTrue(chunk.tokens() <= sequence.pendingTokens(), "more tokens than pending");
            free -= kv.blocksNeeded(sequence, chunk.tokens());
        }
        assertTrue(free >= 0, "the plan takes more KV blocks than are free");
        long now = view.nowNanos();
        List<SequenceView> waitingByRank = view.waiting().stream()
                .sorted(Comparator.comparingDouble((SequenceView sequence) ->
                                sequence.priority() + ageingRate * (now - sequence.arrivalNanos()) / 1e9).reversed()
                        .thenComparingLong(SequenceView::arrivalNanos))
                .toList();
        boolean skipped = false;
        for (SequenceView sequence : waitingByRank) {
            boolean runs = admitted.contains(sequence.id());
            assertTrue(!(runs && skipped), "waiting sequence " + sequence.id() + " overtook a higher-ranked one");
            skipped |= !runs;
        }
    }
}
