package io.gantry.scheduler.continuous;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.scheduler.SimulatedView;
import io.gantry.api.scheduler.StepPlan;
import io.gantry.api.scheduler.StepPlan.Chunk;
import java.util.List;
import org.junit.jupiter.api.Test;

class ContinuousSchedulerTest {

    private final ContinuousScheduler scheduler = new ContinuousScheduler();

    @Test
    void newRequestsJoinRunningOnesInTheSameStep() {
        SimulatedView view = new SimulatedView(8, 256, 100, 16).decoding(1, 20, 3).decoding(2, 10, 1).waiting(3, 30);
        StepPlan plan = scheduler.plan(view);
        assertEquals(List.of(new Chunk(1, 1), new Chunk(2, 1), new Chunk(3, 30)), plan.run());
    }

    @Test
    void chunksALongPromptAcrossStepsUnderTheTokenBudget() {
        SimulatedView view = new SimulatedView(8, 64, 100, 16).decoding(1, 20, 3).waiting(2, 500);
        StepPlan plan = scheduler.plan(view);
        assertEquals(List.of(new Chunk(1, 1), new Chunk(2, 63)), plan.run());
        assertEquals(64, plan.totalTokens());
    }

    @Test
    void continuesAPartlyPrefilledSequenceBeforeAdmittingNewOnes() {
        SimulatedView view = new SimulatedView(8, 64, 100, 16).prefilling(1, 200, 64).waiting(2, 10);
        assertEquals(List.of(new Chunk(1, 64)), scheduler.plan(view).run());
    }

    @Test
    void preemptsTheNewestRunningSequenceAndAdmitsNothingWhenKvRunsShort() {
        // Pool of 4 blocks of 4: seq 1 (8 computed) needs a 3rd block, seq 2 (7 computed) holds the other 2.
        SimulatedView view = new SimulatedView(8, 64, 4, 4).decoding(1, 8, 1).decoding(2, 7, 1).waiting(3, 1);
        StepPlan plan = scheduler.plan(view);
        assertEquals(List.of(2L), plan.preempt());
        assertEquals(List.of(new Chunk(1, 1)), plan.run());
    }

    @Test
    void isIdleWithNothingToDo() {
        assertTrue(scheduler.plan(new SimulatedView(8, 64, 4, 4)).isIdle());
    }

    @Test
    void requestsSharingAPromptPrefixBeingPrefilledWaitForItsBlocks() {
        SimulatedView view = new SimulatedView(8, 512, 100, 16).decoding(1, 20, 3)
                .waiting(2, 80).waiting(3, 80).waiting(4, 30).sharePrefix(64, 2, 3);
        assertEquals(List.of(new Chunk(1, 1), new Chunk(2, 80), new Chunk(4, 30)), scheduler.plan(view).run(),
                "3 joins once 2 has computed the 64 tokens they share");
    }
}
