package io.gantry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * An OpenAI-style streaming server for the serving benchmark's tests: {@code /v1/completions} and
 * {@code /v1/chat/completions} stream one token per chunk, the first after {@code firstTokenMillis} and the others
 * {@code tokenGapMillis} apart, {@code max_tokens} of them; each request can instead be made to fail in a chosen way.
 * It records what it was sent.
 */
final class FakeOpenAiServer implements AutoCloseable {

    /** What the server does with a request. */
    enum Behaviour {
        /** Streams the tokens, usage when asked for, and [DONE]. */
        STREAM,
        /** Answers HTTP 500 with an OpenAI error body. */
        HTTP_500,
        /** Streams two tokens, then a chunk that is not JSON. */
        MALFORMED_CHUNK,
        /** Streams two tokens, then closes the connection in the middle of the chunked body. */
        CONNECTION_DROP,
        /** Streams two tokens, then an error event. */
        ERROR_EVENT,
        /** Answers 200 with a JSON body and no stream. */
        NOT_A_STREAM,
        /** Waits ten seconds before answering. */
        STALL
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    final List<JsonNode> bodies = new CopyOnWriteArrayList<>();
    final List<String> authorizations = new CopyOnWriteArrayList<>();
    private final AtomicInteger requestCount = new AtomicInteger();
    private final HttpServer server;
    private final long firstTokenMillis;
    private final long tokenGapMillis;
    private final IntFunction<Behaviour> behaviour;

    /**
     * @param behaviour what to do with the request of each number, counted from 0 in the order they arrive
     */
    FakeOpenAiServer(long firstTokenMillis, long tokenGapMillis, IntFunction<Behaviour> behaviour) throws IOException {
        this.firstTokenMillis = firstTokenMillis;
        this.tokenGapMillis = tokenGapMillis;
        this.behaviour = behaviour;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/v1/completions", exchange -> serve(exchange, false));
        server.createContext("/v1/chat/completions", exchange -> serve(exchange, true));
        server.createContext("/v1/models", exchange -> write(exchange, 200, "application/json",
                "{\"object\":\"list\",\"data\":[{\"id\":\"fake-model\",\"object\":\"model\"}]}"));
        server.start();
    }

    /** @return the base URL */
    String url() {
        return "http://" + server.getAddress().getHostString() + ":" + server.getAddress().getPort();
    }

    private void serve(HttpExchange exchange, boolean chat) throws IOException {
        JsonNode body = JSON.readTree(exchange.getRequestBody());
        bodies.add(body);
        authorizations.add(String.valueOf(exchange.getRequestHeaders().getFirst("Authorization")));
        Behaviour what = behaviour.apply(requestCount.getAndIncrement());
        switch (what) {
            case HTTP_500 -> write(exchange, 500, "application/json",
                    "{\"error\":{\"message\":\"the model fell over\",\"type\":\"server_error\"}}");
            case NOT_A_STREAM -> write(exchange, 200, "application/json", "{\"choices\":[{\"text\":\"all\"}]}");
            default -> stream(exchange, body, chat, what);
        }
        // Not closed when the handler throws: that is how CONNECTION_DROP leaves the chunked body unfinished.
        exchange.close();
    }

    private void stream(HttpExchange exchange, JsonNode body, boolean chat, Behaviour what) throws IOException {
        if (what == Behaviour.STALL) {
            pause(10_000);
        }
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
        exchange.sendResponseHeaders(200, 0);
        OutputStream out = exchange.getResponseBody();
        if (chat) {
            event(out, "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}");
        }
        int tokens = body.path("max_tokens").asInt();
        pause(firstTokenMillis);
        for (int i = 0; i < tokens; i++) {
            if (i == 2 && what != Behaviour.STREAM) {
                switch (what) {
                    case MALFORMED_CHUNK -> event(out, "{\"choices\":[{\"text\": oops");
                    case ERROR_EVENT -> event(out, "{\"error\":{\"message\":\"out of memory\",\"code\":500}}");
                    // Thrown out of the handler, it makes the server close the connection where it is.
                    default -> throw new IllegalStateException("dropping the connection");
                }
                return;
            }
            if (i > 0) {
                pause(tokenGapMillis);
            }
            ObjectNode choice = JSON.createObjectNode().put("index", 0);
            if (chat) {
                choice.putObject("delta").put("content", " w" + i);
            } else {
                choice.put("text", " w" + i);
            }
            event(out, "{\"choices\":[" + choice + "]}");
        }
        event(out, "{\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":\"length\"}]}");
        if (body.path("stream_options").path("include_usage").asBoolean()) {
            int promptTokens = chat ? 7 : body.path("prompt").asText().split(" ").length + 1;
            event(out, "{\"choices\":[],\"usage\":{\"prompt_tokens\":" + promptTokens + ",\"completion_tokens\":"
                    + tokens + "}}");
        }
        event(out, "[DONE]");
    }

    private static void event(OutputStream out, String data) throws IOException {
        out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void write(HttpExchange exchange, int status, String contentType, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
