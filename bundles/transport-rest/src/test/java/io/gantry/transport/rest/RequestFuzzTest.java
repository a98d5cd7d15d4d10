package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Timeout;

/**
 * Thousands of random and malformed requests to every POST endpoint of a server on the real engine (stories260K):
 * random bytes, truncated and garbage JSON, valid requests with fields of the wrong type or out of range (huge,
 * negative, non-finite numbers, lone surrogates), deep nesting, invalid UTF-8, oversized and truncated bodies,
 * wrong content types, damaged gzip and small gzip bodies that inflate past the limit. Every answer must be a 2xx,
 * or a 4xx with an OpenAI error object, within the client's timeout; afterwards the server must answer a normal
 * greedy request with the same text as before, hold no generation, no engine sequence and no KV block, and its
 * heap after a GC must be back within {@link #HEAP_MARGIN_BYTES} of what it was before.
 *
 * <p>Seeded, so a failure repeats; the count is bounded to keep the test to seconds on two cores.
 */
class RequestFuzzTest {

    private static final long SEED = 20261121L;
    private static final int REQUESTS = 3000;
    private static final int TRUNCATED_ON_THE_WIRE = 40;
    private static final int CLIENTS = 4;
    private static final long MAX_BODY_BYTES = 64 * 1024;
    /**
     * How much more heap the server may hold after the fuzzing than before it: its finished-jobs table (at most
     * {@code maxFinishedJobs} = 100 small jobs), Jetty's pooled buffers and the JIT's and class loading's share.
     */
    private static final long HEAP_MARGIN_BYTES = 24L << 20;
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final String NORMAL = """
            {"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0}""";

    private static final String[] FIELDS = {"model", "messages", "prompt", "max_tokens", "max_completion_tokens",
        "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty",
        "stop", "seed", "n", "logprobs", "top_logprobs", "stream", "stream_options", "ignore_eos", "priority", "user",
        "tokens", "content", "add_special", "parse_special", "with_pieces", "response_format", "tools", "echo",
        "suffix", "best_of", "logit_bias", "functions"};
    /** JSON values, most of them wrong somewhere; a few are not JSON at all. */
    private static final String[] VALUES = {"0", "1", "2", "-1", "3", "16", "17", "1000000",
        "2147483647", "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808",
        "123456789012345678901234567890123456789", "1e308", "-1e308", "1e400", "-1e400", "1e-400", "-0.0", "0.5",
        "1.5", "2.0000001", "-2.5", "NaN", "Infinity", "-Infinity", "\"NaN\"", "true", "false", "null", "[]", "{}",
        "[1, 2, 3]", "[-1]", "[2147483647]", "[99999999]", "[0, 1, 511, 512]", "[\"a\", \"b\"]", "[[1, 2], [3]]",
        "[[]]", "[\"\"]", "[null]", "\"\"", "\"Once upon a time\"", "\"stories260K\"", "\"gpt-9\"", "\"\\ud800\"",
        "\"\\udc00\\ud800\"", "\"\\u0000\"", "\"<|endoftext|><s></s>\"", "\"\\n\\n\\n\"", "{\"include_usage\": true}",
        "{\"include_usage\": \"yes\"}", "{\"type\": \"json_object\"}", "{\"type\": \"text\"}",
        "[{\"role\": \"user\", \"content\": \"Hi\"}]",
        "[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Hi\"}, 5]}]",
        "[{\"role\": \"assistant\"}]", "[{\"role\": \"tool\", \"content\": \"x\"}]",
        "[{\"role\": \"\\ud800\", \"content\": \"x\"}]", "[{\"role\": \"system\", \"content\": \"\"}]", "[1]",
        "[{\"role\": \"user\", \"content\": null}]", "[{\"role\": \"user\", \"content\": {\"text\": \"x\"}}]",
        "{\"a\": [1, {\"b\": null}]}"};
    private static final List<String> PATHS = List.of("/v1/chat/completions", "/v1/completions",
            "/v1/models/stories260K/generate", "/v1/models/stories260K/generate?async=true",
            "/v1/models/nope/generate", "/tokenize", "/detokenize");
    private static final String[] CONTENT_TYPES = {"application/json", "application/json; charset=utf-8",
        "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
        "application/json; charset=latin1", "*/*", "garbage"};

    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(TIMEOUT).build();

    @RegisterExtension
    static final ServedEngine SERVED = new ServedEngine(new ServerSettings("127.0.0.1", 0, MAX_BODY_BYTES, 4096,
            Duration.ofSeconds(15), Duration.ofHours(1), 100, 16));

    /** One request as the fuzzer sends it. */
    private record Case(String path, String contentType, String contentEncoding, byte[] body, String kind) {
        @Override
        public String toString() {
            String text = new String(body, 0, Math.min(body.length, 300), StandardCharsets.ISO_8859_1);
            return kind + " POST " + path + " [" + contentType + ", " + contentEncoding + ", " + body.length
                    + " bytes] " + text;
        }
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void randomAndMalformedBodiesGetA2xxOrAnErrorObjectAndLeaveNothingBehind() throws Exception {
        String before = normalText();
        long heapBefore = heapAfterGc();

        Random random = new Random(SEED);
        List<Case> cases = new ArrayList<>(REQUESTS);
        for (int i = 0; i < REQUESTS; i++) {
            cases.add(nextCase(random, i));
        }
        List<String> failures = new ArrayList<>();
        try (ExecutorService clients = Executors.newFixedThreadPool(CLIENTS)) {
            List<Future<String>> answers = new ArrayList<>();
            for (Case request : cases) {
                answers.add(clients.submit(() -> check(request)));
            }
            byte[] normal = NORMAL.getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < TRUNCATED_ON_THE_WIRE; i++) {
                int sent = random.nextInt(normal.length);
                answers.add(clients.submit(() -> truncatedOnTheWire(normal, sent)));
            }
            for (Future<String> answer : answers) {
                String failure = answer.get();
                if (failure != null) {
                    failures.add(failure);
                }
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " of " + (REQUESTS + TRUNCATED_ON_THE_WIRE) + " requests were answered wrongly,"
                + " e.g.:\n" + String.join("\n", failures.subList(0, Math.min(20, failures.size()))));

        awaitIdle();
        assertEquals(0, SERVED.server().activeRequests(), "no generation is left running");
        assertEquals(0, SERVED.engine().allocator.stats().sequences(), "no sequence is left in the engine");
        assertEquals(0, SERVED.engine().allocator.stats().usedBlocks(), "every KV block is free");
        assertEquals(before, normalText(), "the server answers a normal request as before");
        long heapAfter = heapAfterGc();
        System.getLogger(RequestFuzzTest.class.getName()).log(System.Logger.Level.INFO, "Heap after GC: {0} KiB "
                + "before the fuzzing, {1} KiB after", heapBefore / 1024, heapAfter / 1024);
        assertTrue(heapAfter - heapBefore < HEAP_MARGIN_BYTES, "heap after GC grew from " + heapBefore / 1024
                + " KiB to " + heapAfter / 1024 + " KiB, more than the margin of " + HEAP_MARGIN_BYTES / 1024 + " KiB");
    }

    private static String normalText() throws Exception {
        HttpResponse<String> response = CLIENT.send(HttpRequest.newBuilder(uri("/v1/completions")).timeout(TIMEOUT)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(NORMAL)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        return HttpTestClient.JSON.readTree(response.body()).get("choices").get(0).get("text").asText();
    }

    /** Waits for asynchronous jobs and cancelled streams to be ended by the SERVED.engine(). */
    private static void awaitIdle() throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while ((SERVED.server().activeRequests() > 0 || SERVED.engine().allocator.stats().sequences() > 0)
                && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    private static long heapAfterGc() throws InterruptedException {
        long least = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
            least = Math.min(least, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return least;
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + SERVED.port() + path);
    }

    private static Case nextCase(Random random, int i) throws IOException {
        String path = PATHS.get(random.nextInt(PATHS.size()));
        String contentType = random.nextInt(4) == 0 ? CONTENT_TYPES[random.nextInt(CONTENT_TYPES.length)]
                : "application/json";
        return switch (random.nextInt(20)) {
            case 0, 1 -> new Case(path, contentType, null, randomBytes(random, random.nextInt(2048)), "random bytes");
            case 2, 3 -> new Case(path, contentType, null, fragments(random), "JSON fragments");
            case 4, 5 -> {
                byte[] whole = mutated(random, path);
                yield new Case(path, contentType, null,
                        Arrays.copyOf(whole, random.nextInt(whole.length)), "truncated JSON");
            }
            case 6 -> new Case(path, contentType, null, deepNesting(random), "deep nesting");
            case 7 -> new Case(path, contentType, null, invalidUtf8(random, mutated(random, path)), "invalid UTF-8");
            case 8 -> i % 10 == 0
                    ? new Case(path, contentType, null, oversized(random), "oversized")
                    : new Case(path, contentType, null, mutated(random, path), "mutated");
            case 9 -> gzipCase(random, path);
            default -> new Case(path, contentType, null, mutated(random, path), "mutated");
        };
    }

    private static byte[] randomBytes(Random random, int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    private static byte[] fragments(Random random) {
        String[] fragments = {"{", "}", "[", "]", ":", ",", "\"", "\\", "\"prompt\"", "\"messages\"", "\"tokens\"",
            "\"content\"", "\"role\"", "null", "tru", "-", "1e", "0x10", "'single'", "/* comment */", "\u00ff",
            "\"\\u12\"", "\n", " "};
        StringBuilder body = new StringBuilder();
        for (int i = random.nextInt(60); i > 0; i--) {
            body.append(random.nextBoolean() ? fragments[random.nextInt(fragments.length)]
                    : VALUES[random.nextInt(VALUES.length)]);
        }
        return body.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** @return a valid body for the path with one to three fields replaced, removed or added */
    private static byte[] mutated(Random random, String path) {
        Map<String, String> fields = new LinkedHashMap<>();
        if (path.contains("chat")) {
            fields.put("messages", "[{\"role\": \"user\", \"content\": \"Once upon a time\"}]");
        } else if (path.equals("/tokenize")) {
            fields.put("content", "\"Once upon a time\"");
            fields.put("with_pieces", "true");
        } else if (path.equals("/detokenize")) {
            fields.put("tokens", "[1, 2, 3]");
        } else {
            fields.put("prompt", "\"Once upon a time\"");
        }
        fields.put("max_tokens", "8");
        if (random.nextBoolean()) {
            fields.put("stream", "true");
        }
        for (int i = 1 + random.nextInt(3); i > 0; i--) {
            String field = random.nextInt(3) == 0 && !fields.isEmpty() ? List.copyOf(fields.keySet()).get(random.nextInt(fields.size()))
                    : FIELDS[random.nextInt(FIELDS.length)];
            if (random.nextInt(5) == 0) {
                fields.remove(field);
            } else {
                fields.put(field, VALUES[random.nextInt(VALUES.length)]);
            }
        }
        if (!fields.containsKey("max_tokens") && !fields.containsKey("max_completion_tokens")) {
            // Generating until the context is full takes seconds on two cores; other tests cover it.
            fields.put("max_tokens", "8");
        }
        StringBuilder body = new StringBuilder("{");
        fields.forEach((name, value) -> body.append(body.length() > 1 ? ", " : "").append('"').append(name)
                .append("\": ").append(value));
        return body.append('}').toString().getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] deepNesting(Random random) {
        int depth = 100 + random.nextInt(5000);
        boolean arrays = random.nextBoolean();
        StringBuilder body = new StringBuilder("{\"prompt\": ");
        body.append((arrays ? "[" : "{\"a\": ").repeat(depth));
        if (random.nextBoolean()) {
            body.append("1").append((arrays ? "]" : "}").repeat(depth));
        }
        return body.append('}').toString().getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] invalidUtf8(Random random, byte[] body) {
        byte[] copy = body.clone();
        byte[][] bad = {{(byte) 0xC3}, {(byte) 0xFF}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0xF8},
            {(byte) 0xC0, (byte) 0xAF}, {(byte) 0x80}};
        byte[] insert = bad[random.nextInt(bad.length)];
        int at = random.nextInt(copy.length - insert.length);
        System.arraycopy(insert, 0, copy, at, insert.length);
        return copy;
    }

    private static byte[] oversized(Random random) {
        String filler = "a".repeat((int) MAX_BODY_BYTES + random.nextInt(64 * 1024));
        return ("{\"prompt\": \"" + filler + "\"}").getBytes(StandardCharsets.UTF_8);
    }

    private static Case gzipCase(Random random, String path) throws IOException {
        return switch (random.nextInt(4)) {
            case 0 -> new Case(path, "application/json", "gzip", gzip(mutated(random, path)), "gzip");
            case 1 -> {
                // A gzip bomb, small: a few KiB that inflate to ten times the body limit.
                byte[] zeros = new byte[(int) MAX_BODY_BYTES * 10];
                yield new Case(path, "application/json", "gzip", gzip(zeros), "gzip bomb");
            }
            case 2 -> {
                byte[] damaged = gzip(mutated(random, path));
                damaged[10 + random.nextInt(damaged.length - 10)] ^= (byte) (1 + random.nextInt(255));
                yield new Case(path, "application/json", "gzip", damaged, "damaged gzip");
            }
            default -> new Case(path, "application/json", random.nextBoolean() ? "br" : "deflate, gzip",
                    mutated(random, path), "unsupported encoding");
        };
    }

    private static byte[] gzip(byte[] bytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gzip = new GZIPOutputStream(out)) {
            gzip.write(bytes);
        }
        return out.toByteArray();
    }

    /** @return {@code null} if the answer is right, else what was wrong */
    private static String check(Case request) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri(request.path())).timeout(TIMEOUT)
                .header("Content-Type", request.contentType())
                .POST(HttpRequest.BodyPublishers.ofByteArray(request.body()));
        if (request.contentEncoding() != null) {
            builder.header("Content-Encoding", request.contentEncoding());
        }
        HttpResponse<byte[]> response;
        try {
            response = CLIENT.send(builder.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            return "no answer (" + e + "): " + request;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted: " + request;
        }
        return judge(response.statusCode(), response.headers().firstValue("Content-Type").orElse(""),
                response.body(), request.toString());
    }

    /** @return {@code null} if a status, content type and body are a right answer, else what was wrong */
    private static String judge(int status, String contentType, byte[] body, String request) {
        String text = new String(body, StandardCharsets.UTF_8);
        if (status >= 200 && status < 300) {
            if (contentType.startsWith("text/event-stream")) {
                // A stream ends with [DONE], or with an error event after it started.
                return text.endsWith("data: [DONE]\n\n") || text.contains("data: {\"error\"") ? null
                        : "a stream that ended without [DONE] or an error: " + text + " for " + request;
            }
            return contentType.startsWith("application/json") ? null : "a " + status + " of " + contentType
                    + " for " + request;
        }
        if (status < 400 || status >= 500) {
            return status + " " + text + " for " + request;
        }
        try {
            JsonNode error = HttpTestClient.JSON.readTree(text).get("error");
            if (!contentType.startsWith("application/json") || error == null || !error.hasNonNull("message")
                    || !error.hasNonNull("type") || !error.has("param") || !error.has("code")) {
                return status + " without an OpenAI error object: " + text + " for " + request;
            }
        } catch (IOException e) {
            return status + " with a body that is not JSON: " + text + " for " + request;
        }
        return null;
    }

    /**
     * Sends a body shorter than its {@code Content-Length} and closes the sending half of the connection: the
     * server must answer 400 on what is left open, not fail or wait for bytes that never come.
     */
    private static String truncatedOnTheWire(byte[] body, int sent) {
        String request = "truncated on the wire: " + sent + " of " + body.length + " bytes";
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", SERVED.port()), (int) TIMEOUT.toMillis());
            socket.setSoTimeout((int) TIMEOUT.toMillis());
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(body, 0, sent);
            out.flush();
            socket.shutdownOutput();
            InputStream in = socket.getInputStream();
            String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            if (response.isEmpty()) {
                return null; // closed without an answer: the request never arrived whole
            }
            int status = Integer.parseInt(response.substring(9, 12));
            int headersEnd = response.indexOf("\r\n\r\n");
            String contentType = response.lines().filter(line -> line.toLowerCase().startsWith("content-type:"))
                    .map(line -> line.substring(13).strip()).findFirst().orElse("");
            String payload = response.substring(headersEnd + 4);
            if (response.toLowerCase().contains("transfer-encoding: chunked")) {
                return status >= 400 && status < 500 ? null : status + " " + response + " for " + request;
            }
            return judge(status, contentType, payload.getBytes(StandardCharsets.UTF_8), request);
        } catch (IOException e) {
            return "no answer (" + e + "): " + request;
        }
    }
}
