package io.gantry.engine.serving;

import io.gantry.api.inference.FinishReason;
import io.gantry.api.kv.KvStats;
import io.gantry.api.metrics.MetricFamily;
import io.gantry.api.metrics.MetricSample;
import io.gantry.api.metrics.MetricType;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * What one step loop records: request counts by how they ended, tokens in and out, preemptions, prefix-cache
 * lookups, the queue and the KV pool's use, and latency distributions (time to first token, inter-token
 * latency, end-to-end latency, queue time). Names follow vLLM's metrics with the {@code gantry:} prefix, so
 * dashboards carry over; every sample carries the {@code model_name} and {@code variant} labels.
 *
 * <p><b>Threading:</b> the step loop's thread records; {@link #collect()} runs on any thread. Counters are
 * {@link LongAdder}s, gauges volatile fields; latencies go to HdrHistogram {@link Recorder}s (wait-free for
 * the recording thread), whose intervals {@link #collect()} adds up into cumulative histograms under a lock.
 */
final class ServingMetrics {

    /** vLLM's bucket bounds, in seconds, so that its dashboards' panels read the same. */
    private static final double[] TTFT_BUCKETS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
        0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
    private static final double[] ITL_BUCKETS = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
        1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
    private static final double[] REQUEST_BUCKETS = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
        40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
    /** Three significant digits: bucket counts are exact to 0.1 % of a bound. */
    private static final int SIGNIFICANT_DIGITS = 3;

    private final Map<String, String> labels;
    private final EnumMap<FinishReason, LongAdder> finished = new EnumMap<>(FinishReason.class);
    private final LongAdder promptTokens = new LongAdder();
    private final LongAdder generationTokens = new LongAdder();
    private final LongAdder preemptions = new LongAdder();
    private final LongAdder prefixQueries = new LongAdder();
    private final LongAdder prefixHits = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final Latency timeToFirstToken = new Latency(TTFT_BUCKETS);
    private final Latency interTokenLatency = new Latency(ITL_BUCKETS);
    private final Latency endToEnd = new Latency(REQUEST_BUCKETS);
    private final Latency queueTime = new Latency(REQUEST_BUCKETS);
    private volatile int running;
    private volatile int waiting;
    private volatile double kvUsage;

    /**
     * @param model   the model id
     * @param variant the A/B variant, {@code default} without A/B
     */
    ServingMetrics(String model, String variant) {
        this.labels = Map.of("model_name", model, "variant", variant);
        for (FinishReason reason : FinishReason.values()) {
            finished.put(reason, new LongAdder());
        }
    }

    void admitted(long queueNanos, int prompt, int reused) {
        queueTime.record(queueNanos);
        promptTokens.add(prompt);
        prefixQueries.add(prompt);
        prefixHits.add(reused);
    }

    /** @param gapNanos since the previous token, or -1 for the first (then {@code sinceArrivalNanos} counts) */
    void token(long gapNanos, long sinceArrivalNanos) {
        generationTokens.increment();
        if (gapNanos < 0) {
            timeToFirstToken.record(sinceArrivalNanos);
        } else {
            interTokenLatency.record(gapNanos);
        }
    }

    void finished(FinishReason reason, long sinceArrivalNanos) {
        finished.get(reason).increment();
        endToEnd.record(sinceArrivalNanos);
    }

    void failed() {
        failed.increment();
    }

    void preempted() {
        preemptions.increment();
    }

    void state(int runningNow, int waitingNow, KvStats kv) {
        running = runningNow;
        waiting = waitingNow;
        kvUsage = kv == null ? 0 : kv.usage();
    }

    /** @return the metric families, one sample each (this loop's labels) */
    List<MetricFamily> collect() {
        List<MetricFamily> families = new ArrayList<>();
        families.add(gauge("gantry:num_requests_running", "Requests holding KV space and being computed.", running));
        families.add(gauge("gantry:num_requests_waiting", "Requests waiting to run (new or preempted).", waiting));
        families.add(gauge("gantry:kv_cache_usage_perc", "Fraction of KV-cache blocks in use (0 to 1).", kvUsage));
        families.add(counter("gantry:prompt_tokens_total", "Prompt tokens admitted.", promptTokens));
        families.add(counter("gantry:generation_tokens_total", "Tokens generated.", generationTokens));
        families.add(counter("gantry:num_preemptions_total", "Sequences preempted (they recompute later).",
                preemptions));
        families.add(counter("gantry:prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.",
                prefixQueries));
        families.add(counter("gantry:prefix_cache_hits_total", "Prompt tokens whose KV came from the prefix cache.",
                prefixHits));
        families.add(counter("gantry:request_failure_total", "Requests that ended with an error.", failed));
        List<MetricSample> byReason = new ArrayList<>();
        for (Map.Entry<FinishReason, LongAdder> entry : finished.entrySet()) {
            Map<String, String> withReason = new LinkedHashMap<>(labels);
            withReason.put("finished_reason", entry.getKey().name().toLowerCase(Locale.ROOT));
            byReason.add(new MetricSample.Value(withReason, entry.getValue().sum()));
        }
        families.add(new MetricFamily("gantry:request_success_total", "Requests that ended, by reason.",
                MetricType.COUNTER, byReason));
        families.add(timeToFirstToken.family("gantry:time_to_first_token_seconds",
                "Time from a request's arrival to its first token."));
        families.add(interTokenLatency.family("gantry:inter_token_latency_seconds",
                "Time between two consecutive tokens of a request."));
        families.add(endToEnd.family("gantry:e2e_request_latency_seconds",
                "Time from a request's arrival to its end."));
        families.add(queueTime.family("gantry:request_queue_time_seconds",
                "Time from a request's arrival to its first admission."));
        return families;
    }

    private MetricFamily gauge(String name, String help, double value) {
        return new MetricFamily(name, help, MetricType.GAUGE, List.of(new MetricSample.Value(labels, value)));
    }

    private MetricFamily counter(String name, String help, LongAdder value) {
        return new MetricFamily(name, help, MetricType.COUNTER, List.of(new MetricSample.Value(labels, value.sum())));
    }

    /** One latency distribution, in nanoseconds inside and seconds outside. */
    private final class Latency {
        private final double[] bounds;
        private final Recorder recorder = new Recorder(SIGNIFICANT_DIGITS);
        private final LongAdder sumNanos = new LongAdder();
        /** Guarded by this: every interval recorded so far. */
        private final Histogram total = new Histogram(SIGNIFICANT_DIGITS);
        private Histogram interval;

        Latency(double[] bounds) {
            this.bounds = bounds;
        }

        void record(long nanos) {
            long value = Math.max(0, nanos);
            recorder.recordValue(value);
            sumNanos.add(value);
        }

        synchronized MetricFamily family(String name, String help) {
            interval = recorder.getIntervalHistogram(interval);
            total.add(interval);
            long[] counts = new long[bounds.length];
            for (int i = 0; i < bounds.length; i++) {
                counts[i] = total.getCountBetweenValues(0, (long) (bounds[i] * 1e9));
            }
            return new MetricFamily(name, help, MetricType.HISTOGRAM, List.of(new MetricSample.Distribution(labels,
                    bounds, counts, sumNanos.sum() / 1e9, total.getTotalCount())));
        }
    }
}
