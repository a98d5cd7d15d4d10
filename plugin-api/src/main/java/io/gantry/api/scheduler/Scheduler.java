package io.gantry.api.scheduler;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A scheduling policy: decides, once per engine step, which sequences run and how many of their tokens.
 *
 * <p><b>Who calls it:</b> the engine's step loop, from one thread at a time, once per step. The engine
 * may call several schedulers (one per A/B variant) from different threads, so an implementation that
 * keeps configuration must make it safely published (for example final or volatile fields).
 *
 * <p><b>Contract:</b> a pure policy. It reads the view and returns a plan; it must not keep references to
 * the view or its sequences after {@link #plan} returns, must not block, and must not throw for any
 * view. The engine validates every plan: a plan that names unknown sequences, exceeds the view's
 * {@link SchedulerView#limits() limits} or the free KV blocks is trimmed, and a sequence the plan does
 * not mention simply waits. So a faulty policy slows requests down but cannot corrupt them.
 *
 * <p><b>Lifecycle:</b> a DS component registered as this service with the {@code gantry.plugin.name}
 * property. It may be unregistered at any step boundary; the engine stops calling it before its
 * component is deactivated.
 */
@ConsumerType
public interface Scheduler {

    /**
     * Plans one engine step.
     *
     * @param view the engine's state at the start of this step; valid only during this call
     * @return the plan for this step; {@link StepPlan#idle()} when nothing should run
     */
    StepPlan plan(SchedulerView view);
}
