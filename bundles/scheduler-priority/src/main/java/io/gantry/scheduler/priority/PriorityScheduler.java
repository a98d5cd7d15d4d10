package io.gantry.scheduler.priority;

import io.gantry.api.plugin.PluginProperties;
import io.gantry.api.scheduler.KvBudget;
import io.gantry.api.scheduler.Scheduler;
import io.gantry.api.scheduler.SchedulerView;
import io.gantry.api.scheduler.SequenceState;
import io.gantry.api.scheduler.SequenceView;
import io.gantry.api.scheduler.StepBudget;
import io.gantry.api.scheduler.StepPlan;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Continuous batching in priority order, with preemption and ageing.
 *
 * <p>Every step, running and waiting sequences are taken together in order of <em>effective
 * priority</em>: the request's {@link SequenceView#priority() priority} plus {@code ageingRate} for every
 * second since it arrived (ties: earlier arrival first). Each sequence in turn feeds its pending tokens
 * (a chunk of a long prefill, one token when decoding) while the step's token budget and sequence limit
 * last. When its KV blocks do not fit, running sequences ranked below it are preempted, lowest first, if
 * that makes it fit; they keep their tokens and re-prefill later. A running sequence that cannot fit even
 * then is preempted itself, so its KV serves the others. A waiting sequence that cannot fit stops
 * admission for the step, so smaller requests behind it do not overtake it forever. A waiting sequence
 * whose prompt starts with blocks another sequence is prefilling right now waits for them to be cached.
 *
 * <p>Ageing prevents starvation: a request gains on every request that arrived after it, and after
 * {@code (p' - p) / ageingRate} seconds it outranks every newer request of priority up to {@code p'}.
 * Since all requests age at the same rate, the order between two requests never changes over time, so a
 * sequence is never preempted by one it later outranks: preemption cannot ping-pong.
 *
 * <p>Configuration (PID {@value #PID}) is applied in place; the policy keeps no request state.
 */
@Component(service = Scheduler.class, configurationPid = PriorityScheduler.PID, property = {
        PluginProperties.NAME + "=priority",
        PluginProperties.DESCRIPTION + "=Continuous batching by request priority, with preemption and ageing",
        "service.ranking:Integer=90" })
@Designate(ocd = PriorityScheduler.Config.class)
public final class PriorityScheduler implements Scheduler {

    /** The configuration PID. */
    public static final String PID = "io.gantry.scheduler.priority";

    /** The ageing rate when none is configured: priority levels gained per second of age. */
    public static final double DEFAULT_AGEING_RATE = 0.1;

    private static final System.Logger LOG = System.getLogger(PriorityScheduler.class.getName());
    private static final double NANOS_PER_SECOND = 1e9;

    /** Configuration (PID {@value #PID}). */
    @ObjectClassDefinition(name = "Gantry priority scheduler",
            description = "Continuous batching in order of request priority, with preemption and ageing.")
    public @interface Config {
        /** @return priority levels a request gains per second since it arrived */
        @AttributeDefinition(name = "Ageing rate", min = "0",
                description = "Priority levels a request gains per second since it arrived, so that low"
                        + " priorities cannot starve. 0 turns ageing off (strict priority).")
        double ageingRate() default DEFAULT_AGEING_RATE;
    }

    private volatile double ageingRate;

    /** Creates a scheduler with the default ageing rate, for use outside OSGi. */
    public PriorityScheduler() {
        this(DEFAULT_AGEING_RATE);
    }

    /**
     * @param ageingRate priority levels a request gains per second since it arrived; 0 for strict priority
     * @throws IllegalArgumentException if the rate is negative or not finite (logged too)
     */
    public PriorityScheduler(double ageingRate) {
        this.ageingRate = validAgeingRate(ageingRate);
    }

    @Activate
    @Modified
    void configure(Config config) {
        this.ageingRate = validAgeingRate(config.ageingRate());
    }

    private static double validAgeingRate(double rate) {
        if (!(rate >= 0) || Double.isInfinite(rate)) {
            String message = "Invalid ageing rate " + rate + " (" + PID + " ageingRate): it must be a finite"
                    + " number of priority levels per second, 0 or more";
            LOG.log(System.Logger.Level.ERROR, message);
            throw new IllegalArgumentException(message);
        }
        return rate;
    }

    /** @return priority levels a request gains per second since it arrived */
    public double ageingRate() {
        return ageingRate;
    }

    @Override
    public StepPlan plan(SchedulerView view) {
        StepBudget budget = new StepBudget(view);
        List<SequenceView> order = rank(view);
        boolean admitting = true;
        for (int i = 0; i < order.size() && budget.hasRoom(); i++) {
            SequenceView sequence = order.get(i);
            boolean running = sequence.state() == SequenceState.RUNNING;
            if (budget.isDecided(sequence) || (!running && !admitting)) {
                continue;
            }
            if (!running && budget.waitsForSharedPrefill(sequence)) {
                continue; // joins a later step, reusing the shared blocks once they are cached
            }
            if (makeRoom(budget, view.kv(), order, i)) {
                budget.tryRun(sequence);
            } else if (running) {
                budget.preempt(sequence);
            } else {
                admitting = false;
            }
        }
        return budget.build();
    }

    /** @return running and waiting sequences, highest effective priority first */
    private List<SequenceView> rank(SchedulerView view) {
        double rate = ageingRate;
        long now = view.nowNanos();
        List<Ranked> ranked = new ArrayList<>(view.running().size() + view.waiting().size());
        for (List<SequenceView> group : List.of(view.running(), view.waiting())) {
            for (SequenceView sequence : group) {
                double ageSeconds = (now - sequence.arrivalNanos()) / NANOS_PER_SECOND;
                ranked.add(new Ranked(sequence, sequence.priority() + rate * ageSeconds));
            }
        }
        ranked.sort(Ranked.BEST_FIRST);
        return ranked.stream().map(Ranked::sequence).toList();
    }

    /**
     * Makes the KV blocks of {@code order[index]} fit by preempting running sequences ranked below it,
     * lowest first, but only if that is enough: preempting without making room would waste their work.
     *
     * @return whether the sequence's next chunk now fits
     */
    private static boolean makeRoom(StepBudget budget, KvBudget kv, List<SequenceView> order, int index) {
        int shortfall = budget.shortfall(order.get(index));
        if (shortfall == 0) {
            return true;
        }
        int freeable = 0;
        for (int j = order.size() - 1; j > index && freeable < shortfall; j--) {
            if (isVictim(budget, order.get(j))) {
                freeable += kv.blocksFreedByPreempting(order.get(j));
            }
        }
        if (freeable < shortfall) {
            return false;
        }
        for (int j = order.size() - 1; j > index && budget.shortfall(order.get(index)) > 0; j--) {
            if (isVictim(budget, order.get(j))) {
                budget.preempt(order.get(j));
            }
        }
        return true;
    }

    private static boolean isVictim(StepBudget budget, SequenceView sequence) {
        return sequence.state() == SequenceState.RUNNING && !budget.isDecided(sequence);
    }

    private record Ranked(SequenceView sequence, double effectivePriority) {
        static final Comparator<Ranked> BEST_FIRST = Comparator.comparingDouble(Ranked::effectivePriority).reversed()
                .thenComparingLong(ranked -> ranked.sequence().arrivalNanos())
                .thenComparingLong(ranked -> ranked.sequence().id());
    }
}
