package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import io.gantry.cache.response.CaffeineResponseCache;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The response cache in front of the real engine: deterministic one-choice requests are answered from it the second
 * time without reaching the engine (which records every submission), as whole bodies and as streams;
 * {@code Cache-Control} is honoured; sampled requests without a seed and several choices are never cached.
 */
class ResponseCacheTest {

    private static final CaffeineResponseCache CACHE = new CaffeineResponseCache(1000, 16 << 20,
            Duration.ofMinutes(5));
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @RegisterExtension
    static final ServedEngine SERVED = new ServedEngine(engine -> new RestServer(
            ServedEngine.settings(Duration.ofHours(1)), () -> engine, List::of, () -> CACHE));

    private static String chat(String prompt, String extra) {
        return """
                {"messages": [{"role": "user", "content": "%s"}], "max_tokens": 20%s}""".formatted(prompt, extra);
    }

    /** Posts a chat request with a {@code Cache-Control} header (or none). */
    private static HttpResponse<String> post(String body, String cacheControl) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + SERVED.port()
                + "/v1/chat/completions")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (cacheControl != null) {
            request.header("Cache-Control", cacheControl);
        }
        HttpResponse<String> response = CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        return response;
    }

    private static String cacheHeader(HttpResponse<String> response) {
        return response.headers().firstValue(ResponseCaching.HEADER).orElse(null);
    }

    private static JsonNode json(HttpResponse<String> response) throws Exception {
        return HttpTestClient.JSON.readTree(response.body());
    }

    @Test
    void aRepeatedGreedyRequestIsAnsweredFromTheCacheWithoutTheEngine() throws Exception {
        String body = chat("A greedy tale", ", \"temperature\": 0");
        HttpResponse<String> first = post(body, null);
        assertEquals("miss", cacheHeader(first));
        int submitted = SERVED.engine().requests.size();
        HttpResponse<String> second = post(body, null);
        assertEquals("hit", cacheHeader(second));
        assertEquals(submitted, SERVED.engine().requests.size(), "a hit does not reach the engine");

        JsonNode live = json(first);
        JsonNode cached = json(second);
        assertNotEquals(live.get("id").asText(), cached.get("id").asText());
        assertEquals("chat.completion", cached.get("object").asText());
        assertEquals(live.get("choices"), cached.get("choices"));
        JsonNode usage = cached.get("usage");
        assertEquals(live.get("usage").get("prompt_tokens"), usage.get("prompt_tokens"));
        assertEquals(live.get("usage").get("completion_tokens"), usage.get("completion_tokens"));
        assertEquals(usage.get("prompt_tokens").asInt(), usage.get("prompt_tokens_details").get("cached_tokens").asInt(),
                "every prompt token of a hit counts as cached");

        // Parameters that change the output change the key.
        assertEquals("miss", cacheHeader(post(chat("A greedy tale", ", \"temperature\": 0, \"stop\": [\"x\"]"), null)));
        assertEquals("miss", cacheHeader(post(chat("A greedy tale", ", \"temperature\": 0, \"max_tokens\": 7"),
                null)));
    }

    @Test
    void cacheControlNoCacheBypassesTheLookupButStoresAndNoStoreDoesNotStore() throws Exception {
        String body = chat("A bypassed tale", ", \"temperature\": 0");
        post(body, null);
        int submitted = SERVED.engine().requests.size();
        assertEquals("bypass", cacheHeader(post(body, "no-cache")));
        assertEquals(submitted + 1, SERVED.engine().requests.size(), "no-cache reaches the engine");
        assertEquals("hit", cacheHeader(post(body, null)));

        String unstored = chat("An unstored tale", ", \"temperature\": 0");
        assertEquals("miss", cacheHeader(post(unstored, "No-Store")));
        assertEquals("miss", cacheHeader(post(unstored, null)));
        assertEquals("hit", cacheHeader(post(unstored, null)));
    }

    @Test
    void onlyDeterministicSingleChoiceRequestsAreCached() throws Exception {
        String sampled = chat("A sampled tale", ", \"temperature\": 0.9");
        int submitted = SERVED.engine().requests.size();
        assertEquals("uncacheable", cacheHeader(post(sampled, null)));
        assertEquals("uncacheable", cacheHeader(post(sampled, null)));
        assertEquals(submitted + 2, SERVED.engine().requests.size());

        String seeded = chat("A seeded tale", ", \"temperature\": 0.9, \"seed\": 42");
        HttpResponse<String> first = post(seeded, null);
        assertEquals("miss", cacheHeader(first));
        HttpResponse<String> second = post(seeded, null);
        assertEquals("hit", cacheHeader(second));
        assertEquals(json(first).get("choices"), json(second).get("choices"));
        assertEquals("miss", cacheHeader(post(chat("A seeded tale", ", \"temperature\": 0.9, \"seed\": 43"), null)));

        String twoChoices = chat("A greedy pair", ", \"temperature\": 0, \"n\": 2");
        assertEquals("uncacheable", cacheHeader(post(twoChoices, null)));
        assertEquals("uncacheable", cacheHeader(post(twoChoices, null)));
    }

    @Test
    void aStreamedHitReplaysLikeALiveStream() throws Exception {
        String body = chat("A streamed tale", ", \"temperature\": 0, \"stream\": true, "
                + "\"stream_options\": {\"include_usage\": true}");
        HttpTestClient.Events live = SERVED.http().stream("/v1/chat/completions", body);
        int submitted = SERVED.engine().requests.size();
        HttpTestClient.Events replayed = SERVED.http().stream("/v1/chat/completions", body);
        assertEquals(submitted, SERVED.engine().requests.size(), "a hit does not reach the engine");
        assertEquals(200, replayed.status());
        assertTrue(replayed.contentType().startsWith("text/event-stream"));
        assertEquals("[DONE]", replayed.data().getLast());
        List<JsonNode> liveChunks = live.chunks();
        List<JsonNode> chunks = replayed.chunks();
        String id = chunks.getFirst().get("id").asText();
        assertNotEquals(liveChunks.getFirst().get("id").asText(), id);
        for (JsonNode chunk : chunks) {
            assertEquals(id, chunk.get("id").asText());
            assertEquals("chat.completion.chunk", chunk.get("object").asText());
        }
        assertEquals("assistant", chunks.getFirst().get("choices").get(0).get("delta").get("role").asText());
        assertEquals(text(liveChunks), text(chunks));
        assertEquals(finishReason(liveChunks), finishReason(chunks));
        JsonNode usage = chunks.getLast().get("usage");
        assertEquals(0, chunks.getLast().get("choices").size());
        assertEquals(liveChunks.getLast().get("usage").get("completion_tokens"), usage.get("completion_tokens"));

        // A response stored from a whole body replays as a stream too: the key does not depend on streaming.
        String whole = chat("A tale told twice", ", \"temperature\": 0");
        String text = json(post(whole, null)).get("choices").get(0).get("message").get("content").asText();
        submitted = SERVED.engine().requests.size();
        HttpTestClient.Events streamed = SERVED.http().stream("/v1/chat/completions",
                whole.substring(0, whole.length() - 1) + ", \"stream\": true}");
        assertEquals(submitted, SERVED.engine().requests.size());
        assertEquals(text, text(streamed.chunks()));
    }

    private static String text(List<JsonNode> chunks) {
        StringBuilder text = new StringBuilder();
        for (JsonNode chunk : chunks) {
            for (JsonNode choice : chunk.get("choices")) {
                JsonNode content = choice.get("delta").get("content");
                if (content != null && !content.isNull()) {
                    text.append(content.asText());
                }
            }
        }
        return text.toString();
    }

    private static String finishReason(List<JsonNode> chunks) {
        return chunks.stream().flatMap(chunk -> java.util.stream.StreamSupport.stream(chunk.get("choices")
                .spliterator(), false)).filter(choice -> !choice.get("finish_reason").isNull())
                .map(choice -> choice.get("finish_reason").asText()).findFirst().orElse(null);
    }

    /** Prints the latency of cache hits over HTTP (not asserted: the machine is shared). */
    @Test
    void hitLatency() throws Exception {
        String body = chat("A quick tale", ", \"temperature\": 0");
        // Warm-up: the first requests load classes and run interpreted.
        for (int i = 0; i < 300; i++) {
            post(body, null);
        }
        int rounds = 500;
        long[] nanos = new long[rounds];
        for (int i = 0; i < rounds; i++) {
            long start = System.nanoTime();
            HttpResponse<String> response = post(body, null);
            nanos[i] = System.nanoTime() - start;
            assertEquals("hit", cacheHeader(response));
        }
        Arrays.sort(nanos);
        System.out.printf("Response cache hit over HTTP, %d requests: p50 %.3f ms, p95 %.3f ms, p99 %.3f ms%n",
                rounds, nanos[rounds / 2] / 1e6, nanos[rounds * 95 / 100] / 1e6, nanos[rounds * 99 / 100] / 1e6);
    }
}
