package io.gantry.engine.plugins;

import io.gantry.api.plugin.InFlightGate;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;

/**
 * Holds the one active implementation of a plugin kind and leases it to callers, so that a swap never
 * reaches a plugin that is being taken away: the consumer half of Gantry's drain rule.
 *
 * <p>SCR calls {@link #bind} and {@link #unbind} (for a dynamic greedy reference it binds a replacement
 * before it unbinds the old one). {@code unbind} closes the old binding's gate and returns only when the
 * calls inside it have left, so the provider's {@code @Deactivate}, which SCR runs after every consumer
 * has unbound, never races a call. Callers that read the old binding after its gate closed retry and
 * reach the new one; while none is bound they wait, up to their own limit.
 *
 * @param <T> the plugin's service type
 */
final class PluginSlot<T> {

    private static final System.Logger LOG = System.getLogger(PluginSlot.class.getName());
    private static final long RETRY_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    /** One bound service with its reference properties and its own gate. */
    record Binding<T>(T service, String name, long serviceId, Map<String, Object> properties, InFlightGate gate) {
    }

    /**
     * Chooses the active binding among all bound ones, for a slot whose reference binds every implementation and
     * selects in code (the backend, which falls back when the configured one is unavailable).
     *
     * @param <T> the plugin's service type
     */
    interface Selector<T> {
        /** @return one of {@code bindings}, or {@code null} if it is empty */
        Binding<T> choose(Collection<Binding<T>> bindings);
    }

    private final String kindName;
    private final Duration drainTimeout;
    /** Guarded by {@code this}; bind/unbind are rare, so a lock is fine here and keeps the map simple. */
    private final Map<T, Binding<T>> bindings = new IdentityHashMap<>();
    /**
     * volatile: written under {@code this} by SCR's threads on bind/unbind; read without a lock, once
     * per call, by any number of callers.
     */
    private volatile Binding<T> activeBinding;
    /** {@code null}: the newest binding is the active one (SCR's greedy single reference chose it). */
    private final Selector<T> selector;

    PluginSlot(String kindName, Duration drainTimeout) {
        this(kindName, drainTimeout, null);
    }

    PluginSlot(String kindName, Duration drainTimeout, Selector<T> selector) {
        this.kindName = kindName;
        this.drainTimeout = drainTimeout;
        this.selector = selector;
    }

    void bind(T service, String name, long serviceId) {
        bind(service, name, serviceId, Map.of());
    }

    synchronized void bind(T service, String name, long serviceId, Map<String, Object> properties) {
        Binding<T> binding = new Binding<>(service, name, serviceId, Map.copyOf(properties), new InFlightGate());
        bindings.put(service, binding);
        activate(selector == null ? binding : selector.choose(bindings.values()));
    }

    /** Applies the selector again, after what it selects by has changed. */
    synchronized void reselect() {
        if (selector != null) {
            activate(selector.choose(bindings.values()));
        }
    }

    private void activate(Binding<T> binding) {
        if (binding != activeBinding) {
            activeBinding = binding;
            if (binding != null) {
                LOG.log(Level.INFO, "Active {0}: {1} (service {2})", kindName, binding.name(), binding.serviceId());
            }
        }
    }

    void unbind(T service) {
        Binding<T> binding;
        synchronized (this) {
            binding = bindings.remove(service);
            if (binding == null) {
                return;
            }
            if (selector != null) {
                activeBinding = selector.choose(bindings.values());
            } else if (activeBinding == binding) {
                activeBinding = bindings.values().stream().findFirst().orElse(null);
            }
            LOG.log(Level.INFO, "Unbinding {0}: {1} (service {2}); active now: {3}", kindName, binding.name(),
                    binding.serviceId(), activeBinding == null ? "none" : activeBinding.name());
        }
        // Outside the lock: callers keep reaching the replacement while the old binding drains.
        if (!binding.gate().close(drainTimeout)) {
            LOG.log(Level.WARNING, "{0} plugin (service {1}) still had {2} call(s) inside after {3}; unbinding anyway",
                    kindName, binding.serviceId(), binding.gate().inFlight(), drainTimeout);
        }
    }

    /** @return the active binding's service id, or -1 when none is bound */
    long activeServiceId() {
        Binding<T> binding = activeBinding;
        return binding == null ? -1 : binding.serviceId();
    }

    <R> R call(Function<? super T, ? extends R> call, Duration waitUpTo) {
        long deadline = System.nanoTime() + waitUpTo.toNanos();
        while (true) {
            Binding<T> binding = activeBinding;
            if (binding != null && binding.gate().tryEnter()) {
                try {
                    return call.apply(binding.service());
                } finally {
                    binding.gate().exit();
                }
            }
            // None bound, or the one read is draining: a swap is under way. Wait for its replacement.
            if (System.nanoTime() - deadline >= 0) {
                throw new IllegalStateException("No " + kindName + " plugin is active (waited " + waitUpTo + ")");
            }
            LockSupport.parkNanos(RETRY_PARK_NANOS);
        }
    }
}
