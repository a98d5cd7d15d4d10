package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import io.gantry.api.inference.InferenceService;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;

/** Requests per second and model tokens per minute, per caller, over real HTTP. */
class RateLimitTest {

    private static final String COMPLETION = """
            {"model": "stories260K", "prompt": "Once upon a time", "temperature": 0, "max_tokens": 30}""";

    private static RestServer server(RateLimiter limits, Supplier<InferenceService> inference) {
        RestServer server = new RestServer(ServedEngine.settings(Duration.ofHours(1)), inference);
        server.install(new AccessControl(new Authenticator(Authenticator.Mode.NONE, KeyHashes.parse("apiKeys"),
                KeyHashes.parse("adminKeys"), null, true), limits, null));
        server.start();
        return server;
    }

    private static void assertLimited(HttpTestClient.Response response, String limit) {
        assertEquals(429, response.status(), response.raw().body());
        JsonNode error = response.error();
        assertEquals("rate_limit_exceeded", error.get("code").asText());
        assertTrue(error.get("message").asText().contains(limit), error.toString());
        int retryAfter = Integer.parseInt(response.header("Retry-After"));
        assertTrue(retryAfter >= 1, "Retry-After is whole seconds, rounded up: " + retryAfter);
    }

    @Test
    void requestsPerSecondAreCountedPerClientAndHealthIsNot() throws Exception {
        RestServer server = server(new RateLimiter(2, 0, Duration.ofMinutes(1)), () -> null);
        try {
            HttpTestClient http = new HttpTestClient(server.port());
            assertEquals(503, http.get("/v1/models").status(), "no model, but admitted");
            assertEquals(503, http.get("/v1/models").status());
            HttpTestClient.Response limited = http.get("/v1/models");
            assertLimited(limited, "requests per second");
            assertEquals(1, Integer.parseInt(limited.header("Retry-After")));
            assertEquals(503, http.get("/health").status(), "health checks are never limited");
            Thread.sleep(1100);
            assertEquals(503, http.get("/v1/models").status(), "the bucket refilled");
        } finally {
            server.stop();
        }
    }

    @Test
    void tokensPerMinuteCountTheUsageOfEachRequest() throws Exception {
        try (TestEngine engine = new TestEngine()) {
            RestServer server = server(new RateLimiter(0, 20, Duration.ofMinutes(1)), () -> engine);
            try {
                HttpTestClient http = new HttpTestClient(server.port());
                HttpTestClient.Response first = http.post("/v1/completions", COMPLETION);
                assertEquals(200, first.status(), first.raw().body());
                assertTrue(first.json().get("usage").get("total_tokens").asInt() > 20,
                        "the first request uses more than the minute's tokens: " + first.json().get("usage"));
                HttpTestClient.Response second = http.post("/v1/completions", COMPLETION);
                assertLimited(second, "tokens per minute");
                assertTrue(Integer.parseInt(second.header("Retry-After")) > 1,
                        "the debt takes more than a second to pay back: " + second.header("Retry-After"));
                assertLimited(http.get("/v1/models"), "tokens per minute");
            } finally {
                server.stop();
            }
        }
    }

    @Test
    void tokensOfAnAsynchronousJobAreChargedToItsCallerWhenItEnds() throws Exception {
        try (TestEngine engine = new TestEngine()) {
            RestServer server = server(new RateLimiter(0, 20, Duration.ofMinutes(1)), () -> engine);
            try {
                HttpTestClient http = new HttpTestClient(server.port());
                HttpTestClient.Response submitted = http.post("/v1/models/stories260K/generate?async=true", """
                        {"prompt": "Once upon a time", "temperature": 0, "max_tokens": 30}""");
                assertEquals(202, submitted.status(), submitted.raw().body());
                String job = submitted.json().get("id").asText();
                JsonNode view = http.get("/v1/jobs/" + job).json();
                for (long deadline = System.nanoTime() + 30_000_000_000L; !view.get("status").asText()
                        .equals("succeeded") && System.nanoTime() < deadline; view = http.get("/v1/jobs/" + job).json()) {
                    Thread.sleep(20);
                }
                assertTrue(view.get("result").get("usage").get("total_tokens").asInt() > 20, view.toString());
                assertEquals(200, http.get("/v1/jobs/" + job).status(), "a caller in debt still gets its result");
                // The charge runs off the engine's thread just after the job ends.
                HttpTestClient.Response next = http.post("/v1/completions", COMPLETION);
                for (long deadline = System.nanoTime() + 5_000_000_000L; next.status() == 200
                        && System.nanoTime() < deadline; next = http.post("/v1/completions", COMPLETION)) {
                    Thread.sleep(20);
                }
                assertLimited(next, "tokens per minute");
            } finally {
                server.stop();
            }
        }
    }

    private static int statusFrom(RestServer server, String forwardedFor) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.port() + "/v1/models"))
                .header(ClientAddresses.FORWARDED_FOR, forwardedFor).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    @Test
    void forwardedForPicksNoBucketUnlessItComesFromATrustedProxy() throws Exception {
        RestServer direct = server(new RateLimiter(1, 0, Duration.ofMinutes(1)), () -> null);
        try {
            assertEquals(503, statusFrom(direct, "203.0.113.1"), "no model, but admitted");
            assertEquals(429, statusFrom(direct, "203.0.113.2"), "a forged header does not open a new bucket");
        } finally {
            direct.stop();
        }
        RestServer proxied = server(new RateLimiter(1, 0, Duration.ofMinutes(1),
                ClientAddresses.trusting("trustedProxies", "127.0.0.0/8")), () -> null);
        try {
            assertEquals(503, statusFrom(proxied, "203.0.113.1"));
            assertEquals(503, statusFrom(proxied, "203.0.113.2"), "another client behind the trusted proxy");
            assertEquals(429, statusFrom(proxied, "203.0.113.1"), "the first client's bucket is empty");
            assertEquals(429, statusFrom(proxied, "198.51.100.7, 203.0.113.1"),
                    "what the client put in front of the proxy's entry does not count");
        } finally {
            proxied.stop();
        }
    }

    @Test
    void idleCallersAreForgotten() throws Exception {
        // An expiry long enough that a loaded machine still asserts the first count in time; then polled.
        RateLimiter limits = new RateLimiter(5, 0, Duration.ofSeconds(2));
        RestServer server = server(limits, () -> null);
        try {
            HttpTestClient http = new HttpTestClient(server.port());
            http.get("/v1/models");
            assertEquals(1, limits.callers());
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (limits.callers() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertEquals(0, limits.callers());
        } finally {
            server.stop();
        }
    }

    @Test
    void badSettingsAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new RateLimiter(-1, 0, Duration.ofMinutes(1))).getMessage().contains("requestsPerSecond"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new RateLimiter(0, -1, Duration.ofMinutes(1))).getMessage().contains("tokensPerMinute"));
    }
}
