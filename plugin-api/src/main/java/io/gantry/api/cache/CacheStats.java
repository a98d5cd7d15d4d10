package io.gantry.api.cache;

/**
 * A response cache's figures since it started.
 *
 * @param hits      lookups answered from the cache
 * @param misses    lookups that found nothing
 * @param entries   entries held now
 * @param bytes     estimated bytes held now
 * @param evictions entries dropped for size or age
 */
public record CacheStats(long hits, long misses, long entries, long bytes, long evictions) {
}
