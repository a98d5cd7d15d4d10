package io.gantry.cli.compare;

import io.gantry.api.inference.Completion;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.GenerationHandle;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.InferenceService;
import io.gantry.api.inference.Prompt;
import io.gantry.api.inference.SamplingParams;
import io.gantry.api.inference.TokenSink;
import io.gantry.api.metrics.MetricFamily;
import io.gantry.api.metrics.MetricSample;
import io.gantry.api.metrics.MetricsSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs a {@link Workload} with a {@link Strategy}: makes the strategy's plugins the engine's, sends the requests as the
 * workload's spec says (at the arrival times, at most {@code concurrency} in flight) and records every token's time as
 * the engine streams it. When an engine step fails, the run stops: nothing more is sent and what was sent is
 * cancelled. While the requests run, it samples the engine's metrics every {@value #SAMPLE_MILLIS} ms (KV usage,
 * running and waiting requests); the counters it reads before and after give the run's preemptions, prefix-cache hits
 * and queue time.
 */
final class WorkloadRunner {

    /** How often the engine's gauges are sampled. */
    static final long SAMPLE_MILLIS = 50;

    private static final String KV_USAGE = "gantry:kv_cache_usage_perc";
    private static final String RUNNING = "gantry:num_requests_running";
    private static final String WAITING = "gantry:num_requests_waiting";
    private static final String PREEMPTIONS = "gantry:num_preemptions_total";
    private static final String PREFIX_QUERIES = "gantry:prefix_cache_queries_total";
    private static final String PREFIX_HITS = "gantry:prefix_cache_hits_total";
    private static final String QUEUE_TIME = "gantry:request_queue_time_seconds";

    private final InferenceService engine;
    private final MetricsSource metrics;
    private final StrategyPlugins plugins;
    private final String model;

    /**
     * @param engine  where requests go
     * @param metrics the engine's metrics
     * @param plugins the plugins the engine steps with
     * @param model   the model id requests name (and metrics are filtered by)
     */
    WorkloadRunner(InferenceService engine, MetricsSource metrics, StrategyPlugins plugins, String model) {
        this.engine = engine;
        this.metrics = metrics;
        this.plugins = plugins;
        this.model = model;
    }

    /**
     * What a run measured.
     *
     * @param requests        one record per request of the workload, in workload order
     * @param durationSeconds from the first submission to the end of the last request
     * @param samples         the engine's state over the run
     * @param counters        the change of the engine's counters over the run
     * @param error           why the run was stopped early, or {@code null}
     */
    record Recording(List<RequestRecord> requests, double durationSeconds, List<KvSample> samples, Counters counters,
            String error) {
    }

    /**
     * Engine counters, or the change of them over a run.
     *
     * @param preemptions      sequences preempted
     * @param prefixQueries    prompt tokens looked up in the prefix cache
     * @param prefixHits       of those, tokens found
     * @param queueSeconds     the sum of admitted requests' queue times
     * @param queuedRequests   requests admitted
     */
    record Counters(double preemptions, double prefixQueries, double prefixHits, double queueSeconds,
            double queuedRequests) {

        Counters minus(Counters earlier) {
            return new Counters(preemptions - earlier.preemptions, prefixQueries - earlier.prefixQueries,
                    prefixHits - earlier.prefixHits, queueSeconds - earlier.queueSeconds,
                    queuedRequests - earlier.queuedRequests);
        }
    }

    /**
     * Runs the workload to its end: every request completes, fails, or is cancelled because an engine step failed.
     *
     * @param strategy the scheduler and KV allocator to run with (a fresh allocator: an empty KV pool)
     * @param workload the requests
     * @throws InterruptedException if the thread is interrupted; the requests sent are cancelled
     */
    Recording run(Strategy strategy, Workload workload) throws InterruptedException {
        List<Workload.Request> requests = workload.requests();
        Counters before = counters();
        Probe[] probes = new Probe[requests.size()];
        CountDownLatch requestsLeft = new CountDownLatch(requests.size());
        int concurrency = workload.spec().concurrency();
        Semaphore slots = new Semaphore(concurrency > 0 ? concurrency : requests.size());
        Queue<GenerationHandle> handles = new ConcurrentLinkedQueue<>();
        List<KvSample> samples = new ArrayList<>();
        long start = System.nanoTime();
        Sender sender = new Sender(workload, probes, slots, requestsLeft, handles, start);
        AtomicReference<String> error = new AtomicReference<>();
        plugins.use(strategy, failure -> {
            error.set("an engine step failed: " + (failure instanceof IllegalArgumentException
                    ? failure.getMessage() : failure.toString()));
            sender.stop();
        });
        samples.add(sample(start));
        Thread thread = Thread.ofPlatform().name("gantry-bench-sender").daemon().start(sender);
        try {
            while (!requestsLeft.await(SAMPLE_MILLIS, TimeUnit.MILLISECONDS)) {
                samples.add(sample(start));
            }
            thread.join();
        } catch (InterruptedException e) {
            sender.stop();
            thread.interrupt();
            throw e;
        }
        samples.add(sample(start));
        long last = start;
        List<RequestRecord> records = new ArrayList<>(probes.length);
        for (Probe probe : probes) {
            records.add(probe.record(start));
            if (probe.ended) {
                last = Math.max(last, probe.endNanos);
            }
        }
        return new Recording(records, (last - start) / 1e9, samples, counters().minus(before), error.get());
    }

    /** Sends the requests at their times, within the concurrency limit, on its own thread. */
    private final class Sender implements Runnable {
        private final Workload workload;
        private final Probe[] probes;
        private final Semaphore slots;
        private final CountDownLatch requestsLeft;
        private final Queue<GenerationHandle> handles;
        private final long start;
        private volatile boolean stopped;

        Sender(Workload workload, Probe[] probes, Semaphore slots, CountDownLatch requestsLeft,
                Queue<GenerationHandle> handles, long start) {
            this.workload = workload;
            this.probes = probes;
            this.slots = slots;
            this.requestsLeft = requestsLeft;
            this.handles = handles;
            this.start = start;
        }

        /** Sends nothing more and cancels what was sent. */
        void stop() {
            stopped = true;
            handles.forEach(GenerationHandle::cancel);
        }

        @Override
        public void run() {
            List<Workload.Request> requests = workload.requests();
            for (int i = 0; i < requests.size(); i++) {
                Workload.Request request = requests.get(i);
                probes[i] = new Probe(request, slots, requestsLeft);
                if (!awaitTurn(request)) {
                    probes[i].notSent();
                    continue;
                }
                probes[i].sent(System.nanoTime());
                try {
                    GenerationHandle handle = engine.submit(new GenerationRequest(model, new Prompt.Tokens(
                            request.prompt()), SamplingParams.GREEDY, request.maxTokens(), List.of(), null,
                            workload.spec().ignoreEos(), -1, request.priority(), null, null), probes[i]);
                    handles.add(handle);
                    if (stopped) {
                        handle.cancel();
                    }
                } catch (InferenceException e) {
                    probes[i].onError(e);
                }
            }
        }

        /** @return whether the request may go: its arrival time has come and a slot is free, before a stop */
        private boolean awaitTurn(Workload.Request request) {
            long due = start + (long) (request.arrivalSeconds() * 1e9);
            for (long wait = due - System.nanoTime(); wait > 0 && !stopped; wait = due - System.nanoTime()) {
                LockSupport.parkNanos(Math.min(wait, TimeUnit.MILLISECONDS.toNanos(SAMPLE_MILLIS)));
            }
            try {
                while (!stopped) {
                    if (slots.tryAcquire(SAMPLE_MILLIS, TimeUnit.MILLISECONDS)) {
                        return true;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return false;
        }
    }

    /** One request's sink: the time of every token, and how it ended. */
    private static final class Probe implements TokenSink {
        private final Workload.Request request;
        private final Semaphore slots;
        private final CountDownLatch requestsLeft;
        private boolean sent;
        private long sentNanos;
        private long[] tokenNanos = new long[16];
        private int tokens;
        private boolean ended;
        private long endNanos;
        private Completion completion;
        private String error;
        private String finishReason;

        Probe(Workload.Request request, Semaphore slots, CountDownLatch requestsLeft) {
            this.request = request;
            this.slots = slots;
            this.requestsLeft = requestsLeft;
        }

        void sent(long nanos) {
            sent = true;
            sentNanos = nanos;
        }

        void notSent() {
            finishReason = "not_sent";
            error = "not sent: the run was stopped";
            requestsLeft.countDown();
        }

        @Override
        public void onToken(GeneratedToken token) {
            if (tokens == tokenNanos.length) {
                tokenNanos = Arrays.copyOf(tokenNanos, tokens * 2);
            }
            tokenNanos[tokens++] = System.nanoTime();
        }

        @Override
        public void onComplete(Completion done) {
            completion = done;
            finishReason = done.reason().name().toLowerCase(Locale.ROOT);
            end();
        }

        @Override
        public void onError(InferenceException failure) {
            finishReason = "error";
            error = failure.kind() + ": " + failure.getMessage();
            end();
        }

        private void end() {
            ended = true;
            endNanos = System.nanoTime();
            slots.release();
            requestsLeft.countDown();
        }

        /** Read after the run's latch opened, which orders it after every write above. */
        RequestRecord record(long start) {
            int outputTokens = completion != null ? completion.completionTokens() : tokens;
            double ttft = tokens > 0 ? (tokenNanos[0] - sentNanos) / 1e9 : Double.NaN;
            double e2e = ended && sent ? (endNanos - sentNanos) / 1e9 : Double.NaN;
            double[] gaps = new double[Math.max(0, tokens - 1)];
            for (int i = 1; i < tokens; i++) {
                gaps[i - 1] = (tokenNanos[i] - tokenNanos[i - 1]) / 1e9;
            }
            return new RequestRecord(request.index(), request.priority(), request.promptTokens(),
                    completion != null ? completion.cachedPromptTokens() : 0, outputTokens,
                    sent ? (sentNanos - start) / 1e9 : Double.NaN, ttft,
                    outputTokens > 1 ? (e2e - ttft) / (outputTokens - 1) : Double.NaN, e2e, gaps, finishReason, error);
        }
    }

    private KvSample sample(long start) {
        List<MetricFamily> families = metrics.collect();
        return new KvSample((System.nanoTime() - start) / 1e9, value(families, KV_USAGE),
                (int) value(families, RUNNING), (int) value(families, WAITING));
    }

    private Counters counters() {
        List<MetricFamily> families = metrics.collect();
        double queueSeconds = 0;
        double queued = 0;
        for (MetricSample sample : samples(families, QUEUE_TIME)) {
            if (sample instanceof MetricSample.Distribution distribution) {
                queueSeconds += distribution.sum();
                queued += distribution.count();
            }
        }
        return new Counters(value(families, PREEMPTIONS), value(families, PREFIX_QUERIES),
                value(families, PREFIX_HITS), queueSeconds, queued);
    }

    /** @return the sum of the model's values of a counter or gauge (0 if the engine has no such metric) */
    private double value(List<MetricFamily> families, String name) {
        double sum = 0;
        for (MetricSample sample : samples(families, name)) {
            if (sample instanceof MetricSample.Value value) {
                sum += value.value();
            }
        }
        return sum;
    }

    private List<MetricSample> samples(List<MetricFamily> families, String name) {
        return families.stream().filter(family -> family.name().equals(name))
                .flatMap(family -> family.samples().stream())
                .filter(sample -> model.equals(sample.labels().get("model_name"))).toList();
    }
}
