package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.metrics.MetricFamily;
import io.gantry.api.metrics.MetricSample;
import io.gantry.api.metrics.MetricType;
import io.gantry.cache.response.CaffeineResponseCache;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code GET /metrics} over real HTTP on the real engine: the output is parsed line by line against the Prometheus
 * text format 0.0.4, and the engine's, the transport's and the response cache's metrics move with the requests.
 */
class MetricsEndpointTest {

    private static final Pattern SAMPLE = Pattern.compile(
            "([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})? (NaN|[+-]Inf|-?[0-9]+(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\\n]|\\\\[\\\\\"n])*)\"");

    @RegisterExtension
    static final ServedEngine SERVED = new ServedEngine(engine -> {
        CaffeineResponseCache cache = new CaffeineResponseCache(100, 1 << 20, Duration.ofMinutes(5));
        return new RestServer(ServedEngine.settings(Duration.ofHours(1)), () -> engine,
                () -> List.of(engine.metrics()), () -> cache);
    });

    /** A sample as parsed: name, labels, value. */
    record Sample(String name, Map<String, String> labels, double value) {
    }

    /**
     * Parses an exposition, checking the format on the way: every line a HELP, TYPE or sample line; HELP and TYPE
     * once per family and before its samples; every sample belonging to the family typed last; histograms with
     * cumulative buckets ending in {@code +Inf} equal to {@code _count}.
     */
    static List<Sample> parse(String text) {
        assertTrue(text.endsWith("\n"), "the exposition ends with a line feed");
        List<Sample> samples = new ArrayList<>();
        Set<String> typed = new HashSet<>();
        Set<String> helped = new HashSet<>();
        String family = null;
        String type = null;
        Map<Map<String, String>, Double> lastBucket = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("# HELP ")) {
                String name = line.substring(7).split(" ", 2)[0];
                assertTrue(helped.add(name), "HELP once for " + name);
                continue;
            }
            if (line.startsWith("# TYPE ")) {
                String[] parts = line.substring(7).split(" ");
                assertEquals(2, parts.length, line);
                assertTrue(helped.contains(parts[0]), "HELP before TYPE: " + line);
                assertTrue(typed.add(parts[0]), "TYPE once for " + parts[0]);
                assertTrue(Set.of("counter", "gauge", "histogram").contains(parts[1]), line);
                family = parts[0];
                type = parts[1];
                lastBucket.clear();
                continue;
            }
            Matcher matcher = SAMPLE.matcher(line);
            assertTrue(matcher.matches(), "not a sample line: " + line);
            Map<String, String> labels = labels(matcher.group(2), line);
            double value = switch (matcher.group(3)) {
                case "NaN" -> Double.NaN;
                case "+Inf" -> Double.POSITIVE_INFINITY;
                case "-Inf" -> Double.NEGATIVE_INFINITY;
                default -> Double.parseDouble(matcher.group(3));
            };
            String name = matcher.group(1);
            assertNotNull(family, "a sample before any TYPE: " + line);
            if (type.equals("histogram")) {
                assertTrue(name.equals(family + "_bucket") || name.equals(family + "_sum")
                        || name.equals(family + "_count"), line);
                Map<String, String> series = new LinkedHashMap<>(labels);
                String le = series.remove("le");
                if (name.endsWith("_bucket")) {
                    assertNotNull(le, "a bucket without le: " + line);
                    Double before = lastBucket.put(series, value);
                    assertTrue(before == null || before <= value, "buckets are cumulative: " + line);
                } else if (name.endsWith("_count")) {
                    assertEquals(lastBucket.get(series), value, "the +Inf bucket equals _count: " + line);
                }
            } else {
                assertEquals(family, name, line);
            }
            samples.add(new Sample(name, labels, value));
        }
        return samples;
    }

    private static Map<String, String> labels(String text, String line) {
        Map<String, String> labels = new LinkedHashMap<>();
        if (text == null) {
            return labels;
        }
        Matcher matcher = LABEL.matcher(text);
        int at = 0;
        while (matcher.find() && matcher.start() == at) {
            String value = matcher.group(2).replace("\\n", "\n").replace("\\\"", "\"").replace("\\\\", "\\");
            labels.put(matcher.group(1), value);
            at = matcher.end();
            if (at < text.length()) {
                assertEquals(',', text.charAt(at), "labels are separated by commas: " + line);
                at++;
            }
        }
        assertEquals(text.length(), at, "malformed labels: " + line);
        return labels;
    }

    private static double total(List<Sample> samples, String name, Map<String, String> having) {
        return samples.stream().filter(s -> s.name().equals(name))
                .filter(s -> s.labels().entrySet().containsAll(having.entrySet())).mapToDouble(Sample::value).sum();
    }

    private static List<Sample> scrape() throws Exception {
        HttpTestClient.Response response = SERVED.http().get("/metrics");
        assertEquals(200, response.status());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", response.header("Content-Type"));
        return parse(response.raw().body());
    }

    @Test
    void engineHttpAndCacheMetricsMoveWithRequests() throws Exception {
        double tokensBefore = total(scrape(), "gantry:generation_tokens_total", Map.of());
        HttpTestClient.Response completion = SERVED.http().post("/v1/completions", """
                {"prompt": "Once upon a time", "max_tokens": 9, "temperature": 0, "ignore_eos": true,
                 "user": "metrics"}""");
        assertEquals(200, completion.status());
        int generated = completion.json().get("usage").get("completion_tokens").asInt();
        assertEquals(9, generated);
        SERVED.http().get("/no/such/path");

        List<Sample> after = scrape();
        assertEquals(tokensBefore + generated, total(after, "gantry:generation_tokens_total", Map.of()));
        assertTrue(total(after, "gantry:http_requests_total",
                Map.of("route", "/v1/completions", "method", "POST", "status", "200")) >= 1);
        assertTrue(total(after, "gantry:http_requests_total",
                Map.of("route", HttpMetrics.UNMATCHED, "method", "GET", "status", "404")) >= 1);
        assertTrue(total(after, "gantry:http_request_duration_seconds_count",
                Map.of("route", "/v1/completions", "method", "POST")) >= 1);
        assertTrue(total(after, "gantry:http_request_duration_seconds_bucket",
                Map.of("route", "/v1/completions", "le", "+Inf")) >= 1);
        assertTrue(after.stream().anyMatch(s -> s.name().equals("gantry:time_to_first_token_seconds_bucket")));
        // The completion was greedy: the cache missed it and holds it now.
        assertTrue(total(after, "gantry:response_cache_misses_total", Map.of()) >= 1);
        assertTrue(total(after, "gantry:response_cache_entries", Map.of()) >= 1);
        assertTrue(total(after, "gantry:response_cache_bytes", Map.of()) > 0);
    }

    @Test
    void labelsAndHelpAreEscapedAndHistogramsWrittenInFull() {
        List<MetricFamily> families = List.of(
                new MetricFamily("test:odd_total", "A \\ back\nslash.", MetricType.COUNTER,
                        List.of(new MetricSample.Value(Map.of("path", "a\"b\\c\nd"), 3))),
                new MetricFamily("test:latency_seconds", "Latency.", MetricType.HISTOGRAM,
                        List.of(new MetricSample.Distribution(Map.of("x", "1"), new double[] {0.5, 1},
                                new long[] {2, 5}, 3.25, 7))),
                new MetricFamily("test:odd_total", "Merged.", MetricType.COUNTER,
                        List.of(new MetricSample.Value(Map.of("path", "e"), 0.5))),
                new MetricFamily("test:odd_total", "Clashing.", MetricType.GAUGE,
                        List.of(new MetricSample.Value(Map.of(), 1))));
        List<String> dropped = new ArrayList<>();
        String text = PrometheusText.write(families, dropped);
        assertEquals("""
                # HELP test:odd_total A \\\\ back\\nslash.
                # TYPE test:odd_total counter
                test:odd_total{path="a\\"b\\\\c\\nd"} 3
                test:odd_total{path="e"} 0.5
                # HELP test:latency_seconds Latency.
                # TYPE test:latency_seconds histogram
                test:latency_seconds_bucket{le="0.5",x="1"} 2
                test:latency_seconds_bucket{le="1",x="1"} 5
                test:latency_seconds_bucket{le="+Inf",x="1"} 7
                test:latency_seconds_sum{x="1"} 3.25
                test:latency_seconds_count{x="1"} 7
                """, text);
        assertEquals(1, dropped.size(), dropped.toString());
        List<Sample> samples = parse(text);
        assertEquals("a\"b\\c\nd", samples.getFirst().labels().get("path"));
        assertFalse(PrometheusText.number(Double.NaN).isEmpty());
        assertEquals("+Inf", PrometheusText.number(Double.POSITIVE_INFINITY));
    }
}
