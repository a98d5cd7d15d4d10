package io.gantry.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodySubscriber;
import java.net.http.HttpResponse.BodySubscribers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;

/**
 * The serving benchmark's HTTP side: sends streaming requests to an OpenAI-compatible server and times the
 * server-sent events of each response as its lines arrive. A request never completes exceptionally: whatever goes
 * wrong (a refused connection, an HTTP error, a malformed chunk, a stream cut short, a timeout) becomes a failed
 * {@link RequestRecord} that says what happened.
 */
final class ServingClient implements AutoCloseable {

    /** The most characters of a response body or chunk that an error message quotes. */
    private static final int QUOTED_CHARACTERS = 200;

    /** The OpenAI endpoints the benchmark can drive, both streaming. */
    enum Endpoint {
        /** {@code POST /v1/completions}: a prompt; the text is in {@code choices[0].text}. */
        COMPLETIONS("/v1/completions") {
            @Override
            void putPrompt(ObjectNode body, String prompt) {
                body.put("prompt", prompt);
            }

            @Override
            String text(JsonNode choice) {
                return choice.path("text").asText("");
            }
        },
        /**
         * {@code POST /v1/chat/completions}: the prompt as one user message; the text is in
         * {@code choices[0].delta.content} (or {@code reasoning_content}). A chunk that only announces the
         * assistant's role carries no text and does not count as the first token.
         */
        CHAT("/v1/chat/completions") {
            @Override
            void putPrompt(ObjectNode body, String prompt) {
                body.putArray("messages").addObject().put("role", "user").put("content", prompt);
            }

            @Override
            String text(JsonNode choice) {
                JsonNode delta = choice.path("delta");
                String content = delta.path("content").asText("");
                return content.isEmpty() ? delta.path("reasoning_content").asText("") : content;
            }
        };

        private final String path;

        Endpoint(String path) {
            this.path = path;
        }

        /** @return the endpoint's path under the server's base URL */
        String path() {
            return path;
        }

        abstract void putPrompt(ObjectNode body, String prompt);

        /** @return the generated text a stream chunk's first choice carries, empty when none */
        abstract String text(JsonNode choice);
    }

    /**
     * What every request of a run asks for.
     *
     * @param endpoint     which endpoint
     * @param model        the {@code model} field
     * @param maxTokens    the {@code max_tokens} field
     * @param temperature  the {@code temperature} field
     * @param ignoreEos    whether to send {@code "ignore_eos": true} (generate {@code maxTokens} whatever comes)
     * @param includeUsage whether to ask for token counts in the stream ({@code stream_options.include_usage})
     */
    record RequestShape(Endpoint endpoint, String model, int maxTokens, double temperature, boolean ignoreEos,
                        boolean includeUsage) {

        /** @return the JSON body of a request for {@code prompt} */
        ObjectNode body(ObjectMapper json, String prompt) {
            ObjectNode body = json.createObjectNode();
            body.put("model", model);
            endpoint.putPrompt(body, prompt);
            body.put("max_tokens", maxTokens);
            body.put("temperature", temperature);
            body.put("stream", true);
            if (includeUsage) {
                body.putObject("stream_options").put("include_usage", true);
            }
            if (ignoreEos) {
                body.put("ignore_eos", true);
            }
            return body;
        }
    }

    private final HttpClient http;
    private final ObjectMapper json;
    private final URI base;
    private final String apiKey;
    private final Duration timeout;

    /**
     * @param base    the server's base URL, as {@link #baseUrl} returns it
     * @param apiKey  sent as a bearer token, or {@code null} for none
     * @param timeout the longest a request may take, from sending it to the end of its stream
     * @param json    reads the chunks and writes the bodies
     */
    ServingClient(URI base, String apiKey, Duration timeout, ObjectMapper json) {
        // Responses are handled on the client's selector thread itself: the default executor hands every chunk to
        // a pool thread, one more thread woken per token, which on a machine whose cores all compute takes CPU from
        // the server being measured (bench transport, 2 cores: HTTP/direct 0.88 with it, 0.91 without).
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout)
                .executor(Runnable::run).build();
        this.json = json;
        this.base = base;
        this.apiKey = apiKey;
        this.timeout = timeout;
    }

    /**
     * @param url a server's base URL, such as {@code http://localhost:8080}; a trailing {@code /} or {@code /v1} is
     *            dropped, since the endpoints' paths start with {@code /v1}
     * @return the base URL the endpoints' paths are appended to
     * @throws IllegalArgumentException for anything but an absolute http or https URL
     */
    static URI baseUrl(String url) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("--url " + url + " is not a URL: " + e.getMessage());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
            throw new IllegalArgumentException("--url must be an http or https URL such as http://localhost:8080, got "
                    + url);
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw new IllegalArgumentException("--url is a base URL and takes no query or fragment, got " + url);
        }
        String path = uri.getRawPath() == null ? "" : uri.getRawPath().replaceAll("/+$", "");
        path = path.endsWith("/v1") ? path.substring(0, path.length() - "/v1".length()) : path;
        return URI.create(scheme + "://" + uri.getRawAuthority() + path);
    }

    /**
     * @return the id of the first model the server lists at {@code GET /v1/models}
     * @throws IOException when the server cannot be reached or lists none
     */
    String firstModel() throws IOException {
        URI models = URI.create(base + "/v1/models");
        HttpResponse<String> response;
        try {
            response = http.send(authorised(HttpRequest.newBuilder(models)).timeout(timeout).GET().build(),
                    HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while asking " + models + " for its models", e);
        } catch (IOException e) {
            throw new IOException("could not ask " + models + " for its models (pass --model to skip this): "
                    + describe(e), e);
        }
        if (response.statusCode() != 200) {
            throw new IOException("GET " + models + " answered HTTP " + response.statusCode() + ": "
                    + quote(response.body()) + " (pass --model to skip this)");
        }
        JsonNode id;
        try {
            id = json.readTree(response.body()).path("data").path(0).path("id");
        } catch (JsonProcessingException e) {
            throw new IOException("GET " + models + " answered with something other than JSON: "
                    + quote(response.body()));
        }
        if (!id.isTextual() || id.asText().isEmpty()) {
            throw new IOException("GET " + models + " lists no model; pass --model");
        }
        return id.asText();
    }

    /**
     * Sends one streaming request.
     *
     * @param shape     what to ask for
     * @param index     the request's number in the run
     * @param prompt    the prompt
     * @param runStart  {@link System#nanoTime()} at the start of the run
     * @return the request's record, once its stream has ended, failed or timed out; never exceptional
     */
    CompletableFuture<RequestRecord> send(RequestShape shape, int index, String prompt, long runStart) {
        // No HttpRequest timeout: the one below covers the whole exchange, headers and stream.
        HttpRequest request = authorised(HttpRequest.newBuilder(URI.create(base + shape.endpoint().path())))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(shape.body(json, prompt).toString(), StandardCharsets.UTF_8))
                .build();
        long sent = System.nanoTime();
        EventStream stream = new EventStream(shape.endpoint(), index, sent, (sent - runStart) / 1e9);
        CompletableFuture<HttpResponse<Void>> response = http.sendAsync(request, stream::subscriber);
        response.whenComplete((ignored, failure) -> {
            if (failure != null) {
                stream.fail("request failed: " + describe(failure));
            }
        });
        return stream.result.orTimeout(timeout.toNanos(), TimeUnit.NANOSECONDS).handle((record, failure) -> {
            if (record != null) {
                return record;
            }
            response.cancel(true);
            stream.cancel();
            return RequestRecord.failed(index, stream.start, String.format(Locale.ROOT,
                    "timed out after %.1f s with %d chunks of text", timeout.toMillis() / 1e3, stream.chunks),
                    stream.status, stream.chunks);
        });
    }

    private HttpRequest.Builder authorised(HttpRequest.Builder request) {
        return apiKey == null ? request : request.header("Authorization", "Bearer " + apiKey);
    }

    /** Stops at once: the requests still running (timed out and abandoned ones) are aborted. */
    @Override
    public void close() {
        http.shutdownNow();
    }

    /** One response, read as server-sent events line by line, timing each chunk that carries generated text. */
    private final class EventStream implements Flow.Subscriber<String> {
        final CompletableFuture<RequestRecord> result = new CompletableFuture<>();
        final double start;
        volatile int chunks;
        volatile int status;
        private final Endpoint endpoint;
        private final int index;
        private final long sent;
        private long[] stamps = new long[64];
        private int inputTokens = -1;
        private int outputTokens = -1;
        private String contentType = "";
        private volatile Flow.Subscription subscription;

        EventStream(Endpoint endpoint, int index, long sent, double start) {
            this.endpoint = endpoint;
            this.index = index;
            this.sent = sent;
            this.start = start;
        }

        /** @return where the response's body goes: this stream on success, an error record otherwise */
        BodySubscriber<Void> subscriber(HttpResponse.ResponseInfo info) {
            status = info.statusCode();
            contentType = info.headers().firstValue("Content-Type").orElse("none");
            if (status == 200) {
                return BodySubscribers.fromLineSubscriber(this);
            }
            return BodySubscribers.mapping(BodySubscribers.ofString(StandardCharsets.UTF_8), body -> {
                fail("HTTP " + status + ": " + quote(body));
                return null;
            });
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            this.subscription = subscription;
            if (result.isDone()) {
                subscription.cancel();
            } else {
                subscription.request(Long.MAX_VALUE);
            }
        }

        @Override
        public void onNext(String line) {
            long now = System.nanoTime();
            String event = line.strip();
            if (result.isDone() || !event.startsWith("data:")) {
                return;
            }
            String data = event.substring("data:".length()).strip();
            if (data.equals("[DONE]")) {
                finish();
                return;
            }
            if (data.isEmpty()) {
                return;
            }
            JsonNode chunk;
            try {
                chunk = json.readTree(data);
            } catch (JsonProcessingException e) {
                chunk = null;
            }
            if (chunk == null || !chunk.isObject()) {
                fail("malformed chunk after " + chunks + " chunks of text: " + quote(data));
                return;
            }
            JsonNode error = chunk.get("error");
            if (error != null && !error.isNull()) {
                fail("error in the stream after " + chunks + " chunks of text: "
                        + quote(error.path("message").isTextual() ? error.path("message").asText() : error.toString()));
                return;
            }
            JsonNode usage = chunk.path("usage");
            if (usage.path("prompt_tokens").canConvertToInt()) {
                inputTokens = usage.path("prompt_tokens").asInt();
            }
            if (usage.path("completion_tokens").canConvertToInt()) {
                outputTokens = usage.path("completion_tokens").asInt();
            }
            JsonNode choices = chunk.path("choices");
            if (choices.isArray() && !choices.isEmpty() && !endpoint.text(choices.get(0)).isEmpty()) {
                if (chunks == stamps.length) {
                    stamps = Arrays.copyOf(stamps, 2 * chunks);
                }
                stamps[chunks] = now;
                chunks = chunks + 1;
            }
        }

        @Override
        public void onError(Throwable failure) {
            fail("stream broken after " + chunks + " chunks of text: " + describe(failure));
        }

        @Override
        public void onComplete() {
            finish();
        }

        private void finish() {
            int received = chunks;
            if (received == 0) {
                fail("no generated text in the response (Content-Type: " + contentType + ")");
                return;
            }
            double[] itl = new double[received - 1];
            for (int i = 1; i < received; i++) {
                itl[i - 1] = (stamps[i] - stamps[i - 1]) / 1e9;
            }
            boolean counted = outputTokens >= 0;
            result.complete(new RequestRecord(index, start, null, status, inputTokens,
                    counted ? outputTokens : received,
                    counted ? RequestRecord.TokenCount.USAGE : RequestRecord.TokenCount.CHUNKS, received,
                    (stamps[0] - sent) / 1e9, (stamps[received - 1] - sent) / 1e9, itl));
        }

        void fail(String error) {
            if (result.complete(RequestRecord.failed(index, start, error, status, chunks))) {
                cancel();
            }
        }

        void cancel() {
            Flow.Subscription current = subscription;
            if (current != null) {
                current.cancel();
            }
        }
    }

    /** @return at most {@link #QUOTED_CHARACTERS} of {@code text}, on one line */
    private static String quote(String text) {
        String line = text.strip().replaceAll("\\s+", " ");
        return line.length() <= QUOTED_CHARACTERS ? line : line.substring(0, QUOTED_CHARACTERS) + "...";
    }

    /** @return the exception's kind and message, past the wrappers that only say it happened asynchronously */
    private static String describe(Throwable failure) {
        Throwable cause = failure;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        String message = cause.getMessage();
        return cause.getClass().getSimpleName() + (message == null || message.isBlank() ? "" : ": " + message);
    }
}
