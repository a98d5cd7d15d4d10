package io.gantry.cli;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.gantry.api.inference.Completion;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.ModelInfo;
import io.gantry.api.inference.Prompt;
import io.gantry.api.inference.SamplingParams;
import io.gantry.api.inference.TokenSink;
import io.gantry.backend.cpu.CpuBackend;
import io.gantry.cache.response.CaffeineResponseCache;
import io.gantry.cli.compare.EngineSettings;
import io.gantry.cli.compare.Strategy;
import io.gantry.engine.serving.DirectPlugins;
import io.gantry.engine.serving.Engine;
import io.gantry.engine.serving.ModelServer;
import io.gantry.engine.serving.Variant;
import io.gantry.transport.rest.EmbeddedRestServer;

import org.HdrHistogram.Histogram;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code gantry bench transport}: what the REST transport costs, measured in one process on one model. (a) HTTP
 * overhead: the same streaming requests, one at a time, through the REST API on loopback and submitted to the
 * engine's {@code InferenceService} directly, alternating; output tokens per second of each and their ratio.
 * (b) Response-cache hits: the latency of a repeated deterministic request answered from the cache, p50/p95/p99.
 * (c) Idle streams: the latency of normal requests while many event streams stay open whose clients read nothing.
 */
@Command(name = "transport", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        sortOptions = false, description = {
            "Measures the REST transport in this process on one model: (a) HTTP overhead, output tok/s of streaming "
                + "requests through the API vs. straight into the engine, one at a time; (b) response-cache hit "
                + "latency over HTTP (p50/p95/p99); (c) the latency of normal requests with and without "
                + "--idle-streams open event streams whose clients read nothing.",
            "An idle stream is a streaming request with no max_tokens at priority -1000 from a client that sends "
                + "it and then reads nothing: it holds a connection, a virtual thread and a place in the engine's "
                + "queue, and runs only when the engine has room that normal requests (priority 0, under the "
                + "priority scheduler) leave."})
final class BenchTransportCommand implements Callable<Integer> {

    /** Keeps the engine's logger (and its level) alive: JUL holds loggers weakly. */
    private static final Logger GANTRY_LOG = Logger.getLogger("io.gantry");
    private static final Logger JETTY_LOG = Logger.getLogger("org.eclipse.jetty");
    private static final Logger JAVALIN_LOG = Logger.getLogger("io.javalin");
    /** An idle stream's priority: far below the normal requests', so they do not catch up by ageing in a run. */
    static final int IDLE_PRIORITY = -1000;
    /**
     * Untimed requests before the measurements, each way, so that the JIT has compiled both paths: what it still
     * compiles during the timed requests takes its CPU time from the engine (a recording of a run warmed by 3
     * showed C2 busy for a tenth of a core's time).
     */
    private static final int WARM_UP_REQUESTS = 20;
    private static final Duration TIMEOUT = Duration.ofMinutes(10);

    @Spec
    private CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "FILE", description = "GGUF model file.")
    private Path modelPath;

    @Option(names = "--parts", paramLabel = "LIST", defaultValue = "overhead,cache,idle", split = ",",
            description = "What to measure: overhead, cache, idle (default: ${DEFAULT-VALUE}).")
    private List<String> parts;

    @Option(names = "--requests", paramLabel = "N", defaultValue = "8",
            description = "Overhead: streaming requests each way (default: ${DEFAULT-VALUE}).")
    private int requests;

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "64",
            description = "Tokens each request generates (ignore_eos; default: ${DEFAULT-VALUE}).")
    private int maxTokens;

    @Option(names = "--prompt-words", paramLabel = "W", defaultValue = "16",
            description = "Words in each prompt, drawn at random as bench serve draws them (default: "
                    + "${DEFAULT-VALUE}).")
    private int promptWords;

    @Option(names = "--cache-requests", paramLabel = "N", defaultValue = "2000",
            description = "Cache: timed repetitions of the cached request (default: ${DEFAULT-VALUE}).")
    private int cacheRequests;

    @Option(names = "--idle-streams", paramLabel = "N", defaultValue = "1000",
            description = "Idle: event streams kept open by clients that read nothing (default: ${DEFAULT-VALUE}).")
    private int idleStreams;

    @Option(names = "--probes", paramLabel = "N", defaultValue = "8",
            description = "Idle: normal requests timed without and then with the idle streams (default: "
                    + "${DEFAULT-VALUE}).")
    private int probes;

    @Option(names = "--strategy", paramLabel = "S", defaultValue = "priority+paged-no-prefix",
            description = "The engine's scheduler[+allocator]; the priority scheduler lets normal requests pass "
                    + "the idle streams, and no prefix cache keeps the overhead's two passes over the same prompts "
                    + "equal (default: ${DEFAULT-VALUE}).")
    private String strategy;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1",
            description = "Seed of the prompts (default: ${DEFAULT-VALUE}).")
    private long seed;

    @Mixin
    private EngineOptions engineOptions;

    @Override
    public Integer call() throws IOException, InterruptedException {
        checkOptions();
        EngineSettings settings = usage(engineOptions::settings);
        Strategy plugins = usage(() -> Strategy.parse(strategy));
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        // The server and engine log every start and stop; the progress lines say what matters here.
        GANTRY_LOG.setLevel(Level.WARNING);
        JETTY_LOG.setLevel(Level.WARNING);
        JAVALIN_LOG.setLevel(Level.WARNING);
        int queued = idleStreams + probes + requests + WARM_UP_REQUESTS + 16;
        try (CpuBackend backend = new CpuBackend(settings.threads(), true)) {
            Engine engine = new Engine(List.of(ModelServer.start(null, modelPath, Variant.DEFAULT,
                    new DirectPlugins(backend, plugins.allocator().create(settings.blockSize()),
                            plugins.scheduler().create(settings.maxNumSeqs())),
                    settings.limits(queued), new AtomicLong())));
            try (EmbeddedRestServer server = EmbeddedRestServer.start(Map.of("host", "127.0.0.1", "port", 0,
                    "maxConnections", idleStreams + 64, "idleTimeoutSeconds", (int) TIMEOUT.toSeconds()), engine,
                    new CaffeineResponseCache(10_000, 64L << 20, Duration.ofHours(1)))) {
                ModelInfo model = engine.models().getFirst();
                out.printf(Locale.ROOT, "gantry bench transport: %s (%s, %,d parameters) on %s; strategy %s, "
                        + "max-num-seqs %d, %d threads; prompts of %d words, %d tokens generated each%n",
                        model.id(), modelPath, model.parameters(), backend.description(), plugins.name(),
                        settings.maxNumSeqs(), settings.threads(), promptWords, maxTokens);
                out.flush();
                Run run = new Run(engine, model.id(), server, out, err);
                run.warmUp();
                if (parts.contains("overhead")) {
                    run.overhead();
                }
                if (parts.contains("cache")) {
                    run.cache();
                }
                if (parts.contains("idle")) {
                    run.idle();
                }
            } finally {
                engine.close();
            }
        }
        return 0;
    }

    private void checkOptions() {
        List<String> problems = new ArrayList<>();
        for (String part : parts) {
            if (!List.of("overhead", "cache", "idle").contains(part.strip())) {
                problems.add("--parts takes overhead, cache and idle, not '" + part + "'");
            }
        }
        if (requests < 1 || maxTokens < 1 || promptWords < 1 || cacheRequests < 1 || probes < 1) {
            problems.add("--requests, --max-tokens, --prompt-words, --cache-requests and --probes must be at least 1");
        }
        if (idleStreams < 0) {
            problems.add("--idle-streams must be at least 0, got " + idleStreams);
        }
        if (!problems.isEmpty()) {
            throw new ParameterException(spec.commandLine(), String.join("; ", problems));
        }
    }

    private <T> T usage(Supplier<T> parse) {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }

    /** One run's shared state: the engine, the server and the clients. */
    private final class Run {
        private final Engine engine;
        private final String model;
        private final EmbeddedRestServer server;
        private final PrintWriter out;
        private final PrintWriter err;
        private final URI base;
        private final ObjectMapper json = new ObjectMapper();
        private final WordPrompts prompts = new WordPrompts(promptWords, seed);
        private final ServingClient streaming;
        private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        private final ServingClient.RequestShape shape;

        Run(Engine engine, String model, EmbeddedRestServer server, PrintWriter out, PrintWriter err) {
            this.engine = engine;
            this.model = model;
            this.server = server;
            this.out = out;
            this.err = err;
            this.base = URI.create("http://127.0.0.1:" + server.port());
            this.streaming = new ServingClient(base, null, TIMEOUT, json);
            this.shape = new ServingClient.RequestShape(ServingClient.Endpoint.COMPLETIONS, model, maxTokens, 0,
                    true, true);
        }

        private void progress(String line) {
            err.println("gantry: " + line);
            err.flush();
        }

        /** Untimed requests both ways with other prompts, so that the JIT has compiled both paths. */
        void warmUp() throws IOException, InterruptedException {
            progress("warming up: " + WARM_UP_REQUESTS + " untimed requests each way");
            WordPrompts warmUp = new WordPrompts(promptWords, seed + 1_000_003);
            for (int i = 0; i < WARM_UP_REQUESTS; i++) {
                String prompt = warmUp.get();
                overHttp(prompt);
                direct(prompt);
            }
        }

        /** (a) The same requests through HTTP and straight into the engine, alternating, one at a time. */
        void overhead() throws IOException, InterruptedException {
            progress("overhead: " + requests + " requests each way, alternating");
            long httpTokens = 0;
            long directTokens = 0;
            long httpNanos = 0;
            long directNanos = 0;
            for (int i = 0; i < requests; i++) {
                String prompt = prompts.get();
                long start = System.nanoTime();
                httpTokens += overHttp(prompt);
                httpNanos += System.nanoTime() - start;
                start = System.nanoTime();
                directTokens += direct(prompt);
                directNanos += System.nanoTime() - start;
            }
            double httpRate = httpTokens / (httpNanos / 1e9);
            double directRate = directTokens / (directNanos / 1e9);
            out.printf(Locale.ROOT, "%n(a) HTTP overhead, %d streaming requests each way at concurrency 1%n", requests);
            out.printf(Locale.ROOT, "  %-34s %10s %12s %14s%n", "", "tokens", "output tok/s", "ms per request");
            out.printf(Locale.ROOT, "  %-34s %10d %12.1f %14.1f%n", "REST API (SSE on loopback)", httpTokens,
                    httpRate, httpNanos / 1e6 / requests);
            out.printf(Locale.ROOT, "  %-34s %10d %12.1f %14.1f%n", "InferenceService.submit directly",
                    directTokens, directRate, directNanos / 1e6 / requests);
            out.printf(Locale.ROOT, "  HTTP / direct: %.3f (%.1f%% %s)%n", httpRate / directRate,
                    Math.abs(1 - httpRate / directRate) * 100, httpRate <= directRate ? "slower" : "faster");
            out.flush();
        }

        /** @return the output tokens of one streaming request over HTTP */
        private int overHttp(String prompt) throws IOException, InterruptedException {
            RequestRecord record = streaming.send(shape, 0, prompt, System.nanoTime()).join();
            if (!record.ok()) {
                throw new IOException("A request over HTTP failed: " + record.error());
            }
            return record.outputTokens();
        }

        /** @return the output tokens of one request submitted to the engine */
        private int direct(String prompt) throws InterruptedException, IOException {
            return awaitDirect(new GenerationRequest(model, new Prompt.Text(prompt), SamplingParams.GREEDY,
                    maxTokens, List.of(), null, true, -1, 0, null, null));
        }

        private int awaitDirect(GenerationRequest request) throws InterruptedException, IOException {
            AtomicInteger tokens = new AtomicInteger();
            CompletableFuture<Completion> done = new CompletableFuture<>();
            try {
                engine.submit(request, new TokenSink() {
                    @Override
                    public void onToken(GeneratedToken token) {
                        tokens.incrementAndGet();
                    }

                    @Override
                    public void onComplete(Completion completion) {
                        done.complete(completion);
                    }

                    @Override
                    public void onError(InferenceException error) {
                        done.completeExceptionally(error);
                    }
                });
                done.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } catch (InferenceException | ExecutionException | TimeoutException e) {
                throw new IOException("A request submitted to the engine failed: " + e.getMessage(), e);
            }
            return tokens.get();
        }

        /** (b) One deterministic request, answered from the response cache again and again. */
        void cache() throws IOException, InterruptedException {
            String body = json.createObjectNode().put("model", model).put("prompt", prompts.get())
                    .put("max_tokens", maxTokens).put("temperature", 0).toString();
            long missStart = System.nanoTime();
            String first = cacheOutcome(body);
            long missNanos = System.nanoTime() - missStart;
            if (!first.equals("miss")) {
                throw new IOException("The first request was not a cache miss but '" + first + "'");
            }
            progress("cache: warming up, then " + cacheRequests + " hits timed");
            for (int i = 0; i < Math.min(cacheRequests, 200); i++) {
                cacheOutcome(body);
            }
            Histogram latency = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
            for (int i = 0; i < cacheRequests; i++) {
                long start = System.nanoTime();
                String outcome = cacheOutcome(body);
                latency.recordValue(System.nanoTime() - start);
                if (!outcome.equals("hit")) {
                    throw new IOException("Repetition " + i + " was not a cache hit but '" + outcome + "'");
                }
            }
            out.printf(Locale.ROOT, "%n(b) Response-cache hits over HTTP, %d sequential requests (%d generated tokens "
                    + "each; the first, a miss, took %.1f ms)%n", cacheRequests, maxTokens, missNanos / 1e6);
            out.printf(Locale.ROOT, "  p50 %.3f ms   p95 %.3f ms   p99 %.3f ms   max %.3f ms   mean %.3f ms%n",
                    ms(latency.getValueAtPercentile(50)), ms(latency.getValueAtPercentile(95)),
                    ms(latency.getValueAtPercentile(99)), ms(latency.getMaxValue()), latency.getMean() / 1e6);
            out.flush();
        }

        /** @return the {@code X-Gantry-Cache} outcome of a whole (not streamed) completion */
        private String cacheOutcome(String body) throws IOException, InterruptedException {
            HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            if (response.statusCode() != 200) {
                throw new IOException("A cached request answered HTTP " + response.statusCode() + ": "
                        + new String(response.body(), StandardCharsets.UTF_8));
            }
            return response.headers().firstValue("X-Gantry-Cache").orElse("absent");
        }

        /** (c) Normal requests timed alone, then with idle streams open. */
        void idle() throws IOException, InterruptedException {
            progress("idle: " + probes + " normal requests without idle streams");
            Histogram[] without = probe();
            progress("idle: opening " + idleStreams + " idle streams");
            List<Socket> sockets = new ArrayList<>(idleStreams);
            byte[] request = idleRequest();
            try {
                for (int i = 0; i < idleStreams; i++) {
                    Socket socket = new Socket();
                    // A small receive buffer: it fills soon, and then the server's writes wait, as for any client
                    // that reads nothing.
                    socket.setReceiveBufferSize(4096);
                    socket.connect(new InetSocketAddress("127.0.0.1", server.port()), 10_000);
                    OutputStream stream = socket.getOutputStream();
                    stream.write(request);
                    stream.flush();
                    sockets.add(socket);
                }
                int admitted = awaitAdmission();
                progress("idle: " + admitted + " idle streams admitted; " + probes + " normal requests with them");
                Histogram[] with = probe();
                // The last probe leaves the server's books just after its stream ended.
                for (int i = 0; i < 20 && server.activeRequests() > admitted; i++) {
                    Thread.sleep(50);
                }
                int stillOpen = server.activeRequests();
                out.printf(Locale.ROOT, "%n(c) Normal streaming requests, one at a time, without and with %d idle "
                        + "streams (%d admitted, %d still running after the probes)%n", idleStreams, admitted,
                        stillOpen);
                out.printf(Locale.ROOT, "  %-26s %10s %10s %10s %10s%n", "", "TTFT p50", "TTFT max", "e2e p50",
                        "e2e max");
                row("without idle streams", without);
                row("with idle streams", with);
                out.flush();
            } finally {
                for (Socket socket : sockets) {
                    socket.close();
                }
            }
        }

        /**
         * Waits until every idle stream's request is running in the server, or their number has stopped growing
         * for a while (the first ones may already have generated to the end of the context).
         *
         * @return the idle streams running now
         */
        private int awaitAdmission() throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            int seen = -1;
            long lastGrowth = System.nanoTime();
            while (server.activeRequests() < idleStreams && System.nanoTime() < deadline
                    && System.nanoTime() - lastGrowth < TimeUnit.SECONDS.toNanos(2)) {
                int now = server.activeRequests();
                if (now > seen) {
                    seen = now;
                    lastGrowth = System.nanoTime();
                }
                Thread.sleep(50);
            }
            return server.activeRequests();
        }

        private void row(String label, Histogram[] latency) {
            out.printf(Locale.ROOT, "  %-26s %8.1f ms %7.1f ms %7.1f ms %7.1f ms%n", label,
                    ms(latency[0].getValueAtPercentile(50)), ms(latency[0].getMaxValue()),
                    ms(latency[1].getValueAtPercentile(50)), ms(latency[1].getMaxValue()));
        }

        /** @return the TTFT and end-to-end latency histograms of the probe requests, in nanoseconds */
        private Histogram[] probe() throws IOException {
            Histogram ttft = new Histogram(TimeUnit.MINUTES.toNanos(30), 3);
            Histogram e2e = new Histogram(TimeUnit.MINUTES.toNanos(30), 3);
            for (int i = 0; i < probes; i++) {
                RequestRecord record = streaming.send(shape, i, prompts.get(), System.nanoTime()).join();
                if (!record.ok()) {
                    throw new IOException("A normal request failed: " + record.error());
                }
                ttft.recordValue((long) (record.ttft() * 1e9));
                e2e.recordValue((long) (record.e2e() * 1e9));
            }
            return new Histogram[] {ttft, e2e};
        }

        /** @return the bytes of an idle stream's request: no max_tokens, the lowest priority */
        private byte[] idleRequest() {
            byte[] body = json.createObjectNode().put("model", model).put("prompt", prompts.get())
                    .put("stream", true).put("ignore_eos", true).put("priority", IDLE_PRIORITY).toString()
                    .getBytes(StandardCharsets.UTF_8);
            byte[] head = ("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
            byte[] request = new byte[head.length + body.length];
            System.arraycopy(head, 0, request, 0, head.length);
            System.arraycopy(body, 0, request, head.length, body.length);
            return request;
        }
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }
}
