package io.gantry.cache.response;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.cache.CacheStats;
import io.gantry.api.cache.CachedResponse;
import io.gantry.api.inference.Completion;
import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GeneratedToken;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CaffeineResponseCacheTest {

    private static CachedResponse response(String text) {
        return new CachedResponse(List.of(new GeneratedToken(7, text, Float.NaN, List.of())),
                new Completion(FinishReason.LENGTH, 3, 1, 0));
    }

    @Test
    void storedResponsesAreFoundByExactKeyAndCounted() {
        CaffeineResponseCache cache = new CaffeineResponseCache(100, 1 << 20, Duration.ofMinutes(1));
        cache.store("model|prompt|t=0", response("Once"));
        assertEquals(Optional.of(response("Once")), cache.lookup("model|prompt|t=0"));
        assertEquals(Optional.empty(), cache.lookup("model|prompt|t=0.5"));
        CacheStats stats = cache.stats();
        assertEquals(1, stats.hits());
        assertEquals(1, stats.misses());
        assertEquals(1, stats.entries());
        assertTrue(stats.bytes() > 0);
        cache.clear();
        assertEquals(Optional.empty(), cache.lookup("model|prompt|t=0"));
    }

    @Test
    void theEntryLimitHoldsThroughTheWeightBound() {
        CaffeineResponseCache cache = new CaffeineResponseCache(10, 1 << 20, Duration.ofMinutes(1));
        for (int i = 0; i < 100; i++) {
            cache.store("key " + i, response("x"));
            cache.lookup("key " + i);
        }
        cache.lookup("settle");
        assertTrue(cache.stats().entries() <= 10, "entries: " + cache.stats().entries());
        assertTrue(cache.stats().evictions() >= 90, "evictions: " + cache.stats().evictions());
    }

    @Test
    void theByteLimitHolds() {
        CaffeineResponseCache cache = new CaffeineResponseCache(1000, 64 * 1024, Duration.ofMinutes(1));
        String large = "y".repeat(8 * 1024);
        for (int i = 0; i < 50; i++) {
            cache.store("key " + i, response(large));
        }
        cache.lookup("settle");
        assertTrue(cache.stats().bytes() <= 64 * 1024, "bytes: " + cache.stats().bytes());
        assertTrue(cache.stats().entries() <= 4, "entries: " + cache.stats().entries());
    }

    @Test
    void badSettingsAreRefusedNamingThem() {
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new CaffeineResponseCache(0, 1 << 20, Duration.ofMinutes(1))).getMessage().contains("maxEntries"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new CaffeineResponseCache(10, 1 << 20, Duration.ZERO)).getMessage().contains("ttlSeconds"));
    }
}
