package io.gantry.cli.compare;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.gantry.cli.chart.Chart;
import io.gantry.cli.chart.ChartLayout;
import io.gantry.cli.chart.Drawing;
import io.gantry.cli.chart.PngRenderer;
import io.gantry.cli.chart.SvgRenderer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/**
 * Writes a {@link ComparisonReport} into a folder: {@code report.md} (settings and the table), {@code report.json}
 * (everything, every request's measurements included), {@code report.html} (the table and the charts, inline SVG,
 * no outside resources) and every chart as a PNG.
 */
public final class ReportWriter {

    private static final int CHART_WIDTH = 760;
    private static final int CHART_HEIGHT = 400;
    private static final ObjectMapper JSON = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();
    /** Said under the table: what the numbers mean. */
    private static final String DEFINITIONS = "Definitions as in vLLM's serving benchmark, measured in-process as the "
            + "engine streams tokens: TTFT from submission to the first token; TPOT = (E2E - TTFT) / (output tokens"
            + " - 1) per request; ITL every gap between consecutive tokens, over all requests; E2E from submission to"
            + " the end. Percentiles interpolate linearly between ranks (numpy's default). Latencies and throughputs "
            + "count completed requests; throughputs divide by the run's duration (first submission to last end). KV "
            + "usage is gantry:kv_cache_usage_perc sampled every " + WorkloadRunner.SAMPLE_MILLIS + " ms; preemptions "
            + "and prefix-cache hits are the change of the engine's counters over the run; the queue time is the "
            + "engine's (arrival to first admission).";

    private ReportWriter() {
    }

    /**
     * A table: the header and rows of cells, the first column naming the row.
     *
     * @param header the column titles
     * @param rows   the rows, each as long as the header
     */
    public record Table(List<String> header, List<List<String>> rows) {

        /** @return the table in Markdown */
        public String markdown() {
            StringBuilder md = new StringBuilder(markdownRow(header));
            md.append("| --- |").append(" ---: |".repeat(header.size() - 1)).append('\n');
            rows.forEach(row -> md.append(markdownRow(row)));
            return md.toString();
        }

        /** @return the table as an HTML element */
        public String html() {
            StringBuilder html = new StringBuilder("<table>\n<thead><tr>");
            header.forEach(cell -> html.append("<th>").append(SvgRenderer.escape(cell)).append("</th>"));
            html.append("</tr></thead>\n<tbody>\n");
            for (List<String> row : rows) {
                html.append("<tr><th scope=\"row\">").append(SvgRenderer.escape(row.getFirst())).append("</th>");
                row.subList(1, row.size()).forEach(cell -> html.append("<td>").append(SvgRenderer.escape(cell))
                        .append("</td>"));
                html.append("</tr>\n");
            }
            return html.append("</tbody>\n</table>\n").toString();
        }

        private static String markdownRow(List<String> cells) {
            return "| " + String.join(" | ", cells) + " |\n";
        }
    }

    /**
     * A chart and the file it goes to.
     *
     * @param file  the PNG file name
     * @param chart the chart
     */
    public record NamedChart(String file, Chart chart) {
    }

    /**
     * Writes every file of the report, creating the folder.
     *
     * @param report   the report
     * @param folder   where to write
     * @param warnings receives a line for a part that could not be written but does not stop the rest (PNG charts
     *                 where Java2D cannot draw text)
     * @return the files written
     * @throws IOException if a file cannot be written
     */
    public static List<Path> write(ComparisonReport report, Path folder, Consumer<String> warnings)
            throws IOException {
        Files.createDirectories(folder);
        List<Path> written = new ArrayList<>();
        written.add(Files.writeString(folder.resolve("report.json"), JSON.writeValueAsString(report)));
        written.add(Files.writeString(folder.resolve("report.md"), markdown(report)));
        List<NamedChart> charts = charts(report);
        written.add(Files.writeString(folder.resolve("report.html"), html(report, charts)));
        try {
            for (NamedChart chart : charts) {
                Path file = folder.resolve(chart.file());
                PngRenderer.write(draw(chart.chart()), file);
                written.add(file);
            }
        } catch (RuntimeException | LinkageError | InternalError e) {
            // Java2D needs fonts to draw text; a bare system may lack them. The HTML has the same charts.
            warnings.accept("PNG charts not written: Java2D cannot draw here (" + e + "); report.html has the charts");
        }
        return written;
    }

    /** @return the comparison table: a column per strategy, a row per measurement */
    public static Table table(ComparisonReport report) {
        List<String> header = new ArrayList<>(List.of("metric"));
        report.results().forEach(result -> header.add(result.strategy()));
        List<List<String>> rows = new ArrayList<>();
        row(rows, report, "completed / failed requests", r -> r.completed() + " / " + r.failed());
        row(rows, report, "duration (s)", r -> number(r.durationSeconds()));
        row(rows, report, "request throughput (req/s)", r -> number(r.requestThroughput()));
        row(rows, report, "output throughput (tok/s)", r -> number(r.outputThroughput()));
        row(rows, report, "total token throughput (tok/s)", r -> number(r.totalTokenThroughput()));
        latencyRows(rows, report, "TTFT", StrategyResult::ttftMs);
        latencyRows(rows, report, "TPOT", StrategyResult::tpotMs);
        latencyRows(rows, report, "ITL", StrategyResult::itlMs);
        latencyRows(rows, report, "E2E", StrategyResult::e2eMs);
        row(rows, report, "mean queue time (ms)", r -> number(r.meanQueueTimeMs()));
        row(rows, report, "KV usage peak (%)", r -> number(r.kvUsagePeakPercent()));
        row(rows, report, "KV usage mean (%)", r -> number(r.kvUsageMeanPercent()));
        row(rows, report, "preemptions", r -> Long.toString(r.preemptions()));
        row(rows, report, "prefix cache hit rate (%)", r -> number(r.prefixCacheHitRate() * 100));
        return new Table(header, rows);
    }

    private static void latencyRows(List<List<String>> rows, ComparisonReport report, String name,
            Function<StrategyResult, LatencySummary> summary) {
        row(rows, report, name + " mean (ms)", r -> number(summary.apply(r).mean()));
        row(rows, report, name + " p50 (ms)", r -> number(summary.apply(r).p50()));
        row(rows, report, name + " p95 (ms)", r -> number(summary.apply(r).p95()));
        row(rows, report, name + " p99 (ms)", r -> number(summary.apply(r).p99()));
    }

    private static void row(List<List<String>> rows, ComparisonReport report, String name,
            Function<StrategyResult, String> cell) {
        List<String> row = new ArrayList<>(List.of(name));
        report.results().forEach(result -> row.add(cell.apply(result)));
        rows.add(row);
    }

    private static String number(double value) {
        return Double.isFinite(value) ? String.format(Locale.ROOT, "%.2f", value) : "-";
    }

    /** @return what ran, line by line: label and text */
    static List<String[]> settings(ComparisonReport report) {
        ComparisonReport.Model model = report.model();
        EngineSettings engine = report.engine();
        WorkloadSpec workload = report.workload();
        List<String[]> lines = new ArrayList<>();
        lines.add(new String[] {"Model", model.path() + " (" + model.architecture() + ", "
                + String.format(Locale.ROOT, "%.1f M", model.parameters() / 1e6) + " parameters, context "
                + model.contextLength() + ", vocabulary " + model.vocabularySize() + ")"});
        lines.add(new String[] {"Backend", report.backend()});
        lines.add(new String[] {"Engine", "max-num-seqs " + engine.maxNumSeqs() + ", max-num-batched-tokens "
                + engine.maxNumBatchedTokens() + ", KV cache " + engine.kvCacheMb() + " MiB of "
                + engine.kvCacheType() + ", KV block size "
                + engine.blockSize() + " (paged), request timeout " + engine.requestTimeoutSeconds() + " s"});
        lines.add(new String[] {"Workload", workload.requests() + " requests, "
                + (Double.isInfinite(workload.requestRate()) ? "all at once" : "Poisson arrivals at "
                        + workload.requestRate() + " req/s")
                + (workload.concurrency() > 0 ? ", at most " + workload.concurrency() + " in flight" : "")
                + "; prompt tokens " + (workload.sharedPrefixTokens() > 0 ? workload.sharedPrefixTokens()
                        + " shared + " : "") + workload.promptTokens().spec() + ", max tokens "
                + workload.maxTokens().spec() + (workload.ignoreEos() ? " (EOS ignored)" : "") + ", priorities "
                + workload.priorities().spec() + ", seed " + workload.seed() + "; random token ids, greedy decoding"});
        lines.add(new String[] {"Warm-up", report.warmUp()});
        lines.add(new String[] {"Machine", report.machine().processors() + " processors, Java "
                + report.machine().java() + ", " + report.machine().os()});
        lines.add(new String[] {"Gantry", report.gantryVersion() + ", " + report.createdAt()});
        for (StrategyResult result : report.results()) {
            if (result.error() != null) {
                lines.add(new String[] {"Stopped", result.strategy() + ": " + result.error()});
            }
        }
        return lines;
    }

    static String markdown(ComparisonReport report) {
        StringBuilder md = new StringBuilder("# Gantry strategy comparison\n\n");
        settings(report).forEach(line -> md.append("- **").append(line[0]).append("**: ").append(line[1])
                .append('\n'));
        md.append('\n').append(table(report).markdown()).append('\n').append(DEFINITIONS).append('\n');
        return md.toString();
    }

    static String html(ComparisonReport report, List<NamedChart> charts) {
        StringBuilder html = new StringBuilder("""
                <!DOCTYPE html>
                <html lang="en">
                <head>
                <meta charset="utf-8">
                <title>Gantry strategy comparison</title>
                <style>
                body { font-family: "DejaVu Sans", Verdana, Helvetica, Arial, sans-serif; margin: 2em auto;
                       max-width: 1600px; padding: 0 1em; color: #222; }
                table { border-collapse: collapse; margin: 1em 0; }
                th, td { border: 1px solid #ccc; padding: 0.3em 0.8em; }
                td { text-align: right; font-variant-numeric: tabular-nums; }
                thead th { background: #f2f2f2; }
                tbody th { text-align: left; font-weight: normal; }
                dt { font-weight: bold; } dd { margin: 0 0 0.5em 1.5em; }
                .charts { display: flex; flex-wrap: wrap; gap: 1em; }
                .note { color: #555; max-width: 60em; }
                </style>
                </head>
                <body>
                <h1>Gantry strategy comparison</h1>
                """);
        html.append("<dl>\n");
        settings(report).forEach(line -> html.append("<dt>").append(SvgRenderer.escape(line[0])).append("</dt><dd>")
                .append(SvgRenderer.escape(line[1])).append("</dd>\n"));
        html.append("</dl>\n<h2>Results</h2>\n").append(table(report).html());
        html.append("<p class=\"note\">").append(SvgRenderer.escape(DEFINITIONS)).append("</p>\n");
        html.append("<h2>Charts</h2>\n<div class=\"charts\">\n");
        for (NamedChart chart : charts) {
            html.append(SvgRenderer.render(draw(chart.chart()), chart.chart().title()));
        }
        return html.append("</div>\n</body>\n</html>\n").toString();
    }

    private static Drawing draw(Chart chart) {
        return ChartLayout.draw(chart, CHART_WIDTH, CHART_HEIGHT);
    }

    /** @return the report's charts: TTFT CDF, throughput, p95 latencies, KV usage over time */
    public static List<NamedChart> charts(ComparisonReport report) {
        List<StrategyResult> results = report.results();
        List<String> names = results.stream().map(StrategyResult::strategy).toList();
        List<Chart.Series> cdfs = results.stream().map(r -> cdf(r.strategy(), r.requestRecords().stream()
                .filter(RequestRecord::succeeded).mapToDouble(q -> q.ttftSeconds() * 1000).toArray())).toList();
        List<Chart.Series> usage = results.stream().map(r -> new Chart.Series(r.strategy(),
                r.samples().stream().mapToDouble(KvSample::seconds).toArray(),
                r.samples().stream().mapToDouble(s -> s.kvUsage() * 100).toArray())).toList();
        return List.of(
                new NamedChart("ttft-cdf.png", new Chart.LineChart("Time to first token (CDF)",
                        "time to first token (ms)", "fraction of requests", 1, cdfs)),
                new NamedChart("throughput.png", new Chart.BarChart("Throughput", "tokens per second",
                        List.of("output tokens", "prompt + output tokens"), names, values(results,
                                StrategyResult::outputThroughput, StrategyResult::totalTokenThroughput))),
                new NamedChart("latency-p95.png", new Chart.BarChart("p95 latencies", "milliseconds",
                        List.of("TTFT", "TPOT", "ITL", "E2E"), names, values(results, r -> r.ttftMs().p95(),
                                r -> r.tpotMs().p95(), r -> r.itlMs().p95(), r -> r.e2eMs().p95()))),
                new NamedChart("kv-usage.png", new Chart.LineChart("KV cache usage over time",
                        "seconds since the run's start", "KV blocks in use (%)", 100, usage)));
    }

    /** @return the empirical CDF as a step line: each value raises the fraction by 1/n */
    static Chart.Series cdf(String name, double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        double[] xs = new double[2 * sorted.length];
        double[] ys = new double[2 * sorted.length];
        for (int i = 0; i < sorted.length; i++) {
            xs[2 * i] = sorted[i];
            ys[2 * i] = (double) i / sorted.length;
            xs[2 * i + 1] = sorted[i];
            ys[2 * i + 1] = (double) (i + 1) / sorted.length;
        }
        return new Chart.Series(name, xs, ys);
    }

    @SafeVarargs
    private static double[][] values(List<StrategyResult> results, ToDoubleFunction<StrategyResult>... metrics) {
        return results.stream().map(r -> Arrays.stream(metrics).mapToDouble(m -> m.applyAsDouble(r)).toArray())
                .toArray(double[][]::new);
    }
}
