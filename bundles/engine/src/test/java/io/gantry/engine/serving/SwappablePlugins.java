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

/** A registry of one plugin per kind that a test swaps at will; the step loop picks a swap up at its next step. */
final class SwappablePlugins implements PluginRegistry {

    volatile DeviceBackend backend;
    volatile KvCacheAllocator allocator;
    volatile Scheduler scheduler;

    SwappablePlugins(DeviceBackend backend, KvCacheAllocator allocator, Scheduler scheduler) {
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
        throw new UnsupportedOperationException("tests swap plugins directly");
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
