package io.gantry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gantry.cli.FakeOpenAiServer.Behaviour;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code gantry bench serve} against a server in the test whose timing and failures are known. */
class BenchServeCommandTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path folder;

    private Cli.Run bench(FakeOpenAiServer server, String... args) {
        return Cli.run(Stream.concat(Stream.of("bench", "serve", "--url", server.url()), Stream.of(args))
                .toArray(String[]::new));
    }

    private JsonNode results() throws IOException {
        return JSON.readTree(folder.resolve("run.json").toFile());
    }

    private static void assertBetween(double low, double high, double actual, String what) {
        assertTrue(actual >= low && actual <= high, what + " = " + actual + ", expected in [" + low + ", " + high + "]");
    }

    @Test
    void measuresTheStreamsOfAClosedLoop() throws Exception {
        try (FakeOpenAiServer server = new FakeOpenAiServer(60, 15, n -> Behaviour.STREAM)) {
            Cli.Run run = bench(server, "--model", "m", "--concurrency", "4", "--requests", "8", "--prompt-words", "8",
                    "--max-tokens", "5", "--ignore-eos", "--api-key", "sesame", "--output-json",
                    folder.resolve("run.json").toString());
            assertEquals(0, run.exitCode(), run.toString());

            JsonNode results = results().path("results");
            assertEquals(8, results.path("completed").asInt());
            assertEquals(0, results.path("failed").asInt());
            assertEquals(40, results.path("total_output_tokens").asInt());
            assertEquals("usage", results.path("output_tokens_counted_from").asText());
            assertEquals(8 * 9, results.path("total_input_tokens").asInt(), "the server counts words + BOS");
            // Two waves of four requests, each at least 60 ms to its first token and 4 x 15 ms more: the lower
            // bounds are certain, the upper ones leave room for a loaded machine.
            double duration = results.path("duration").asDouble();
            assertBetween(0.24, 5.0, duration, "duration");
            assertEquals(8 / duration, results.path("request_throughput").asDouble(), 1e-9);
            assertEquals(40 / duration, results.path("output_throughput").asDouble(), 1e-9);
            assertEquals((40 + 72) / duration, results.path("total_token_throughput").asDouble(), 1e-9);
            assertBetween(60, 600, results.path("median_ttft_ms").asDouble(), "median TTFT");
            assertBetween(60, 2000, results.path("p99_ttft_ms").asDouble(), "p99 TTFT");
            assertBetween(10, 200, results.path("mean_tpot_ms").asDouble(), "mean TPOT");
            assertBetween(10, 200, results.path("mean_itl_ms").asDouble(), "mean ITL");
            assertBetween(120, 1200, results.path("median_e2el_ms").asDouble(), "median E2E");

            JsonNode requests = results().path("requests");
            assertEquals(8, requests.size());
            assertEquals(4, mostAtOnce(requests), "closed loop at concurrency 4");
            for (JsonNode request : requests) {
                double ttft = request.path("ttft_ms").asDouble();
                double e2e = request.path("e2el_ms").asDouble();
                double itlSum = 0;
                for (JsonNode gap : request.path("itl_ms")) {
                    itlSum += gap.asDouble();
                }
                assertEquals(4, request.path("itl_ms").size(), request.toString());
                assertEquals(e2e - ttft, itlSum, 1e-6, "the gaps add up to the time after the first token");
                assertEquals((e2e - ttft) / 4, request.path("tpot_ms").asDouble(), 1e-6);
                assertTrue(e2e >= 60 + 4 * 15 - 1, request.toString());
            }

            WordPrompts prompts = new WordPrompts(8, 1);
            List<String> expected = IntStream.range(0, 8).mapToObj(i -> prompts.get()).sorted().toList();
            List<String> sent = server.bodies.stream().map(body -> body.path("prompt").asText()).sorted().toList();
            assertEquals(expected, sent, "the seeded prompts, each once");
            JsonNode body = server.bodies.getFirst();
            assertEquals("m", body.path("model").asText());
            assertEquals(5, body.path("max_tokens").asInt());
            assertTrue(body.path("stream").asBoolean() && body.path("ignore_eos").asBoolean(), body.toString());
            assertTrue(body.path("stream_options").path("include_usage").asBoolean(), body.toString());
            assertEquals(0.0, body.path("temperature").asDouble());
            assertTrue(server.authorizations.stream().allMatch("Bearer sesame"::equals), server.authorizations.toString());

            assertTrue(run.out().startsWith("============ Serving Benchmark Result ============"), run.out());
            for (String row : List.of("Successful requests:                     8",
                    "Failed requests:                         0", "Maximum request concurrency:             4",
                    "Total generated tokens:                  40", "Generated tokens counted from:           server usage",
                    "---------------Time to First Token----------------", "P95 TTFT (ms):", "Median TPOT (ms):",
                    "P99 ITL (ms):", "Mean E2E (ms):")) {
                assertTrue(run.out().contains(row), row + " in:\n" + run.out());
            }
        }
    }

    /** @return the most requests whose spans, from sending to the last token, overlap */
    private static int mostAtOnce(JsonNode requests) {
        List<double[]> events = new ArrayList<>();
        for (JsonNode request : requests) {
            double start = request.path("start").asDouble() * 1e3;
            events.add(new double[] {start, 1});
            events.add(new double[] {start + request.path("e2el_ms").asDouble(), -1});
        }
        events.sort((a, b) -> a[0] != b[0] ? Double.compare(a[0], b[0]) : Double.compare(a[1], b[1]));
        int now = 0;
        int most = 0;
        for (double[] event : events) {
            now += (int) event[1];
            most = Math.max(most, now);
        }
        return most;
    }

    @Test
    void chatCountsChunksWithoutUsageAndFindsTheModel() throws Exception {
        try (FakeOpenAiServer server = new FakeOpenAiServer(50, 5, n -> Behaviour.STREAM)) {
            Cli.Run run = bench(server, "--endpoint", "chat", "--concurrency", "2", "--requests", "3", "--max-tokens",
                    "3", "--no-include-usage", "--warmup", "2", "--output-json", folder.resolve("run.json").toString());
            assertEquals(0, run.exitCode(), run.toString());
            JsonNode results = results().path("results");
            assertEquals(3, results.path("completed").asInt());
            assertEquals("chunks", results.path("output_tokens_counted_from").asText());
            assertTrue(results.path("total_input_tokens").isNull(), results.toString());
            assertTrue(results.path("total_token_throughput").isNull(), results.toString());
            assertEquals(9, results.path("total_output_tokens").asInt());
            assertTrue(results.path("mean_ttft_ms").asDouble() >= 50, "the role chunk is not the first token");
            assertTrue(run.out().contains("Total input tokens:                      - (not reported by the server)"),
                    run.out());
            assertTrue(run.out().contains("text chunks (one token each)"), run.out());
            assertTrue(run.err().contains("warm-up: 2 of 2 requests succeeded"), run.err());

            assertEquals(5, server.bodies.size(), "2 warm-up requests and 3 measured");
            for (JsonNode body : server.bodies) {
                assertEquals("fake-model", body.path("model").asText(), "from GET /v1/models");
                assertEquals("user", body.path("messages").path(0).path("role").asText());
                assertFalse(body.has("stream_options") || body.has("ignore_eos"), body.toString());
            }
            List<String> warmUp = server.bodies.subList(0, 2).stream()
                    .map(body -> body.path("messages").path(0).path("content").asText()).toList();
            assertTrue(warmUp.stream().noneMatch(new WordPrompts(64, 1).get()::equals),
                    "warm-up prompts are not the run's");
        }
    }

    @Test
    void countsEachKindOfFailure() throws Exception {
        List<Behaviour> script = List.of(Behaviour.STREAM, Behaviour.HTTP_500, Behaviour.MALFORMED_CHUNK,
                Behaviour.CONNECTION_DROP, Behaviour.ERROR_EVENT, Behaviour.NOT_A_STREAM, Behaviour.STREAM);
        try (FakeOpenAiServer server = new FakeOpenAiServer(1, 1, script::get)) {
            Cli.Run run = bench(server, "--model", "m", "--concurrency", "1", "--requests", "7", "--max-tokens", "4",
                    "--output-json", folder.resolve("run.json").toString());
            assertEquals(0, run.exitCode(), "some requests succeeded: " + run);
            JsonNode results = results().path("results");
            assertEquals(2, results.path("completed").asInt());
            assertEquals(5, results.path("failed").asInt());
            assertEquals(8, results.path("total_output_tokens").asInt(), "failed requests' tokens do not count");

            List<String> errors = new ArrayList<>();
            results().path("requests").forEach(request -> errors.add(request.path("error").asText("ok")));
            assertEquals("ok", errors.get(0));
            assertTrue(errors.get(1).startsWith("HTTP 500: {\"error\":{\"message\":\"the model fell over\""), errors.get(1));
            assertTrue(errors.get(2).startsWith("malformed chunk after 2 chunks of text: {\"choices\""), errors.get(2));
            assertTrue(errors.get(3).startsWith("stream broken after 2 chunks of text: "), errors.get(3));
            assertEquals("error in the stream after 2 chunks of text: out of memory", errors.get(4));
            assertEquals("no generated text in the response (Content-Type: application/json)", errors.get(5));
            assertEquals("ok", errors.get(6));
            assertEquals(500, results().path("requests").path(1).path("http_status").asInt());
            assertTrue(run.err().contains("5 of 7 requests failed:"), run.err());
            assertTrue(run.out().contains("Failed requests:                         5"), run.out());
        }
    }

    @Test
    void failsWhenNoRequestSucceeds() throws Exception {
        try (FakeOpenAiServer server = new FakeOpenAiServer(1, 1, n -> n == 0 ? Behaviour.STALL : Behaviour.HTTP_500)) {
            Cli.Run run = bench(server, "--model", "m", "--concurrency", "2", "--requests", "3", "--timeout", "0.3");
            assertEquals(1, run.exitCode(), run.toString());
            assertTrue(run.err().contains("1 x timed out after 0.3 s with 0 chunks of text"), run.err());
            assertTrue(run.err().contains("2 x HTTP 500"), run.err());
            // Which failure comes first depends on timing; that every request failed does not.
            assertTrue(run.err().contains("gantry bench serve: every request failed, the first: "), run.err());
            assertTrue(run.out().contains("Successful requests:                     0"), run.out());
        }
    }

    @Test
    void refusesBadOptionsAndUnreachableServers() {
        Cli.Run missingUrl = Cli.run("bench", "serve");
        assertEquals(2, missingUrl.exitCode());
        assertTrue(missingUrl.err().contains("Missing required option: '--url=URL'"), missingUrl.err());

        Cli.Run badUrl = Cli.run("bench", "serve", "--url", "ftp://host/");
        assertEquals(2, badUrl.exitCode());
        assertTrue(badUrl.err().contains("--url must be an http or https URL"), badUrl.err());

        Cli.Run badNumbers = Cli.run("bench", "serve", "--url", "http://localhost:1", "--concurrency", "0",
                "--request-rate", "-2", "--seed", "-1");
        assertEquals(2, badNumbers.exitCode());
        assertTrue(badNumbers.err().contains("--concurrency must be at least 1, got 0; --request-rate must be a "
                + "positive number of requests per second, got -2.0; --seed must be at least 0, got -1"),
                badNumbers.err());

        Cli.Run badEndpoint = Cli.run("bench", "serve", "--url", "http://localhost:1", "--endpoint", "embeddings");
        assertEquals(2, badEndpoint.exitCode());
        assertTrue(badEndpoint.err().contains("expected one of [COMPLETIONS, CHAT]"), badEndpoint.err());

        // Port 1 on the loopback: nothing listens there.
        Cli.Run unreachable = Cli.run("bench", "serve", "--url", "http://127.0.0.1:1", "--requests", "1");
        assertEquals(1, unreachable.exitCode());
        assertTrue(unreachable.err().contains("gantry bench serve: could not ask http://127.0.0.1:1/v1/models for its "
                + "models (pass --model to skip this): ConnectException"), unreachable.err());
    }

    @Test
    void acceptsTheBaseUrlWithOrWithoutV1() {
        assertEquals("http://h:8080", ServingClient.baseUrl("http://h:8080").toString());
        assertEquals("http://h:8080", ServingClient.baseUrl("http://h:8080/").toString());
        assertEquals("https://h/proxy", ServingClient.baseUrl("https://h/proxy/v1/").toString());
    }
}
