package com.example.gantry.spf;

import io.gantry.api.plugin.PluginProperties;
import io.gantry.api.scheduler.Scheduler;
import io.gantry.api.scheduler.SchedulerView;
import io.gantry.api.scheduler.SequenceView;
import io.gantry.api.scheduler.StepBudget;
import io.gantry.api.scheduler.StepPlan;
import java.util.Comparator;
import java.util.List;
import org.osgi.service.component.annotations.Component;

/**
 * A third-party scheduler written only against Gantry's plugin API: continuous batching that admits
 * the waiting request with the fewest pending tokens first (ties by arrival). Short prompts get their
 * first token sooner; a long prompt waits while shorter ones keep arriving, so a production policy
 * would add ageing. See docs/writing-plugins.md for the walk-through.
 *
 * <p>Its ranking (200) is above the built-in schedulers', so dropping this bundle into {@code deploy/}
 * makes the engine use it at once, unless {@code scheduler.target} in the engine's configuration pins
 * another; removing it falls back to the next-highest.
 */
@Component(service = Scheduler.class, property = {
        PluginProperties.NAME + "=shortest-prompt-first",
        PluginProperties.DESCRIPTION + "=Sample: continuous batching, shortest pending prompt admitted first",
        "service.ranking:Integer=200" })
public final class ShortestPromptFirstScheduler implements Scheduler {

    private static final Comparator<SequenceView> SHORTEST_FIRST = Comparator
            .comparingInt(SequenceView::pendingTokens)
            .thenComparingLong(SequenceView::arrivalNanos);

    @Override
    public StepPlan plan(SchedulerView view) {
        StepBudget budget = new StepBudget(view);
        List<SequenceView> running = view.running();
        budget.runPreempting(running, running.reversed());
        if (!budget.preemptedAny()) {
            budget.admitInOrder(view.waiting().stream().sorted(SHORTEST_FIRST).toList());
        }
        return budget.build();
    }
}
