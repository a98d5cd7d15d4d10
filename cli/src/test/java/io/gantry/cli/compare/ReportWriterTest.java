package io.gantry.cli.compare;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gantry.api.backend.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The summary of a run and the report files, from made-up measurements. */
class ReportWriterTest {

    private static final double CLOSE = 1e-9;

    @TempDir
    Path folder;

    /** Four requests of 10 prompt and 5 output tokens: TTFT 100, 200, 300, 400 ms, then a token every 10 ms. */
    private static WorkloadRunner.Recording fourRequests(boolean lastFails) {
        List<RequestRecord> records = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            double ttft = 0.1 * (i + 1);
            boolean fails = lastFails && i == 3;
            records.add(new RequestRecord(i, 0, 10, 4, fails ? 0 : 5, 0.0, fails ? Double.NaN : ttft,
                    fails ? Double.NaN : 0.01, fails ? Double.NaN : ttft + 0.04,
                    fails ? new double[0] : new double[] {0.01, 0.01, 0.01, 0.01}, fails ? "timeout" : "length", null));
        }
        List<KvSample> samples = List.of(new KvSample(0, 0, 0, 4), new KvSample(0.5, 0.5, 4, 0),
                new KvSample(1.0, 0.25, 2, 0), new KvSample(2.0, 0, 0, 0));
        return new WorkloadRunner.Recording(records, 2.0, samples,
                new WorkloadRunner.Counters(3, 40, 16, 0.2, 4), null);
    }

    private static ComparisonReport report() {
        WorkloadSpec workload = new WorkloadSpec(4, Double.POSITIVE_INFINITY, 2, LengthDistribution.parse("10"),
                LengthDistribution.parse("5"), 0, true, PriorityPattern.NONE, 1);
        return new ComparisonReport("test", "2026-01-01T00:00:00Z", new ComparisonReport.Model("m.gguf", "m", "llama",
                1000, 256, 512), "cpu", new EngineSettings(16, 512, 64, TensorType.F16, 16, 2, 60), workload, "none",
                ComparisonReport.Machine.current(), List.of(
                        StrategyResult.of(Strategy.parse("continuous"), fourRequests(false)),
                        StrategyResult.of(Strategy.parse("static+contiguous"), fourRequests(true))));
    }

    @Test
    void summarisesARunWithTheServingBenchmarkDefinitions() {
        StrategyResult all = report().results().get(0);
        assertEquals(4, all.completed());
        assertEquals(0, all.failed());
        assertEquals(2.0, all.requestThroughput(), CLOSE);
        assertEquals(10.0, all.outputThroughput(), CLOSE, "20 output tokens in 2 s");
        assertEquals(30.0, all.totalTokenThroughput(), CLOSE);
        assertEquals(250, all.ttftMs().mean(), CLOSE);
        assertEquals(250, all.ttftMs().p50(), CLOSE);
        assertEquals(10, all.tpotMs().mean(), CLOSE);
        assertEquals(16, all.itlMs().count(), "every gap of every request");
        assertEquals(290, all.e2eMs().p50(), CLOSE);
        assertEquals(50, all.meanQueueTimeMs(), CLOSE, "0.2 s over 4 admissions");
        assertEquals(50, all.kvUsagePeakPercent(), CLOSE);
        assertEquals(18.75, all.kvUsageMeanPercent(), CLOSE);
        assertEquals(3, all.preemptions());
        assertEquals(0.4, all.prefixCacheHitRate(), CLOSE);
        assertNull(all.error());

        StrategyResult oneFailed = report().results().get(1);
        assertEquals(3, oneFailed.completed());
        assertEquals(1, oneFailed.failed());
        assertEquals(7.5, oneFailed.outputThroughput(), CLOSE, "failed requests' tokens do not count");
        assertEquals(200, oneFailed.ttftMs().p50(), CLOSE, "nor their latencies");
        assertEquals("contiguous", oneFailed.allocator());
    }

    @Test
    void writesTheTableTheDataAndTheCharts() throws Exception {
        ComparisonReport report = report();
        Path out = folder.resolve("new/report");
        List<String> warnings = new ArrayList<>();
        List<Path> written = ReportWriter.write(report, out, warnings::add);
        assertEquals(List.of(), warnings);
        for (String name : List.of("report.json", "report.md", "report.html", "ttft-cdf.png", "throughput.png",
                "latency-p95.png", "kv-usage.png")) {
            assertTrue(written.contains(out.resolve(name)), name);
            assertTrue(Files.size(out.resolve(name)) > 0, name);
        }

        String markdown = Files.readString(out.resolve("report.md"));
        assertTrue(markdown.contains("| metric | continuous | static+contiguous |\n| --- | ---: | ---: |\n"), markdown);
        assertTrue(markdown.contains("| output throughput (tok/s) | 10.00 | 7.50 |"), markdown);
        assertTrue(markdown.contains("| TTFT p95 (ms) | 385.00 | 290.00 |"), markdown);
        assertTrue(markdown.contains("| completed / failed requests | 4 / 0 | 3 / 1 |"), markdown);
        assertTrue(markdown.contains("**Warm-up**: none"), markdown);

        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.startsWith("<!DOCTYPE html>"));
        assertTrue(html.contains("<table>") && html.contains("<th>static+contiguous</th>"), html);
        assertTrue(html.contains("<tr><th scope=\"row\">output throughput (tok/s)</th><td>10.00</td><td>7.50</td></tr>"),
                html);
        assertEquals(4, html.split("<svg ", -1).length - 1, "four inline charts");
        assertTrue(html.contains("<title>Time to first token (CDF)</title>"), html);
        assertFalse(html.contains("src=") || html.contains("href=") || html.contains("<script"),
                "self-contained: nothing loaded from elsewhere");

        JsonNode json = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        assertEquals("10", json.at("/workload/prompt_tokens").asText());
        assertEquals(10.0, json.at("/results/0/output_throughput").asDouble(), CLOSE);
        assertEquals(4, json.at("/results/1/request_records").size());
        assertEquals("timeout", json.at("/results/1/request_records/3/finish_reason").asText());
        assertEquals(4, json.at("/results/0/request_records/0/itl_seconds").size());
        assertEquals(4, json.at("/results/0/samples").size());

        BufferedImage png = ImageIO.read(out.resolve("throughput.png").toFile());
        assertEquals(1520, png.getWidth());
        assertEquals(800, png.getHeight());
    }

    @Test
    void theTtftCdfRisesByOneNthAtEachValue() {
        double[] xs = ReportWriter.cdf("s", new double[] {30, 10, 20}).xs();
        double[] ys = ReportWriter.cdf("s", new double[] {30, 10, 20}).ys();
        assertEquals(List.of(10.0, 10.0, 20.0, 20.0, 30.0, 30.0), Arrays.stream(xs).boxed().toList());
        assertEquals(0, ys[0], CLOSE);
        assertEquals(1 / 3.0, ys[1], CLOSE);
        assertEquals(1, ys[5], CLOSE);
    }
}
