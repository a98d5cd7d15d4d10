package io.gantry.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * {@code gantry bench serve}: a serving benchmark client for any OpenAI-compatible server. It sends streaming
 * requests in a closed loop (a fixed number in flight) or an open loop (Poisson arrivals), times every chunk of
 * generated text, and prints a table of TTFT, TPOT, ITL and end-to-end latency with the throughputs, by the
 * metric definitions of vLLM's serving benchmark. Prompts are the ones the project's reference load generator
 * sends for the same seed and length.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = {
            "Benchmarks an OpenAI-compatible server with streaming requests and prints TTFT (time to first token), "
                + "TPOT (time per output token after the first), ITL (inter-token latency, all gaps pooled), "
                + "end-to-end latency and throughput, over the successful requests.",
            "Closed loop by default (--concurrency requests in flight); --request-rate makes it an open loop with "
                + "Poisson arrivals."})
final class BenchServeCommand implements Callable<Integer> {

    /** Distinct failure messages listed after a run; the rest are counted. */
    private static final int FAILURES_LISTED = 5;
    /** Requests in flight of a closed loop without --concurrency. */
    private static final int DEFAULT_CONCURRENCY = 8;
    /** Requests of a run without --requests or --duration. */
    private static final int DEFAULT_REQUESTS = 32;

    @Spec
    private CommandSpec spec;

    @Option(names = "--url", required = true, paramLabel = "URL",
            description = "The server's base URL, e.g. http://localhost:8080 (the endpoint's /v1/... path is added).")
    private String url;

    @Option(names = "--model", paramLabel = "NAME",
            description = "The model field of the requests (default: the first model GET /v1/models lists).")
    private String model;

    @Option(names = "--endpoint", paramLabel = "ENDPOINT", defaultValue = "completions",
            description = "completions (/v1/completions) or chat (/v1/chat/completions); both stream "
                    + "(default: ${DEFAULT-VALUE}).")
    private ServingClient.Endpoint endpoint;

    @Option(names = "--concurrency", paramLabel = "C",
            description = "The most requests in flight: a closed loop, or a cap on an open loop (default: 8 without "
                    + "--request-rate, no cap with it).")
    private Integer concurrency;

    @Option(names = "--request-rate", paramLabel = "R",
            description = "Open loop: requests arrive as a Poisson process of R per second, seeded by --seed.")
    private Double requestRate;

    @Option(names = "--requests", paramLabel = "N",
            description = "Requests to send (default: 32, or no limit with --duration).")
    private Integer requests;

    @Option(names = "--duration", paramLabel = "SECONDS",
            description = "Send no request after this many seconds; the run ends when those in flight have finished.")
    private Double duration;

    @Option(names = "--prompt-words", paramLabel = "W", defaultValue = "64",
            description = "Words in each prompt, drawn at random from a fixed story vocabulary, seeded by --seed "
                    + "(default: ${DEFAULT-VALUE}).")
    private int promptWords;

    @Option(names = "--max-tokens", paramLabel = "T", defaultValue = "64",
            description = "The max_tokens field (default: ${DEFAULT-VALUE}).")
    private int maxTokens;

    @Option(names = "--ignore-eos",
            description = "Send \"ignore_eos\": true, so that every request generates --max-tokens tokens.")
    private boolean ignoreEos;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0",
            description = "The temperature field (default: ${DEFAULT-VALUE}).")
    private double temperature;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1",
            description = "Seed of the prompts and of the arrival times (default: ${DEFAULT-VALUE}).")
    private long seed;

    @Option(names = "--api-key", paramLabel = "KEY", description = "Sent as Authorization: Bearer KEY.")
    private String apiKey;

    @Option(names = "--output-json", paramLabel = "FILE",
            description = "Also write the settings, the results and every request's record to FILE as JSON.")
    private Path outputJson;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "0",
            description = "Requests sent before the run and not counted, at the run's concurrency, with other "
                    + "prompts (default: ${DEFAULT-VALUE}).")
    private int warmup;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "600",
            description = "The longest one request may take, to the end of its stream (default: ${DEFAULT-VALUE}).")
    private double timeout;

    @Option(names = "--include-usage", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Ask for token counts in the stream (stream_options.include_usage), to count output tokens "
                    + "by the server's tokens rather than by text chunks; --no-include-usage for servers that "
                    + "refuse the field (default: on).")
    private boolean includeUsage;

    @Override
    public Integer call() throws IOException, InterruptedException {
        checkOptions();
        URI base;
        try {
            base = ServingClient.baseUrl(url);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Integer inFlight = concurrency == null && requestRate == null ? Integer.valueOf(DEFAULT_CONCURRENCY)
                : concurrency;
        ServingLoad load = new ServingLoad(requests != null ? requests
                : duration != null ? Integer.MAX_VALUE : DEFAULT_REQUESTS, duration, inFlight, requestRate, seed);
        try (ServingClient client = new ServingClient(base, apiKey, Duration.ofNanos((long) (timeout * 1e9)), json)) {
            String modelName = model != null ? model : client.firstModel();
            ServingClient.RequestShape shape = new ServingClient.RequestShape(endpoint, modelName, maxTokens,
                    temperature, ignoreEos, includeUsage);
            ServingLoad.Sender sender = (index, prompt, runStart) -> client.send(shape, index, prompt, runStart);
            err.println("gantry: " + describe(base, shape, load));
            err.flush();
            if (warmup > 0) {
                List<RequestRecord> warmed = new ServingLoad(warmup, null, inFlight != null ? inFlight : warmup, null,
                        seed).run(new WordPrompts(promptWords, warmupSeed()), sender).records();
                long succeeded = warmed.stream().filter(RequestRecord::ok).count();
                err.println("gantry: warm-up: " + succeeded + " of " + warmup + " requests succeeded");
                err.flush();
                if (succeeded == 0) {
                    err.println("gantry bench serve: every warm-up request failed, the first: " + warmed.getFirst().error());
                    return Main.FAILED;
                }
            }
            ServingLoad.Result result = load.run(new WordPrompts(promptWords, seed), sender);
            ServingSummary summary = ServingSummary.of(result.records(), result.duration());
            summary.print(out, List.of(
                    new String[] {"Maximum request concurrency:", inFlight == null ? "no limit" : inFlight.toString()},
                    new String[] {"Request rate (req/s):", requestRate == null ? "- (closed loop)"
                            : String.format(Locale.ROOT, "%.2f (Poisson arrivals)", requestRate)}));
            reportFailures(err, result.records());
            if (outputJson != null) {
                writeJson(json, base, shape, load, summary, result.records());
                err.println("gantry: wrote " + outputJson);
                err.flush();
            }
            if (summary.completed() == 0) {
                err.println("gantry bench serve: every request failed, the first: "
                        + result.records().getFirst().error());
                err.flush();
                return Main.FAILED;
            }
            return 0;
        }
    }

    private void checkOptions() {
        List<String> problems = new ArrayList<>();
        if (concurrency != null && concurrency < 1) {
            problems.add("--concurrency must be at least 1, got " + concurrency);
        }
        if (requestRate != null && !(requestRate > 0 && Double.isFinite(requestRate))) {
            problems.add("--request-rate must be a positive number of requests per second, got " + requestRate);
        }
        if (requests != null && requests < 1) {
            problems.add("--requests must be at least 1, got " + requests);
        }
        if (duration != null && !(duration > 0 && Double.isFinite(duration))) {
            problems.add("--duration must be a positive number of seconds, got " + duration);
        }
        if (promptWords < 1 || maxTokens < 1) {
            problems.add("--prompt-words and --max-tokens must be at least 1, got " + promptWords + " and "
                    + maxTokens);
        }
        if (warmup < 0) {
            problems.add("--warmup must be at least 0, got " + warmup);
        }
        if (!(timeout > 0 && timeout <= Duration.ofDays(1).toSeconds())) {
            problems.add("--timeout must be more than 0 and at most a day of seconds, got " + timeout);
        }
        if (!(temperature >= 0 && Double.isFinite(temperature))) {
            problems.add("--temperature must be at least 0, got " + temperature);
        }
        if (seed < 0) {
            problems.add("--seed must be at least 0, got " + seed);
        }
        if (!problems.isEmpty()) {
            throw new ParameterException(spec.commandLine(), String.join("; ", problems));
        }
    }

    /** @return the seed of the warm-up prompts: another than the run's, so the run's prompts are not cached */
    private long warmupSeed() {
        return seed == Long.MAX_VALUE ? 0 : seed + 1;
    }

    private String describe(URI base, ServingClient.RequestShape shape, ServingLoad load) {
        String count = requests != null || duration == null ? load.requests() + " requests" : "requests";
        String limit = duration == null ? "" : String.format(Locale.ROOT, " for %.1f s", duration);
        String traffic = requestRate == null ? "closed loop at concurrency " + load.concurrency()
                : String.format(Locale.ROOT, "Poisson arrivals at %.2f req/s", requestRate)
                        + (load.concurrency() == null ? "" : ", at most " + load.concurrency() + " in flight");
        return count + limit + " to " + base + endpoint.path() + " (model " + shape.model() + "), " + traffic
                + "; prompts of " + promptWords + " random words (seed " + seed + "), max_tokens " + maxTokens
                + (ignoreEos ? ", ignore_eos" : "") + (warmup > 0 ? "; " + warmup + " warm-up requests first" : "");
    }

    /** Lists the failures by message, the most frequent first. */
    private static void reportFailures(PrintWriter err, List<RequestRecord> records) {
        Map<String, Long> failures = records.stream().filter(r -> !r.ok())
                .collect(Collectors.groupingBy(RequestRecord::error, LinkedHashMap::new, Collectors.counting()));
        if (failures.isEmpty()) {
            return;
        }
        long failed = failures.values().stream().mapToLong(Long::longValue).sum();
        err.println("gantry: " + failed + " of " + records.size() + " requests failed:");
        List<Map.Entry<String, Long>> byCount = failures.entrySet().stream()
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed()).toList();
        byCount.stream().limit(FAILURES_LISTED).forEach(f -> err.println("  " + f.getValue() + " x " + f.getKey()));
        if (byCount.size() > FAILURES_LISTED) {
            err.println("  and " + (byCount.size() - FAILURES_LISTED) + " other messages");
        }
        err.flush();
    }

    private void writeJson(ObjectMapper json, URI base, ServingClient.RequestShape shape, ServingLoad load,
                           ServingSummary summary, List<RequestRecord> records) throws IOException {
        ObjectNode root = json.createObjectNode();
        ObjectNode settings = root.putObject("settings");
        settings.put("date", Instant.now().toString());
        settings.put("gantry_version", new Main.Version().getVersion()[0]);
        settings.put("url", base + endpoint.path());
        settings.put("endpoint", endpoint.name().toLowerCase(Locale.ROOT));
        settings.put("model", shape.model());
        settings.put("max_concurrency", load.concurrency());
        ServingSummary.putNumber(settings, "request_rate", requestRate == null ? Double.NaN : requestRate);
        settings.put("requests", requests != null || duration == null ? load.requests() : null);
        ServingSummary.putNumber(settings, "duration_limit", duration == null ? Double.NaN : duration);
        settings.put("prompt_words", promptWords);
        settings.put("max_tokens", maxTokens);
        settings.put("ignore_eos", ignoreEos);
        settings.put("temperature", temperature);
        settings.put("include_usage", includeUsage);
        settings.put("seed", seed);
        settings.put("warmup", warmup);
        summary.writeTo(root.putObject("results"));
        ArrayNode list = root.putArray("requests");
        for (RequestRecord record : records) {
            ObjectNode request = list.addObject();
            request.put("index", record.index());
            request.put("start", record.start());
            request.put("ok", record.ok());
            request.put("error", record.error());
            request.put("http_status", record.httpStatus());
            request.put("input_tokens", record.inputTokens() < 0 ? null : record.inputTokens());
            request.put("output_tokens", record.ok() ? record.outputTokens() : null);
            request.put("output_tokens_counted_from",
                    record.ok() ? record.tokensFrom().name().toLowerCase(Locale.ROOT) : null);
            request.put("chunks", record.chunks());
            ServingSummary.putNumber(request, "ttft_ms", record.ttft() * 1e3);
            ServingSummary.putNumber(request, "tpot_ms", record.tpot() * 1e3);
            ServingSummary.putNumber(request, "e2el_ms", record.e2e() * 1e3);
            ArrayNode itl = request.putArray("itl_ms");
            for (double gap : record.itl()) {
                itl.add(gap * 1e3);
            }
        }
        json.writeValue(outputJson.toFile(), root);
    }
}
