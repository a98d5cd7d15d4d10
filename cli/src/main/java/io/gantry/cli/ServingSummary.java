package io.gantry.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The serving benchmark's results, by the metric definitions of vLLM's serving benchmark. Over the successful
 * requests only: TTFT (time to first token), TPOT (time per output token after the first, of each request with
 * at least two), ITL (inter-token latency, every gap between chunks of every request pooled) and E2E latency;
 * throughputs divide by the whole run's wall time. Percentiles interpolate linearly between the closest ranks.
 *
 * @param completed          requests that succeeded
 * @param failed             requests that failed
 * @param duration           seconds from the start of the run to the end of its last request
 * @param inputTokens        prompt tokens of the successful requests, or -1 when the server did not report them all
 * @param outputTokens       output tokens of the successful requests
 * @param outputTokensFrom   where the output token counts come from (empty when no request succeeded)
 * @param ttft               time to first token, seconds
 * @param tpot               time per output token, seconds
 * @param itl                inter-token latency, seconds
 * @param e2e                end-to-end latency, seconds
 */
record ServingSummary(int completed, int failed, double duration, long inputTokens, long outputTokens,
                      Set<RequestRecord.TokenCount> outputTokensFrom, Distribution ttft, Distribution tpot,
                      Distribution itl, Distribution e2e) {

    /** Width of the result table. */
    private static final int WIDTH = 50;

    /**
     * Mean, median, population standard deviation and high percentiles of some values; NaN where there are none.
     *
     * @param count  how many values
     * @param mean   their mean
     * @param median their median
     * @param std    their population standard deviation
     * @param p95    their 95th percentile
     * @param p99    their 99th percentile
     */
    record Distribution(int count, double mean, double median, double std, double p95, double p99) {

        /** @return the distribution of {@code values} */
        static Distribution of(double[] values) {
            double[] sorted = values.clone();
            Arrays.sort(sorted);
            double mean = Arrays.stream(sorted).average().orElse(Double.NaN);
            double variance = Arrays.stream(sorted).map(v -> (v - mean) * (v - mean)).average().orElse(Double.NaN);
            return new Distribution(sorted.length, mean, percentile(sorted, 50), Math.sqrt(variance),
                    percentile(sorted, 95), percentile(sorted, 99));
        }
    }

    /**
     * The percentile by linear interpolation between the closest ranks: rank {@code p / 100 * (n - 1)} of the
     * values sorted, counted from 0.
     *
     * @param sorted values in ascending order
     * @param p      the percentile, 0 to 100
     * @return the percentile, or NaN when there are no values
     */
    static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        double rank = p / 100 * (sorted.length - 1);
        int below = (int) Math.floor(rank);
        int above = Math.min(below + 1, sorted.length - 1);
        return sorted[below] + (sorted[above] - sorted[below]) * (rank - below);
    }

    /**
     * @param records  every request of the run
     * @param duration the run's wall time, seconds
     * @return the run's results
     */
    static ServingSummary of(List<RequestRecord> records, double duration) {
        List<RequestRecord> succeeded = records.stream().filter(RequestRecord::ok).toList();
        boolean allInputsKnown = succeeded.stream().allMatch(r -> r.inputTokens() >= 0);
        Set<RequestRecord.TokenCount> from = succeeded.stream().map(RequestRecord::tokensFrom)
                .collect(Collectors.toCollection(() -> EnumSet.noneOf(RequestRecord.TokenCount.class)));
        return new ServingSummary(succeeded.size(), records.size() - succeeded.size(), duration,
                allInputsKnown ? succeeded.stream().mapToLong(RequestRecord::inputTokens).sum() : -1,
                succeeded.stream().mapToLong(RequestRecord::outputTokens).sum(), from,
                Distribution.of(succeeded.stream().mapToDouble(RequestRecord::ttft).toArray()),
                Distribution.of(succeeded.stream().mapToDouble(RequestRecord::tpot).filter(t -> !Double.isNaN(t))
                        .toArray()),
                Distribution.of(succeeded.stream().flatMapToDouble(r -> Arrays.stream(r.itl())).toArray()),
                Distribution.of(succeeded.stream().mapToDouble(RequestRecord::e2e).toArray()));
    }

    /** @return successful requests per second */
    double requestThroughput() {
        return completed / duration;
    }

    /** @return output tokens per second */
    double outputThroughput() {
        return outputTokens / duration;
    }

    /** @return input and output tokens per second, or NaN when the input tokens are not known */
    double totalTokenThroughput() {
        return inputTokens < 0 ? Double.NaN : (inputTokens + outputTokens) / duration;
    }

    /** @return in words, where the output token counts come from */
    String outputTokensFromDescription() {
        if (outputTokensFrom.isEmpty()) {
            return "-";
        }
        if (outputTokensFrom.size() > 1) {
            return "server usage for some requests, text chunks for the others";
        }
        return outputTokensFrom.contains(RequestRecord.TokenCount.USAGE) ? "server usage"
                : "text chunks (one token each)";
    }

    /**
     * Prints the result table.
     *
     * @param out     where to
     * @param traffic rows that describe the load, each a label and a value, before the results
     */
    void print(PrintWriter out, List<String[]> traffic) {
        out.println(centred(" Serving Benchmark Result ", '='));
        row(out, "Successful requests:", Integer.toString(completed));
        row(out, "Failed requests:", Integer.toString(failed));
        traffic.forEach(labelAndValue -> row(out, labelAndValue[0], labelAndValue[1]));
        row(out, "Benchmark duration (s):", number(duration));
        row(out, "Total input tokens:", inputTokens < 0 ? "- (not reported by the server)" : Long.toString(inputTokens));
        row(out, "Total generated tokens:", Long.toString(outputTokens));
        row(out, "Generated tokens counted from:", outputTokensFromDescription());
        row(out, "Request throughput (req/s):", number(requestThroughput()));
        row(out, "Output token throughput (tok/s):", number(outputThroughput()));
        row(out, "Total token throughput (tok/s):", number(totalTokenThroughput()));
        section(out, "Time to First Token", "TTFT", ttft);
        section(out, "Time per Output Token (excl. 1st token)", "TPOT", tpot);
        section(out, "Inter-token Latency", "ITL", itl);
        section(out, "End-to-end Latency", "E2E", e2e);
        out.println("=".repeat(WIDTH));
        out.flush();
    }

    private static void section(PrintWriter out, String title, String name, Distribution distribution) {
        out.println(centred(title, '-'));
        row(out, "Mean " + name + " (ms):", number(distribution.mean() * 1e3));
        row(out, "Median " + name + " (ms):", number(distribution.median() * 1e3));
        row(out, "P95 " + name + " (ms):", number(distribution.p95() * 1e3));
        row(out, "P99 " + name + " (ms):", number(distribution.p99() * 1e3));
    }

    private static void row(PrintWriter out, String label, String value) {
        out.println(String.format(Locale.ROOT, "%-40s %s", label, value));
    }

    /** @return {@code title} centred in a line of {@code fill} characters, the odd one on the right */
    private static String centred(String title, char fill) {
        int padding = Math.max(0, WIDTH - title.length());
        return String.valueOf(fill).repeat(padding / 2) + title + String.valueOf(fill).repeat(padding - padding / 2);
    }

    private static String number(double value) {
        return Double.isNaN(value) ? "-" : String.format(Locale.ROOT, "%.2f", value);
    }

    /**
     * Writes the results into {@code json} under the key names of vLLM's serving benchmark result files
     * ({@code mean_ttft_ms}, ...), plus the P95s and the failures; times in milliseconds, values that do not exist
     * as {@code null}.
     */
    void writeTo(ObjectNode json) {
        json.put("completed", completed);
        json.put("failed", failed);
        json.put("duration", duration);
        putNumber(json, "total_input_tokens", inputTokens < 0 ? Double.NaN : inputTokens);
        json.put("total_output_tokens", outputTokens);
        json.put("output_tokens_counted_from", outputTokensFrom.size() == 1
                ? outputTokensFrom.iterator().next().name().toLowerCase(Locale.ROOT)
                : outputTokensFrom.isEmpty() ? null : "mixed");
        putNumber(json, "request_throughput", requestThroughput());
        putNumber(json, "output_throughput", outputThroughput());
        putNumber(json, "total_token_throughput", totalTokenThroughput());
        putDistribution(json, "ttft", ttft);
        putDistribution(json, "tpot", tpot);
        putDistribution(json, "itl", itl);
        putDistribution(json, "e2el", e2e);
    }

    private static void putDistribution(ObjectNode json, String name, Distribution distribution) {
        putNumber(json, "mean_" + name + "_ms", distribution.mean() * 1e3);
        putNumber(json, "median_" + name + "_ms", distribution.median() * 1e3);
        putNumber(json, "std_" + name + "_ms", distribution.std() * 1e3);
        putNumber(json, "p95_" + name + "_ms", distribution.p95() * 1e3);
        putNumber(json, "p99_" + name + "_ms", distribution.p99() * 1e3);
    }

    /** Puts {@code value}, or {@code null} for NaN (which JSON cannot hold). */
    static void putNumber(ObjectNode json, String key, double value) {
        if (Double.isNaN(value)) {
            json.putNull(key);
        } else {
            json.put(key, value);
        }
    }
}
