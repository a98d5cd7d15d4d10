package io.gantry.api.scheduler;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * A read-only snapshot of the engine's request state, handed to {@link Scheduler#plan} for one step.
 * Implemented by the engine only. Valid only during the {@code plan} call; not thread-safe.
 */
@ProviderType
public interface SchedulerView {

    /**
     * @return sequences not holding KV space: new ones and preempted ones, in arrival order
     *         (oldest first). Preempted sequences keep their generated tokens and must re-prefill.
     */
    List<SequenceView> waiting();

    /** @return sequences that hold KV space, in the order they were admitted (oldest first) */
    List<SequenceView> running();

    /** @return the KV space left for this step, and what growing a sequence would cost */
    KvBudget kv();

    /** @return the engine's per-step limits the plan must respect */
    SchedulerLimits limits();

    /** @return the engine's clock at the start of this step, in {@link System#nanoTime()} units */
    long nowNanos();
}
