package io.gantry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code gantry bench compare} end to end on stories260K. */
class BenchCompareCommandTest {

    @TempDir
    Path folder;

    @Test
    void comparesTwoStrategiesOnOneWorkloadAndWritesTheReport() throws Exception {
        Path model = Cli.sharedModel("stories260K.gguf");
        Path out = folder.resolve("report");
        Cli.Run run = Cli.run("bench", "compare", "--model", model.toString(), "--strategies", "continuous,static",
                "--requests", "20", "--concurrency", "4", "--prompt-tokens", "uniform:8-24", "--max-tokens", "12",
                "--shared-prefix-tokens", "16", "--threads", "2", "--output", out.toString());
        assertEquals(0, run.exitCode(), run.toString());
        assertTrue(run.out().startsWith("| metric | continuous | static |"), run.out());
        assertTrue(run.out().contains("| completed / failed requests | 20 / 0 | 20 / 0 |"), run.out());
        assertTrue(run.err().contains("warming up"), run.err());
        for (String name : List.of("report.md", "report.json", "report.html", "ttft-cdf.png", "kv-usage.png")) {
            assertTrue(Files.size(out.resolve(name)) > 0, name);
        }

        JsonNode json = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        List<List<Integer>> promptLengths = new ArrayList<>();
        for (JsonNode result : json.get("results")) {
            assertTrue(result.get("error").isNull(), result.toString());
            assertEquals(20 * 12, result.get("output_tokens").asInt(), "EOS ignored: every output is max_tokens long");
            assertTrue(result.get("ttft_ms").get("p50").asDouble() > 0);
            assertEquals(20 * 11, result.get("itl_ms").get("count").asInt());
            // KV usage is sampled every 50 ms; this run can be shorter than that, so only its range is checked.
            double peak = result.get("kv_usage_peak_percent").asDouble();
            assertTrue(peak >= 0 && peak <= 100, "KV usage peak " + peak);
            assertTrue(result.get("prefix_cache_hit_rate").asDouble() > 0, "the shared prefix is found in the cache");
            assertTrue(maxInFlight(result.get("request_records")) <= 4, "a closed loop of 4 clients");
            List<Integer> lengths = new ArrayList<>();
            result.get("request_records").forEach(r -> lengths.add(r.get("prompt_tokens").asInt()));
            promptLengths.add(lengths);
        }
        assertEquals(promptLengths.get(0), promptLengths.get(1), "both strategies ran the same workload");
        assertTrue(promptLengths.get(0).stream().allMatch(n -> n >= 16 + 8 && n <= 16 + 24));
    }

    /** @return the most requests that were between submission and end at the same moment */
    private static int maxInFlight(JsonNode records) {
        int most = 0;
        for (JsonNode record : records) {
            double at = record.get("sent_seconds").asDouble();
            int inFlight = 0;
            for (JsonNode other : records) {
                double sent = other.get("sent_seconds").asDouble();
                if (sent <= at && at < sent + other.get("e2e_seconds").asDouble()) {
                    inFlight++;
                }
            }
            most = Math.max(most, inFlight);
        }
        return most;
    }

    @Test
    void aStrategyWhoseStepsFailIsStoppedAndReported() throws Exception {
        Path model = Cli.sharedModel("stories260K.gguf");
        Path out = folder.resolve("failed");
        // 3 MiB hold 2457 F32 KV slots of stories260K, enough for its 2048-token context, but not one block of 4096
        // tokens: the paged allocator cannot attach, so every step fails.
        Cli.Run run = Cli.run("bench", "compare", "--model", model.toString(), "--strategies", "static+paged",
                "--requests", "4", "--kv-cache-mb", "3", "--kv-cache-type", "f32", "--block-size", "4096", "--threads", "2", "--output",
                out.toString());
        assertEquals(1, run.exitCode(), run.toString());
        assertTrue(run.err().contains("static+paged was stopped: an engine step failed: A KV pool of"), run.err());
        assertTrue(run.out().contains("| completed / failed requests | 0 / 4 |"), run.out());
        assertTrue(Files.readString(out.resolve("report.md")).contains("**Stopped**: static+paged"));
    }

    @Test
    void aKvCacheTooSmallForOneSequenceIsRefusedWithWhatToChange() {
        Path model = Cli.sharedModel("stories260K.gguf");
        Cli.Run run = Cli.run("bench", "compare", "--model", model.toString(), "--strategies", "continuous",
                "--requests", "4", "--kv-cache-mb", "2", "--kv-cache-type", "f32", "--threads", "2", "--output",
                folder.resolve("small").toString());
        assertEquals(1, run.exitCode(), run.toString());
        assertTrue(run.err().contains("raise kvCacheMb to at least 3"), run.err());
    }

    @Test
    void badOptionsAreUsageErrors() {
        assertUsageError("unknown scheduler 'fifo' (choose from continuous, static, priority)", "--strategies",
                "continuous,fifo");
        assertUsageError("'eighty' is not a length", "--prompt-tokens", "eighty");
        assertUsageError("--request-rate must be a number of requests per second or inf, got 'fast'",
                "--request-rate", "fast");
        assertUsageError("--concurrency must be at least 1, got 0", "--concurrency", "0");
        assertUsageError("--max-num-batched-tokens must be at least --max-num-seqs (16), got 8",
                "--max-num-batched-tokens", "8");
        assertUsageError("'high' is not a priority list", "--priorities", "high");
    }

    private static void assertUsageError(String message, String... options) {
        List<String> args = new ArrayList<>(List.of("bench", "compare", "--model", "m.gguf"));
        args.addAll(List.of(options));
        Cli.Run run = Cli.run(args.toArray(String[]::new));
        assertEquals(2, run.exitCode(), run.toString());
        assertTrue(run.err().contains(message), "expected '" + message + "' in: " + run.err());
        assertEquals("", run.out());
    }
}
