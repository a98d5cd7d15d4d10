package io.gantry.scheduler.fixed;

import io.gantry.api.plugin.PluginProperties;
import io.gantry.api.scheduler.Scheduler;
import io.gantry.api.scheduler.SchedulerView;
import io.gantry.api.scheduler.SequenceView;
import io.gantry.api.scheduler.StepBudget;
import io.gantry.api.scheduler.StepPlan;
import java.util.List;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Static batching: when nothing runs, up to {@code batchSize} waiting requests form a batch, and that
 * batch runs until every member has finished; requests arriving meanwhile wait for the next batch. The
 * baseline continuous batching is measured against.
 */
@Component(service = Scheduler.class, configurationPid = "io.gantry.scheduler.static", property = {
        PluginProperties.NAME + "=static",
        PluginProperties.DESCRIPTION + "=Static batching: a batch runs to completion; nothing joins mid-way",
        "service.ranking:Integer=50" })
@Designate(ocd = StaticScheduler.Config.class)
public final class StaticScheduler implements Scheduler {

    /** Configuration (PID {@code io.gantry.scheduler.static}). */
    @ObjectClassDefinition(name = "Gantry static scheduler")
    public @interface Config {
        /** @return the most requests in one batch */
        @AttributeDefinition(name = "Batch size", min = "1", description = "Most requests in one batch")
        int batchSize() default 8;
    }

    private volatile int batchSize;

    /** Creates a scheduler with the default batch size, for use outside OSGi. */
    public StaticScheduler() {
        this(8);
    }

    /**
     * Creates a scheduler for use outside OSGi.
     *
     * @param batchSize the most requests in one batch
     * @throws IllegalArgumentException if it is below 1
     */
    public StaticScheduler(int batchSize) {
        this.batchSize = validBatchSize(batchSize);
    }

    @Activate
    @Modified
    void configure(Config config) {
        this.batchSize = validBatchSize(config.batchSize());
    }

    private static int validBatchSize(int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
        }
        return batchSize;
    }

    /**
     * A batch forms while none of its members has produced a token yet: its prompts may take several steps to
     * prefill under the token budget, and the batch takes in waiting requests up to {@code batchSize} until then.
     * Once every member decodes, nothing joins until the batch has finished.
     */
    @Override
    public StepPlan plan(SchedulerView view) {
        StepBudget budget = new StepBudget(view);
        List<SequenceView> running = view.running();
        budget.runPreempting(running, running.reversed());
        boolean forming = running.stream().allMatch(sequence -> sequence.generatedTokens() == 0);
        List<SequenceView> waiting = view.waiting();
        int room = batchSize - running.size();
        if (forming && room > 0) {
            budget.admitInOrder(waiting.subList(0, Math.min(room, waiting.size())));
        }
        return budget.build();
    }
}
