package io.gantry.transport.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Plain HTTP against a test server: JSON requests and responses, and server-sent event streams read line by line. */
final class HttpTestClient {

    static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(TIMEOUT).build();
    private final String base;

    HttpTestClient(int port) {
        this.base = "http://127.0.0.1:" + port;
    }

    /** A response: its status, one header and its JSON body. */
    record Response(int status, HttpResponse<String> raw, JsonNode json) {
        String header(String name) {
            return raw.headers().firstValue(name).orElse(null);
        }

        /** @return the error object of an error response */
        JsonNode error() {
            return json.get("error");
        }
    }

    Response post(String path, String body) throws IOException, InterruptedException {
        return send(request(path).POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)));
    }

    Response post(String path, byte[] body) throws IOException, InterruptedException {
        return send(request(path).POST(HttpRequest.BodyPublishers.ofByteArray(body)));
    }

    Response get(String path) throws IOException, InterruptedException {
        return send(request(path).GET());
    }

    Response delete(String path) throws IOException, InterruptedException {
        return send(request(path).DELETE());
    }

    /**
     * Posts a streaming request and reads the whole event stream.
     *
     * @return the status and the data of every event, in order ({@code [DONE]} included); comments are skipped
     */
    Events stream(String path, String body) throws IOException, InterruptedException {
        HttpResponse<Stream<String>> response = client.send(
                request(path).POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)).build(),
                HttpResponse.BodyHandlers.ofLines());
        List<String> data = new ArrayList<>();
        try (Stream<String> lines = response.body()) {
            lines.filter(line -> line.startsWith("data: ")).forEach(line -> data.add(line.substring(6)));
        }
        return new Events(response.statusCode(), response.headers().firstValue("Content-Type").orElse(""), data);
    }

    /** An event stream as received. */
    record Events(int status, String contentType, List<String> data) {
        /** @return every event before {@code [DONE]}, parsed */
        List<JsonNode> chunks() {
            List<JsonNode> chunks = new ArrayList<>();
            for (String event : data) {
                if (!event.equals("[DONE]")) {
                    try {
                        chunks.add(JSON.readTree(event));
                    } catch (IOException e) {
                        throw new AssertionError("An event is not JSON: " + event, e);
                    }
                }
            }
            return chunks;
        }
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base + path)).timeout(TIMEOUT)
                .header("Content-Type", "application/json");
    }

    private Response send(HttpRequest.Builder request) throws IOException, InterruptedException {
        HttpResponse<String> response = client.send(request.build(), HttpResponse.BodyHandlers.ofString());
        boolean isJson = response.headers().firstValue("Content-Type").orElse("").startsWith("application/json");
        JsonNode json = isJson ? JSON.readTree(response.body()) : null;
        return new Response(response.statusCode(), response, json);
    }
}
