package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** {@code maxConnections} and {@code idleTimeoutSeconds}: what a server does with connections that send nothing. */
class ConnectionLimitsTest {

    private static RestServer server(int maxConnections, Duration idleTimeout) {
        RestServer server = new RestServer(new ServerSettings("127.0.0.1", 0, 64 * 1024, 4096, Duration.ofSeconds(1),
                Duration.ofHours(1), 100, 16, maxConnections, idleTimeout), () -> null);
        server.start();
        return server;
    }

    private static Socket connect(RestServer server) throws Exception {
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
        return socket;
    }

    @Test
    void pastTheLimitAConnectionWaitsUntilAnotherCloses() throws Exception {
        RestServer server = server(2, Duration.ofMinutes(1));
        try (HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                Socket first = connect(server); Socket second = connect(server)) {
            Thread.sleep(200);
            CompletableFuture<HttpResponse<String>> third = client.sendAsync(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + server.port() + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            Thread.sleep(700);
            assertFalse(third.isDone(), "the third connection is not served while two are open");
            first.close();
            assertEquals(503, third.get(10, TimeUnit.SECONDS).statusCode(), "served once one closed (no model)");
        } finally {
            server.stop();
        }
    }

    @Test
    void aConnectionThatStaysSilentIsClosedAfterTheIdleTimeout() throws Exception {
        RestServer server = server(100, Duration.ofSeconds(2));
        try (Socket silent = connect(server)) {
            silent.setSoTimeout(10_000);
            long start = System.nanoTime();
            InputStream in = silent.getInputStream();
            assertEquals(-1, in.read(), "the server closed it");
            double seconds = (System.nanoTime() - start) / 1e9;
            assertTrue(seconds > 1.5 && seconds < 8, "closed after about 2 s, not " + seconds);
        } finally {
            server.stop();
        }
    }

    @Test
    void aRequestThatTakesLongerThanTheIdleTimeoutIsNotCut() throws Exception {
        try (TestEngine engine = new TestEngine()) {
            engine.tokenDelayNanos = TimeUnit.MILLISECONDS.toNanos(150);
            RestServer server = new RestServer(new ServerSettings("127.0.0.1", 0, 64 * 1024, 4096,
                    Duration.ofSeconds(1), Duration.ofHours(1), 100, 16, 100, Duration.ofSeconds(2)), () -> engine);
            server.start();
            try {
                HttpTestClient.Response response = new HttpTestClient(server.port()).post("/v1/completions", """
                        {"prompt": "Once upon a time", "max_tokens": 25, "temperature": 0, "ignore_eos": true}""");
                assertEquals(200, response.status(), "a whole answer computed for about 4 s, twice the idle timeout");
                assertEquals(25, response.json().get("usage").get("completion_tokens").asInt());
            } finally {
                server.stop();
            }
        }
    }

    @Test
    void badSettingsAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> server(0, Duration.ofMinutes(1)))
                .getMessage().contains("maxConnections"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> server(10, Duration.ofSeconds(1)))
                .getMessage().contains("idleTimeoutSeconds must be more than keepAliveSeconds"));
    }
}
