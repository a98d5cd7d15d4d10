package io.gantry.api.plugin;

import io.gantry.api.backend.DeviceBackend;
import io.gantry.api.cache.ResponseCache;
import io.gantry.api.kv.KvCacheAllocator;
import io.gantry.api.scheduler.Scheduler;

/**
 * The kinds of plugin the engine binds one active implementation of. Each kind's {@link #key()} names
 * its reference in the engine's configuration (PID {@code io.gantry.engine.plugins}): the property
 * {@code <key>.target} holds the filter that selects the active implementation, e.g.
 * {@code scheduler.target = (gantry.plugin.name=static)}. Without a target the highest-ranked one wins.
 */
public enum PluginKind {
    /** {@link Scheduler}: which sequences run each step. */
    SCHEDULER("scheduler", Scheduler.class),
    /** {@link KvCacheAllocator}: where each sequence's KV lives. */
    KV_ALLOCATOR("kvAllocator", KvCacheAllocator.class),
    /** {@link DeviceBackend}: where the model runs. */
    BACKEND("backend", DeviceBackend.class),
    /** {@link ResponseCache}: exact-match response reuse. */
    RESPONSE_CACHE("responseCache", ResponseCache.class);

    private final String key;
    private final Class<?> serviceType;

    PluginKind(String key, Class<?> serviceType) {
        this.key = key;
        this.serviceType = serviceType;
    }

    /** @return the name of the engine's reference for this kind, used in configuration keys */
    public String key() {
        return key;
    }

    /** @return the service interface plugins of this kind register */
    public Class<?> serviceType() {
        return serviceType;
    }

    /**
     * @param key a {@link #key()}, e.g. {@code scheduler}; case-insensitive, {@code kv-allocator} and
     *            {@code kv_allocator} are accepted too
     * @return the kind
     * @throws IllegalArgumentException naming the valid keys if none matches
     */
    public static PluginKind fromKey(String key) {
        String normalized = key == null ? "" : key.replace("-", "").replace("_", "");
        for (PluginKind kind : values()) {
            if (kind.key.equalsIgnoreCase(normalized)) {
                return kind;
            }
        }
        throw new IllegalArgumentException("Unknown plugin kind '" + key
                + "'; expected one of scheduler, kvAllocator, backend, responseCache");
    }
}
