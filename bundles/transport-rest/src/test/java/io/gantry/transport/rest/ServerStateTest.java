package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GenerationHandle;
import io.gantry.api.inference.InferenceService;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

/**
 * How the server answers while no model is served, when the engine's queue is full, and when a request runs out of
 * time.
 */
class ServerStateTest {

    @Test
    void withoutAModelHealthAndGenerationAre503UntilOneIsServed() throws Exception {
        AtomicReference<InferenceService> inference = new AtomicReference<>();
        RestServer server = new RestServer(ServedEngine.settings(Duration.ofHours(1)), inference::get);
        server.start();
        try (TestEngine engine = new TestEngine()) {
            HttpTestClient http = new HttpTestClient(server.port());
            for (String path : new String[] {"/health", "/healthz", "/ready"}) {
                HttpTestClient.Response health = http.get(path);
                assertEquals(503, health.status(), path);
                assertEquals("loading", health.json().get("status").asText());
            }
            HttpTestClient.Response chat = http.post("/v1/chat/completions",
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}");
            assertEquals(503, chat.status());
            assertEquals("server_error", chat.error().get("type").asText());
            assertTrue(Integer.parseInt(chat.header("Retry-After")) > 0);
            assertEquals(503, http.get("/v1/models").status());

            inference.set(engine);
            assertEquals(200, http.get("/health").status());
            assertEquals(200, http.post("/v1/chat/completions",
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 2}").status());
            inference.set(null);
            assertEquals(503, http.get("/healthz").status(), "the engine went away again");
        } finally {
            server.stop();
        }
    }

    @Test
    void aFullQueueIs429WithRetryAfter() throws Exception {
        try (TestEngine engine = new TestEngine(1, 1, Duration.ofMinutes(1))) {
            RestServer server = new RestServer(ServedEngine.settings(Duration.ofHours(1)), () -> engine);
            server.start();
            try {
                engine.tokenDelayNanos = TimeUnit.MILLISECONDS.toNanos(5);
                HttpTestClient http = new HttpTestClient(server.port());
                String job = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 300, \"ignore_eos\": true}";
                // One runs, one waits, and the queue of one is full.
                HttpTestClient.Response response = null;
                for (int i = 0; i < 5; i++) {
                    response = http.post("/v1/models/stories260K/generate?async=true", job);
                    if (response.status() != 202) {
                        break;
                    }
                }
                assertEquals(429, response.status(), response.raw().body());
                assertEquals("rate_limit_error", response.error().get("type").asText());
                assertEquals("server_overloaded", response.error().get("code").asText());
                assertEquals("1", response.header("Retry-After"));
            } finally {
                server.stop();
            }
            for (GenerationHandle handle : engine.handles) {
                assertEquals(FinishReason.CANCELLED, handle.completion().toCompletableFuture().get(10,
                        TimeUnit.SECONDS).reason(), "stopping the server cancels its jobs");
            }
        }
    }

    @Test
    void aRequestThatRunsOutOfTimeIs504() throws Exception {
        try (TestEngine engine = new TestEngine(4, 8, Duration.ofMillis(300))) {
            RestServer server = new RestServer(ServedEngine.settings(Duration.ofHours(1)), () -> engine);
            server.start();
            try {
                engine.tokenDelayNanos = TimeUnit.MILLISECONDS.toNanos(5);
                HttpTestClient http = new HttpTestClient(server.port());
                HttpTestClient.Response response = http.post("/v1/completions",
                        "{\"prompt\": \"Once upon a time\", \"max_tokens\": 400, \"ignore_eos\": true}");
                assertEquals(504, response.status(), response.raw().body());
                assertEquals("timeout", response.error().get("code").asText());
                assertEquals(0, engine.allocator.stats().usedBlocks());
            } finally {
                server.stop();
            }
        }
    }
}
