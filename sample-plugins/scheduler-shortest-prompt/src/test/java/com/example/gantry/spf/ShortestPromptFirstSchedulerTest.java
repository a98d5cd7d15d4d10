package com.example.gantry.spf;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gantry.api.scheduler.SimulatedView;
import io.gantry.api.scheduler.StepPlan.Chunk;
import java.util.List;
import org.junit.jupiter.api.Test;

class ShortestPromptFirstSchedulerTest {

    private final ShortestPromptFirstScheduler scheduler = new ShortestPromptFirstScheduler();

    @Test
    void admitsTheShortestWaitingPromptFirst() {
        SimulatedView view = new SimulatedView(2, 1000, 100, 16).waiting(1, 300).waiting(2, 12).waiting(3, 40);
        assertEquals(List.of(new Chunk(2, 12), new Chunk(3, 40)), scheduler.plan(view).run());
    }

    @Test
    void runningSequencesStillGoFirst() {
        SimulatedView view = new SimulatedView(2, 1000, 100, 16).decoding(9, 400, 2).waiting(1, 300).waiting(2, 12);
        assertEquals(List.of(new Chunk(9, 1), new Chunk(2, 12)), scheduler.plan(view).run());
    }
}
