package io.gantry.api.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class StepBudgetTest {

    @Test
    void chunksAPrefillToTheTokenBudget() {
        SimulatedView view = new SimulatedView(4, 100, 100, 16).waiting(1, 300);
        StepBudget budget = new StepBudget(view);
        assertTrue(budget.tryRun(view.waiting().getFirst()));
        assertEquals(List.of(new StepPlan.Chunk(1, 100)), budget.build().run());
        assertEquals(0, budget.tokensLeft());
        assertEquals(100 - 7, budget.freeBlocks(), "100 tokens take 7 blocks of 16");
    }

    @Test
    void refusesASequenceWhoseBlocksDoNotFit() {
        SimulatedView view = new SimulatedView(4, 512, 2, 16).waiting(1, 40);
        StepBudget budget = new StepBudget(view);
        assertFalse(budget.tryRun(view.waiting().getFirst()));
        assertTrue(budget.build().isIdle());
    }

    @Test
    void preemptsTheFirstVictimUntilTheSequenceFits() {
        // 3 blocks of 4 tokens: seq 1 holds 1 block (4 computed) and needs a second for its 5th position;
        // seq 2 holds 2 blocks (7 computed), so nothing is free until seq 2 goes.
        SimulatedView view = new SimulatedView(4, 64, 3, 4).decoding(1, 4, 1).decoding(2, 7, 1);
        StepBudget budget = new StepBudget(view);
        List<SequenceView> running = view.running();
        budget.runPreempting(running, running.reversed());
        StepPlan plan = budget.build();
        assertEquals(List.of(2L), plan.preempt());
        assertEquals(List.of(new StepPlan.Chunk(1, 1)), plan.run());
        assertTrue(budget.preemptedAny());
    }

    @Test
    void preemptsTheSequenceItselfWhenNoVictimIsLeft() {
        SimulatedView view = new SimulatedView(4, 64, 1, 4).decoding(1, 4, 1);
        StepBudget budget = new StepBudget(view);
        budget.runPreempting(view.running(), view.running());
        assertEquals(List.of(1L), budget.build().preempt());
        assertTrue(budget.build().run().isEmpty());
    }

    @Test
    void admitInOrderStopsAtTheFirstThatDoesNotFit() {
        SimulatedView view = new SimulatedView(8, 1000, 4, 16).waiting(1, 16).waiting(2, 64).waiting(3, 8);
        StepBudget budget = new StepBudget(view);
        budget.admitInOrder(view.waiting());
        assertEquals(List.of(new StepPlan.Chunk(1, 16)), budget.build().run(), "2 does not fit, so 3 must not overtake it");
    }

    @Test
    void neverExceedsTheSequenceLimit() {
        SimulatedView view = new SimulatedView(2, 1000, 100, 16).waiting(1, 5).waiting(2, 5).waiting(3, 5);
        StepBudget budget = new StepBudget(view);
        budget.admitInOrder(view.waiting());
        assertEquals(2, budget.build().run().size());
        assertFalse(budget.hasRoom());
    }

    @Test
    void refusesToPreemptAWaitingSequence() {
        SimulatedView view = new SimulatedView(2, 1000, 100, 16).waiting(1, 5);
        StepBudget budget = new StepBudget(view);
        assertThrows(IllegalArgumentException.class, () -> budget.preempt(view.waiting().getFirst()));
    }

    @Test
    void deferredAdmissionWaitsForAPrefillOfTheSamePrefixInThisStep() {
        SimulatedView view = new SimulatedView(8, 512, 100, 16)
                .waiting(1, 80).waiting(2, 80).waiting(3, 80).waiting(4, 40)
                .sharePrefix(64, 1, 2, 3);
        StepBudget budget = new StepBudget(view).deferSharedPrefills();
        budget.admitInOrder(view.waiting());
        assertEquals(List.of(new StepPlan.Chunk(1, 80), new StepPlan.Chunk(4, 40)), budget.build().run(),
                "2 and 3 wait for 1's prefill of their common 64 tokens; 4 shares nothing and joins");
    }

    @Test
    void deferredAdmissionWaitsForARunningPrefillUntilTheSharedBlocksAreComputed() {
        SimulatedView view = new SimulatedView(8, 32, 100, 16)
                .prefilling(1, 80, 32).waiting(2, 80).sharePrefix(64, 1, 2).cached(2, 32);
        StepBudget waitingForIt = new StepBudget(view).deferSharedPrefills();
        waitingForIt.admitInOrder(view.waiting());
        assertTrue(waitingForIt.build().isIdle(), "1 still has to compute tokens 32..63 that 2 shares");

        SimulatedView computed = new SimulatedView(8, 512, 100, 16)
                .prefilling(1, 80, 64).waiting(2, 80).sharePrefix(64, 1, 2).cached(2, 64);
        StepBudget reusing = new StepBudget(computed).deferSharedPrefills();
        reusing.admitInOrder(computed.waiting());
        assertEquals(List.of(new StepPlan.Chunk(2, 80)), reusing.build().run(),
                "the shared blocks are cached: nothing to wait for");
    }

    @Test
    void admissionWithoutDeferralComputesSharedPrefixesTwice() {
        SimulatedView view = new SimulatedView(8, 512, 100, 16).waiting(1, 80).waiting(2, 80).sharePrefix(64, 1, 2);
        StepBudget budget = new StepBudget(view);
        budget.admitInOrder(view.waiting());
        assertEquals(2, budget.build().run().size(), "a policy that did not ask to defer admits both");
    }

    @Test
    void aSharedPrefixShorterThanABlockIsNothingToWaitFor() {
        SimulatedView view = new SimulatedView(8, 512, 100, 16).waiting(1, 80).waiting(2, 80).sharePrefix(15, 1, 2);
        StepBudget budget = new StepBudget(view).deferSharedPrefills();
        budget.admitInOrder(view.waiting());
        assertEquals(2, budget.build().run().size());
    }
}
