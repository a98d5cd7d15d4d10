package io.gantry.api.cache;

import java.util.Optional;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Exact-match reuse of whole responses. Transports consult it only for deterministic requests (greedy,
 * or a fixed seed) and build the key from the model and every parameter that affects the output, so a
 * hit is always the answer the engine would have given.
 *
 * <p><b>Threading:</b> called concurrently from any number of transport threads; implementations are
 * thread-safe and do not block on I/O.
 *
 * <p><b>Lifecycle:</b> a DS component registered with {@code gantry.plugin.name}; entries live in memory
 * and are dropped when the component is deactivated.
 */
@ConsumerType
public interface ResponseCache {

    /**
     * @param key the request's canonical key
     * @return the stored response, or empty on a miss; counts a hit or a miss
     */
    Optional<CachedResponse> lookup(String key);

    /**
     * Stores a response; may evict others to stay within the configured limits.
     *
     * @param key      the request's canonical key
     * @param response the finished response
     */
    void store(String key, CachedResponse response);

    /** Drops every entry. */
    void clear();

    /** @return hit, miss and size figures */
    CacheStats stats();
}
