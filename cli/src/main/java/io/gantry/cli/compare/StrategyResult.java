package io.gantry.cli.compare;

import java.util.Arrays;
import java.util.List;
import java.util.stream.DoubleStream;

/**
 * One strategy's run of the workload, summed up with the definitions of vLLM's serving benchmark: latencies are
 * over the requests that succeeded (ITL over all their gaps together); throughputs divide by the run's duration,
 * from the first submission to the last end. Latencies in milliseconds, KV usage in percent.
 *
 * @param strategy             the strategy's name
 * @param scheduler            its scheduler
 * @param allocator            its KV allocator
 * @param error                why the run was stopped early, or {@code null}
 * @param requests             requests in the workload
 * @param completed            requests that succeeded
 * @param failed               requests that failed, timed out, or were not sent
 * @param durationSeconds      the run's duration
 * @param requestThroughput    completed requests per second
 * @param outputThroughput     output tokens of completed requests per second
 * @param totalTokenThroughput prompt and output tokens of completed requests per second
 * @param promptTokens         prompt tokens of completed requests
 * @param outputTokens         output tokens of completed requests
 * @param ttftMs               time to first token
 * @param tpotMs               time per output token after the first, per request
 * @param itlMs                inter-token latency, every gap
 * @param e2eMs                end-to-end latency
 * @param meanQueueTimeMs      the mean time from arrival to admission, from the engine's queue-time histogram
 * @param kvUsagePeakPercent   the highest KV usage sampled
 * @param kvUsageMeanPercent   the mean of the KV usage samples
 * @param preemptions          sequences preempted during the run
 * @param prefixCacheHitRate   the fraction of prompt tokens whose KV came from the prefix cache (NaN if none looked up)
 * @param samples              the engine's state over the run
 * @param requestRecords       every request's measurements
 */
public record StrategyResult(String strategy, String scheduler, String allocator, String error, int requests,
        int completed, int failed, double durationSeconds, double requestThroughput, double outputThroughput,
        double totalTokenThroughput, long promptTokens, long outputTokens, LatencySummary ttftMs,
        LatencySummary tpotMs, LatencySummary itlMs, LatencySummary e2eMs, double meanQueueTimeMs,
        double kvUsagePeakPercent, double kvUsageMeanPercent, long preemptions, double prefixCacheHitRate,
        List<KvSample> samples, List<RequestRecord> requestRecords) {

    /** Copies the lists. */
    public StrategyResult {
        samples = List.copyOf(samples);
        requestRecords = List.copyOf(requestRecords);
    }

    /**
     * @param strategy  the strategy that ran
     * @param recording what its run measured
     * @return the summary
     */
    static StrategyResult of(Strategy strategy, WorkloadRunner.Recording recording) {
        List<RequestRecord> ok = recording.requests().stream().filter(RequestRecord::succeeded).toList();
        double duration = recording.durationSeconds();
        long prompt = ok.stream().mapToLong(RequestRecord::promptTokens).sum();
        long output = ok.stream().mapToLong(RequestRecord::outputTokens).sum();
        WorkloadRunner.Counters counters = recording.counters();
        return new StrategyResult(strategy.name(), strategy.scheduler().toString(), strategy.allocator().toString(),
                recording.error(), recording.requests().size(), ok.size(), recording.requests().size() - ok.size(),
                duration, perSecond(ok.size(), duration), perSecond(output, duration),
                perSecond(prompt + output, duration), prompt, output,
                milliseconds(ok.stream().mapToDouble(RequestRecord::ttftSeconds)),
                milliseconds(ok.stream().mapToDouble(RequestRecord::tpotSeconds).filter(Double::isFinite)),
                milliseconds(ok.stream().flatMapToDouble(r -> Arrays.stream(r.itlSeconds()))),
                milliseconds(ok.stream().mapToDouble(RequestRecord::e2eSeconds)),
                counters.queuedRequests() > 0 ? counters.queueSeconds() / counters.queuedRequests() * 1000 : Double.NaN,
                recording.samples().stream().mapToDouble(KvSample::kvUsage).max().orElse(Double.NaN) * 100,
                recording.samples().stream().mapToDouble(KvSample::kvUsage).average().orElse(Double.NaN) * 100,
                Math.round(counters.preemptions()),
                counters.prefixQueries() > 0 ? counters.prefixHits() / counters.prefixQueries() : Double.NaN,
                recording.samples(), recording.requests());
    }

    private static double perSecond(double count, double seconds) {
        return seconds > 0 ? count / seconds : Double.NaN;
    }

    private static LatencySummary milliseconds(DoubleStream seconds) {
        return LatencySummary.of(seconds.toArray()).scaled(1000);
    }
}
