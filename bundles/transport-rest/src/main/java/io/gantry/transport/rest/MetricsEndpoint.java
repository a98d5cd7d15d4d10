package io.gantry.transport.rest;

import io.gantry.api.cache.CacheStats;
import io.gantry.api.cache.ResponseCache;
import io.gantry.api.metrics.MetricFamily;
import io.gantry.api.metrics.MetricSample;
import io.gantry.api.metrics.MetricType;
import io.gantry.api.metrics.MetricsSource;

import io.javalin.http.Context;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * {@code GET /metrics}: every registered {@link MetricsSource} (the engine's, and any plugin's), the transport's
 * HTTP metrics and the response cache's figures, in the Prometheus text format. A source that fails is left out
 * of that scrape (and logged) rather than failing it.
 */
final class MetricsEndpoint {

    private static final System.Logger LOG = System.getLogger(MetricsEndpoint.class.getName());

    private final Supplier<List<MetricsSource>> sources;
    private final Supplier<ResponseCache> cache;
    private final HttpMetrics http = new HttpMetrics();

    MetricsEndpoint(Supplier<List<MetricsSource>> sources, Supplier<ResponseCache> cache) {
        this.sources = sources;
        this.cache = cache;
    }

    /** Counts a finished request; called by the server after each response. */
    void record(Context ctx, Float milliseconds) {
        String route;
        try {
            route = ctx.endpointHandlerPath();
        } catch (RuntimeException e) {
            route = HttpMetrics.UNMATCHED;
        }
        http.record(route, ctx.method().name(), ctx.status().getCode(), milliseconds / 1000.0);
    }

    void scrape(Context ctx) {
        List<MetricFamily> families = new ArrayList<>();
        for (MetricsSource source : sources.get()) {
            try {
                families.addAll(source.collect());
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "Metrics source " + source + " failed; left out", e);
            }
        }
        families.addAll(http.collect());
        ResponseCache responses = cache.get();
        if (responses != null) {
            families.addAll(cacheFamilies(responses.stats()));
        }
        List<String> dropped = new ArrayList<>();
        String text = PrometheusText.write(families, dropped);
        dropped.forEach(reason -> LOG.log(System.Logger.Level.WARNING, "Metric left out of /metrics: " + reason));
        ctx.status(200);
        ctx.contentType(PrometheusText.CONTENT_TYPE);
        Compression.result(ctx, text.getBytes(StandardCharsets.UTF_8));
    }

    /** @return the response cache's figures as metric families */
    private static List<MetricFamily> cacheFamilies(CacheStats stats) {
        return List.of(
                counter("gantry:response_cache_hits_total", "Requests answered from the response cache.",
                        stats.hits()),
                counter("gantry:response_cache_misses_total", "Response cache lookups that found nothing.",
                        stats.misses()),
                counter("gantry:response_cache_evictions_total", "Response cache entries dropped for size or age.",
                        stats.evictions()),
                gauge("gantry:response_cache_entries", "Responses held in the response cache.", stats.entries()),
                gauge("gantry:response_cache_bytes", "Estimated bytes held by the response cache.", stats.bytes()));
    }

    private static MetricFamily counter(String name, String help, double value) {
        return new MetricFamily(name, help, MetricType.COUNTER, List.of(new MetricSample.Value(Map.of(), value)));
    }

    private static MetricFamily gauge(String name, String help, double value) {
        return new MetricFamily(name, help, MetricType.GAUGE, List.of(new MetricSample.Value(Map.of(), value)));
    }
}
