package io.gantry.scheduler.priority;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.scheduler.SequenceState;
import io.gantry.api.scheduler.SimulatedView;
import io.gantry.api.scheduler.SimulatedView.Seq;
import io.gantry.api.scheduler.StepPlan;
import io.gantry.api.scheduler.StepPlan.Chunk;
import java.util.List;
import org.junit.jupiter.api.Test;

class PrioritySchedulerTest {

    private static final long SECOND = 1_000_000_000L;

    private final PriorityScheduler scheduler = new PriorityScheduler();

    @Test
    void admitsHigherPrioritiesFirst() {
        SimulatedView view = new SimulatedView(2, 256, 100, 16).waiting(1, 10, 0).waiting(2, 10, 5).waiting(3, 10, 1);
        assertEquals(List.of(new Chunk(2, 10), new Chunk(3, 10)), scheduler.plan(view).run());
    }

    @Test
    void withEqualPrioritiesItIsContinuousBatchingInArrivalOrder() {
        SimulatedView view = new SimulatedView(8, 256, 100, 16).decoding(1, 20, 3).decoding(2, 10, 1).waiting(3, 30);
        assertEquals(List.of(new Chunk(1, 1), new Chunk(2, 1), new Chunk(3, 30)), scheduler.plan(view).run());
    }

    @Test
    void chunksALongHighPriorityPromptUnderTheTokenBudget() {
        SimulatedView view = new SimulatedView(8, 64, 100, 16).decoding(1, 20, 3).waiting(2, 500, 3);
        StepPlan plan = scheduler.plan(view);
        assertEquals(List.of(new Chunk(2, 64)), plan.run(), "the urgent prefill takes the whole step's budget");
        assertEquals(List.of(), plan.preempt(), "the decoding sequence keeps its KV and simply waits a step");
    }

    @Test
    void preemptsALowerPriorityRunningSequenceForAHigherOneThatWaits() {
        // 4 blocks of 4: sequence 1 (priority 0) holds 3; the urgent prompt of 6 tokens needs 2.
        SimulatedView view = new SimulatedView(8, 64, 4, 4).add(running(1, 10, 0, 0)).waiting(2, 6, 5);
        StepPlan plan = scheduler.plan(view);
        assertEquals(List.of(1L), plan.preempt());
        assertEquals(List.of(new Chunk(2, 6)), plan.run());
    }

    @Test
    void preemptsNothingWhenThatWouldNotMakeRoomAndLetsNothingOvertake() {
        // 4 blocks of 4: sequence 1 holds 2 blocks, 2 are free; the urgent prompt needs 5 blocks.
        SimulatedView view = new SimulatedView(8, 64, 4, 4).add(running(1, 6, 0, 0)).waiting(2, 20, 5).waiting(3, 2, 1);
        StepPlan plan = scheduler.plan(view);
        assertEquals(List.of(), plan.preempt());
        assertEquals(List.of(new Chunk(1, 1)), plan.run(), "request 3 must not overtake request 2");
    }

    @Test
    void whenKvRunsShortTheLowestPriorityGoesFirstNotTheNewest() {
        // 5 blocks of 4, none free: 1 (priority 0) and 2 (priority 5) hold 2 each, 3 (priority 1, the newest)
        // holds 1, and each needs one more block for its next token.
        SimulatedView view = new SimulatedView(8, 64, 5, 4).add(running(1, 8, 0, 0)).add(running(2, 8, 5, 1))
                .add(running(3, 4, 1, 2));
        StepPlan plan = scheduler.plan(view);
        assertEquals(List.of(1L), plan.preempt());
        assertEquals(List.of(new Chunk(2, 1), new Chunk(3, 1)), plan.run());
    }

    @Test
    void aRunningSequenceThatCannotGrowEvenAtTheExpenseOfLowerOnesGivesItsKvBack() {
        // 3 blocks of 4, none free, one per sequence: 1 (priority 9) and 2 (priority 5) each need a second block,
        // 3 (priority 0) does not. Preempting 3 makes room for 1; nothing below 2 is left, so 2 gives its block back.
        SimulatedView view = new SimulatedView(8, 64, 3, 4).add(running(1, 4, 9, 0)).add(running(2, 4, 5, 1))
                .add(running(3, 3, 0, 2));
        StepPlan plan = scheduler.plan(view);
        assertEquals(List.of(3L, 2L), plan.preempt());
        assertEquals(List.of(new Chunk(1, 1)), plan.run());
    }

    @Test
    void ageingLetsAnOldLowPriorityRequestKeepItsPlace() {
        // Request 1 (priority 0) has run for 100 s; request 2 (priority 5) arrived a second ago and needs its blocks.
        SimulatedView view = new SimulatedView(8, 64, 4, 4)
                .add(new Seq(1, SequenceState.RUNNING, 10, 1, 10, 64, 0, 0, 0))
                .add(new Seq(2, SequenceState.WAITING, 6, 0, 0, 64, 5, 99 * SECOND, 0))
                .atNanos(100 * SECOND);
        StepPlan aged = new PriorityScheduler(0.1).plan(view);
        assertEquals(List.of(), aged.preempt(), "0 + 0.1 * 100 s outranks 5 + 0.1 * 1 s");
        assertEquals(List.of(new Chunk(1, 1)), aged.run());
        StepPlan strict = new PriorityScheduler(0).plan(view);
        assertEquals(List.of(1L), strict.preempt(), "without ageing priority 5 wins");
    }

    @Test
    void ageingStopsAStreamOfUrgentRequestsFromStarvingALowPriorityOne() {
        assertTrue(stepsUntilFinished(new PriorityScheduler(1.0)) < 60, "with ageing the low request finishes");
        assertEquals(-1, stepsUntilFinished(new PriorityScheduler(0)), "strict priority starves it");
    }

    @Test
    void refusesANegativeOrNonFiniteAgeingRateWithAMessageNamingTheSetting() {
        for (double rate : new double[] {-0.5, Double.NaN, Double.POSITIVE_INFINITY}) {
            IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> new PriorityScheduler(rate));
            assertTrue(error.getMessage().contains("io.gantry.scheduler.priority ageingRate"), error.getMessage());
        }
    }

    @Test
    void isIdleWithNothingToDo() {
        assertTrue(scheduler.plan(new SimulatedView(8, 64, 4, 4)).isIdle());
    }

    private static Seq running(long id, int computedPromptTokens, int priority, long arrival) {
        return new Seq(id, SequenceState.RUNNING, computedPromptTokens, 1, computedPromptTokens, 64, priority, arrival, 0);
    }

    /**
     * Runs a fake engine, one second per step: a low-priority request of 8 prompt tokens and 4 output tokens
     * arrives first, then an urgent one (priority 5) every step, more than two sequence slots can serve.
     *
     * @return the step in which the low-priority request finished, or -1 if it did not within 200 steps
     */
    private static int stepsUntilFinished(PriorityScheduler scheduler) {
        SimulatedEngine engine = new SimulatedEngine(2, 64, 1000, 4);
        engine.submit(0, 8, 4);
        for (int step = 1; step <= 200; step++) {
            engine.submit(5, 8, 4);
            engine.step(scheduler);
            if (engine.finished(1)) {
                return step;
            }
        }
        return -1;
    }

    @Test
    void requestsSharingAPromptPrefixBeingPrefilledWaitForItsBlocks() {
        SimulatedView view = new SimulatedView(8, 512, 100, 16).decoding(1, 20, 3)
                .waiting(2, 80).waiting(3, 80).waiting(4, 30).sharePrefix(64, 2, 3);
        assertEquals(List.of(new Chunk(1, 1), new Chunk(2, 80), new Chunk(4, 30)), scheduler.plan(view).run(),
                "3 joins once 2 has computed the 64 tokens they share");
    }
}
