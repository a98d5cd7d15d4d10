package io.gantry.cache.response;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.gantry.api.cache.CacheStats;
import io.gantry.api.cache.CachedResponse;
import io.gantry.api.cache.ResponseCache;
import io.gantry.api.plugin.PluginProperties;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The {@code memory} response cache: whole responses of deterministic requests, in memory, bounded by entries
 * and by bytes, with a time to live; least recently and least frequently used entries go first (Caffeine's
 * W-TinyLFU).
 *
 * <p>Caffeine bounds either entries or weight, not both. So each entry weighs its estimated bytes but at least
 * {@code maxBytes / maxEntries}: the weight bound {@code maxBytes} then also keeps the number of entries at or
 * below {@code maxEntries}.
 *
 * <p>Configured under PID {@value #PID}; a change replaces the component and with it the entries.
 */
@Component(service = ResponseCache.class, configurationPid = CaffeineResponseCache.PID, property = {
        PluginProperties.NAME + "=memory",
        PluginProperties.DESCRIPTION + "=Exact-match response cache in memory (Caffeine), bounded by entries, "
                + "bytes and age",
        "service.ranking:Integer=100"})
@Designate(ocd = CaffeineResponseCache.Config.class)
public final class CaffeineResponseCache implements ResponseCache {

    /** The configuration PID. */
    public static final String PID = "io.gantry.cache.response";

    /** The cache's configuration. */
    @ObjectClassDefinition(name = "Gantry response cache")
    public @interface Config {
        /** @return the most entries */
        @AttributeDefinition(name = "maxEntries", description = "The most responses kept.")
        int maxEntries() default 10_000;

        /** @return the most bytes, estimated */
        @AttributeDefinition(name = "maxMb", description = "The most memory the responses take, estimated, in MiB.")
        int maxMb() default 256;

        /** @return how long an entry lives, in seconds */
        @AttributeDefinition(name = "ttlSeconds", description = "How long a response stays reusable, in seconds.")
        int ttlSeconds() default 3600;
    }

    private final Cache<String, CachedResponse> cache;
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();

    /**
     * @param config the configuration
     * @throws IllegalArgumentException naming the setting that is out of range
     */
    @Activate
    public CaffeineResponseCache(Config config) {
        this(config.maxEntries(), (long) config.maxMb() << 20, Duration.ofSeconds(config.ttlSeconds()));
    }

    /**
     * @param maxEntries the most entries
     * @param maxBytes   the most bytes, estimated
     * @param ttl        how long an entry lives after it was stored
     */
    public CaffeineResponseCache(int maxEntries, long maxBytes, Duration ttl) {
        if (maxEntries < 1) {
            throw new IllegalArgumentException(PID + ": maxEntries must be at least 1, got " + maxEntries);
        }
        if (maxBytes < maxEntries) {
            throw new IllegalArgumentException(PID + ": maxMb is too small for " + maxEntries + " entries");
        }
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException(PID + ": ttlSeconds must be positive, got " + ttl.toSeconds());
        }
        long minimumWeight = maxBytes / maxEntries;
        this.cache = Caffeine.newBuilder()
                .maximumWeight(maxBytes)
                .weigher((String key, CachedResponse response) -> (int) Math.min(Integer.MAX_VALUE,
                        Math.max(minimumWeight, response.estimatedBytes() + 2L * key.length())))
                .expireAfterWrite(ttl)
                // Evict on the storing thread: the bounds hold when store returns, and no work lands in the
                // common fork-join pool.
                .executor(Runnable::run)
                .recordStats()
                .build();
    }

    @Override
    public Optional<CachedResponse> lookup(String key) {
        CachedResponse response = cache.getIfPresent(Objects.requireNonNull(key, "key"));
        (response == null ? misses : hits).increment();
        return Optional.ofNullable(response);
    }

    @Override
    public void store(String key, CachedResponse response) {
        cache.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(response, "response"));
    }

    @Override
    public void clear() {
        cache.invalidateAll();
    }

    @Override
    public CacheStats stats() {
        long bytes = cache.policy().eviction().map(eviction -> eviction.weightedSize().orElse(0)).orElse(0L);
        return new CacheStats(hits.sum(), misses.sum(), cache.estimatedSize(), bytes, cache.stats().evictionCount());
    }
}
