package io.gantry.scheduler.fixed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gantry.api.scheduler.SimulatedView;
import io.gantry.api.scheduler.StepPlan.Chunk;
import java.util.List;
import org.junit.jupiter.api.Test;

class StaticSchedulerTest {

    private final StaticScheduler scheduler = new StaticScheduler();

    @Test
    void nothingJoinsWhileABatchRuns() {
        SimulatedView view = new SimulatedView(16, 512, 100, 16).decoding(1, 20, 3).waiting(2, 5).waiting(3, 5);
        assertEquals(List.of(new Chunk(1, 1)), scheduler.plan(view).run());
    }

    @Test
    void formsABatchOfAtMostBatchSizeWhenIdle() {
        SimulatedView view = new SimulatedView(16, 4096, 1000, 16);
        for (int id = 1; id <= 12; id++) {
            view.waiting(id, 10);
        }
        assertEquals(8, scheduler.plan(view).run().size(), "default batchSize is 8");
    }

    @Test
    void theBatchSizeCanBeGivenOutsideOsgi() {
        SimulatedView view = new SimulatedView(16, 4096, 1000, 16);
        for (int id = 1; id <= 12; id++) {
            view.waiting(id, 10);
        }
        assertEquals(12, new StaticScheduler(16).plan(view).run().size());
        assertEquals(3, new StaticScheduler(3).plan(view).run().size());
        assertThrows(IllegalArgumentException.class, () -> new StaticScheduler(0));
    }

    @Test
    void aBatchWhosePromptsExceedOneStepKeepsFormingUntilItDecodes() {
        // Members 1 and 2 are prefilling (no token yet): the batch is still forming, so 3 joins.
        SimulatedView forming = new SimulatedView(16, 512, 1000, 16).prefilling(1, 160, 80).prefilling(2, 80, 40)
                .waiting(3, 80);
        assertEquals(List.of(1L, 2L, 3L), ids(new StaticScheduler(3).plan(forming).run()));
        // Full: nobody joins even while forming.
        assertEquals(List.of(1L, 2L), ids(new StaticScheduler(2).plan(forming).run()));
    }

    private static List<Long> ids(List<Chunk> chunks) {
        return chunks.stream().map(Chunk::sequenceId).toList();
    }

    @Test
    void theBatchStillRespectsTheTokenBudget() {
        SimulatedView view = new SimulatedView(16, 25, 1000, 16).waiting(1, 10).waiting(2, 10).waiting(3, 10);
        assertEquals(List.of(new Chunk(1, 10), new Chunk(2, 10), new Chunk(3, 5)), scheduler.plan(view).run());
    }
}
