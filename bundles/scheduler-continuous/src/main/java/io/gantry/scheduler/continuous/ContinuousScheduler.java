package io.gantry.scheduler.continuous;

import io.gantry.api.plugin.PluginProperties;
import io.gantry.api.scheduler.Scheduler;
import io.gantry.api.scheduler.SchedulerView;
import io.gantry.api.scheduler.SequenceView;
import io.gantry.api.scheduler.StepBudget;
import io.gantry.api.scheduler.StepPlan;
import java.util.List;
import org.osgi.service.component.annotations.Component;

/**
 * Iteration-level (continuous) batching, as vLLM does it: every step, running sequences go first in
 * admission order (decoding ones feed one token, prefilling ones a chunk of their prompt within the
 * step's token budget); then waiting sequences join in arrival order while tokens, sequence slots and
 * KV blocks last; a waiting request whose prompt starts with blocks another request is prefilling right
 * now joins once they are cached, instead of computing them again. When KV space runs short, the most recently admitted running sequences are preempted
 * (they keep their tokens and re-prefill later), and nothing new joins in that step.
 */
@Component(service = Scheduler.class, property = {
        PluginProperties.NAME + "=continuous",
        PluginProperties.DESCRIPTION + "=Continuous batching: requests join and leave every step; chunked prefill",
        "service.ranking:Integer=100" })
public final class ContinuousScheduler implements Scheduler {

    @Override
    public StepPlan plan(SchedulerView view) {
        StepBudget budget = new StepBudget(view).deferSharedPrefills();
        List<SequenceView> running = view.running();
        budget.runPreempting(running, running.reversed());
        if (!budget.preemptedAny()) {
            budget.admitInOrder(view.waiting());
        }
        return budget.build();
    }
}
