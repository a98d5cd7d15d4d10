package io.gantry.transport.rest;

import io.gantry.api.metrics.MetricFamily;
import io.gantry.api.metrics.MetricSample;
import io.gantry.api.metrics.MetricType;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * The transport's own metrics: requests by route, method and status, and how long they took (a stream until its
 * last event). Routes are the registered path patterns ({@code /v1/jobs/{id}}), and anything that matched no route
 * counts as {@value #UNMATCHED}, so that scanning clients cannot grow the number of series.
 */
final class HttpMetrics {

    /** The route label of requests that matched no route. */
    static final String UNMATCHED = "unmatched";
    /** Bucket bounds in seconds: from a cached answer's milliseconds to a long generation's minutes. */
    private static final double[] BOUNDS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
        30, 60, 120, 300};

    private record Series(String route, String method, int status) {
    }

    private record Route(String route, String method) {
    }

    /** Observations per bucket (not cumulative), their sum and count. */
    private static final class Histogram {
        final LongAdder[] buckets = new LongAdder[BOUNDS.length];
        final DoubleAdder sum = new DoubleAdder();
        final LongAdder count = new LongAdder();

        Histogram() {
            for (int i = 0; i < buckets.length; i++) {
                buckets[i] = new LongAdder();
            }
        }

        void observe(double seconds) {
            for (int i = 0; i < BOUNDS.length; i++) {
                if (seconds <= BOUNDS[i]) {
                    buckets[i].increment();
                    break;
                }
            }
            sum.add(seconds);
            count.increment();
        }

        MetricSample.Distribution snapshot(Map<String, String> labels) {
            // The count is read first: buckets read later can only have grown, so count never falls below them.
            long total = count.sum();
            long[] cumulative = new long[BOUNDS.length];
            long running = 0;
            for (int i = 0; i < BOUNDS.length; i++) {
                running += buckets[i].sum();
                cumulative[i] = running;
            }
            return new MetricSample.Distribution(labels, BOUNDS, cumulative, sum.sum(),
                    Math.max(total, running));
        }
    }

    private final Map<Series, LongAdder> requests = new ConcurrentHashMap<>();
    private final Map<Route, Histogram> durations = new ConcurrentHashMap<>();

    /**
     * Counts a finished request.
     *
     * @param route   the path pattern it matched, or {@link #UNMATCHED}
     * @param method  the HTTP method
     * @param status  the status answered
     * @param seconds how long it took
     */
    void record(String route, String method, int status, double seconds) {
        requests.computeIfAbsent(new Series(route, method, status), series -> new LongAdder()).increment();
        durations.computeIfAbsent(new Route(route, method), key -> new Histogram()).observe(seconds);
    }

    /** @return the HTTP metric families */
    List<MetricFamily> collect() {
        List<MetricSample> counts = new ArrayList<>();
        requests.forEach((series, count) -> counts.add(new MetricSample.Value(Map.of("route", series.route(),
                "method", series.method(), "status", Integer.toString(series.status())), count.sum())));
        List<MetricSample> histograms = new ArrayList<>();
        durations.forEach((route, histogram) -> histograms.add(
                histogram.snapshot(Map.of("route", route.route(), "method", route.method()))));
        return List.of(
                new MetricFamily("gantry:http_requests_total", "HTTP requests answered, by route, method and status.",
                        MetricType.COUNTER, counts),
                new MetricFamily("gantry:http_request_duration_seconds",
                        "Time from an HTTP request's arrival to the end of its response (a stream's last event).",
                        MetricType.HISTOGRAM, histograms));
    }
}
