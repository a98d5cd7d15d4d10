package io.gantry.engine.serving;

import io.gantry.api.backend.DeviceBackend;
import io.gantry.api.kv.KvCacheAllocator;
import io.gantry.api.plugin.PluginInfo;
import io.gantry.api.plugin.PluginKind;
import io.gantry.api.plugin.PluginRegistry;
import io.gantry.api.scheduler.Scheduler;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * A plugin registry outside OSGi: one backend, KV allocator and scheduler, given directly and replaceable at any
 * time (a {@link StepLoop} picks a replacement up at its next step, by the hot-swap rules). For the command-line
 * tools and tests; in OSGi the engine's registry binds services instead.
 */
public final class DirectPlugins implements PluginRegistry {

    /** The backend; replace it to move the model. */
    public volatile DeviceBackend backend;
    /** The KV allocator; its instance must serve one loop only. */
    public volatile KvCacheAllocator allocator;
    /** The scheduler. */
    public volatile Scheduler scheduler;

    /**
     * @param backend   the backend
     * @param allocator the KV allocator
     * @param scheduler the scheduler
     */
    public DirectPlugins(DeviceBackend backend, KvCacheAllocator allocator, Scheduler scheduler) {
        this.backend = backend;
        this.allocator = allocator;
        this.scheduler = scheduler;
    }

    @Override
    public List<PluginInfo> plugins(PluginKind kind) {
        return List.of();
    }

    @Override
    public Optional<PluginInfo> active(PluginKind kind) {
        return Optional.empty();
    }

    @Override
    public void select(PluginKind kind, String name) {
        throw new UnsupportedOperationException("Direct plugins are replaced by assignment, not by name");
    }

    @Override
    public <T, R> R call(Class<T> type, Function<? super T, ? extends R> call, Duration waitUpTo) {
        Object plugin = type == DeviceBackend.class ? backend : type == KvCacheAllocator.class ? allocator
                : type == Scheduler.class ? scheduler : null;
        if (plugin == null) {
            throw new IllegalStateException("No " + type.getSimpleName());
        }
        return call.apply(type.cast(plugin));
    }
}
