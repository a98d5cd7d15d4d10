package io.gantry.transport.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.gantry.api.inference.Completion;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.InferenceService;

import io.javalin.http.Context;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code POST /v1/chat/completions}, {@code POST /v1/completions} and {@code POST /v1/models/{model}/generate}:
 * whole responses, server-sent event streams, and asynchronous jobs.
 *
 * <p>Requests run on virtual threads, so a handler simply waits for its generation. A stream's handler is also the
 * thread that writes: the engine's thread only queues tokens and wakes it ({@link ChoiceStream}). A write that
 * fails (the client went away) or a client that reads too slowly cancels the generation, which frees its KV space
 * at the engine's next step.
 */
final class CompletionEndpoints {

    private static final System.Logger LOG = System.getLogger(CompletionEndpoints.class.getName());
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII);

    private final RestServer server;
    private final Jobs jobs;

    CompletionEndpoints(RestServer server, Jobs jobs) {
        this.server = server;
        this.jobs = jobs;
    }

    void chat(Context ctx) throws Exception {
        InferenceService service = server.service();
        JsonBody body = server.body(ctx);
        complete(ctx, service, CompletionFormat.CHAT,
                CompletionRequest.chat(body, RestServer.defaultModel(service), server.settings().maxChoices()));
    }

    void text(Context ctx) throws Exception {
        InferenceService service = server.service();
        JsonBody body = server.body(ctx);
        complete(ctx, service, CompletionFormat.TEXT,
                CompletionRequest.text(body, RestServer.defaultModel(service), server.settings().maxChoices()));
    }

    /** The original brief's endpoint: {@code {"prompt", "max_tokens", "temperature"}} to {@code {"text", ...}}. */
    void generate(Context ctx) throws Exception {
        InferenceService service = server.service();
        CompletionRequest request = CompletionRequest.generate(server.body(ctx), ctx.pathParam("model"));
        if (Boolean.parseBoolean(ctx.queryParam("async"))) {
            Jobs.Job job = jobs.start(service, request, server.active());
            // The rate limits charge the job's tokens to this caller when it ends.
            ctx.attribute(Generation.ATTRIBUTE, job.generation);
            ctx.header("Location", "/v1/jobs/" + job.id);
            RestServer.json(ctx, 202, job.view());
            return;
        }
        Generation generation = finished(ctx, service, request);
        Generation.Choice choice = generation.choices().getFirst();
        RestServer.json(ctx, 200, generateResult(request.model(), choice.text.toString(),
                Generation.finishReason((Completion) choice.end()), generation.usage()));
    }

    /** @return the body of a generate response, and the result of a finished job */
    static ObjectNode generateResult(String model, String text, String finishReason, Generation.Usage usage) {
        ObjectNode result = JsonBody.MAPPER.createObjectNode().put("model", model).put("text", text)
                .put("finish_reason", finishReason);
        result.set("usage", CompletionFormat.usage(usage));
        return result;
    }

    private void complete(Context ctx, InferenceService service, CompletionFormat format, CompletionRequest request)
            throws Exception {
        String id = format.idPrefix() + UUID.randomUUID().toString().replace("-", "");
        long created = Instant.now().getEpochSecond();
        if (request.stream()) {
            stream(ctx, service, format, request, id, created);
            return;
        }
        Generation generation = finished(ctx, service, request);
        ObjectNode response = format.envelope(id, created, request.model(), false);
        ArrayNode choices = response.withArray("choices");
        for (Generation.Choice choice : generation.choices()) {
            choices.add(format.choice(choice.index, choice.text.toString(),
                    request.logprobs() ? choice.tokens : null, 0, Generation.finishReason((Completion) choice.end())));
        }
        response.set("usage", CompletionFormat.usage(generation.usage()));
        RestServer.json(ctx, 200, response);
    }

    /**
     * Runs a request to its end on this thread (or replays it from the response cache).
     *
     * @return the ended generation, every choice's text and tokens taken
     * @throws ApiException if the engine refused it, or a choice failed or timed out
     */
    private Generation finished(Context ctx, InferenceService service, CompletionRequest request)
            throws InterruptedException {
        Generation generation = server.caching().start(ctx, service, request, Integer.MAX_VALUE,
                Thread.currentThread(), server.active());
        ctx.attribute(Generation.ATTRIBUTE, generation);
        try {
            generation.awaitEnd();
        } finally {
            generation.close();
        }
        ApiException failure = generation.failure();
        if (failure != null) {
            throw failure;
        }
        generation.choices().forEach(choice -> choice.take(request.logprobs()));
        return generation;
    }

    private void stream(Context ctx, InferenceService service, CompletionFormat format, CompletionRequest request,
            String id, long created) {
        // Submitted before the response starts: a refused request still gets its error status.
        try (Generation generation = server.caching().start(ctx, service, request,
                server.settings().streamBufferTokens(), Thread.currentThread(), server.active())) {
            ctx.attribute(Generation.ATTRIBUTE, generation);
            ctx.status(200);
            ctx.res().setContentType("text/event-stream; charset=utf-8");
            ctx.res().setHeader("Cache-Control", "no-cache");
            ctx.res().setHeader("X-Accel-Buffering", "no");
            Events events = new Events(ctx.res().getOutputStream(), format, id, created, request);
            writeStream(events, generation, format, request);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "Stream " + id + " ended early: the client went away", e);
        }
    }

    private void writeStream(Events events, Generation generation, CompletionFormat format,
            CompletionRequest request) throws IOException {
        for (Generation.Choice choice : generation.choices()) {
            ObjectNode first = format.firstChunkChoice(choice.index);
            if (first != null) {
                events.chunk(first);
            }
        }
        events.flush();
        long keepAliveNanos = server.settings().keepAlive().toNanos();
        long lastWrite = System.nanoTime();
        while (true) {
            boolean wrote = false;
            boolean ended = true;
            for (Generation.Choice choice : generation.choices()) {
                if (choice.reported) {
                    continue;
                }
                Object end = choice.end();
                int offset = choice.text.length();
                List<GeneratedToken> batch = choice.take(false);
                if (choice.stream.overflowed()) {
                    LOG.log(System.Logger.Level.DEBUG, "Stream " + events.id + " cancelled: the client reads too "
                            + "slowly");
                    return;
                }
                String text = choice.text.substring(offset);
                if (!text.isEmpty() || (request.logprobs() && !batch.isEmpty())) {
                    events.chunk(format.chunkChoice(choice.index, text, request.logprobs() ? batch : null, offset));
                    wrote = true;
                }
                if (end == null) {
                    ended = false;
                    continue;
                }
                ApiException failure = Generation.failure(end, request.promptParam());
                if (failure != null) {
                    events.data(RestServer.errorBody(failure));
                    events.flush();
                    return;
                }
                events.chunk(format.finalChunkChoice(choice.index, Generation.finishReason((Completion) end)));
                choice.reported = true;
                wrote = true;
            }
            long now = System.nanoTime();
            if (wrote) {
                events.flush();
                lastWrite = now;
            }
            if (ended) {
                break;
            }
            if (!wrote) {
                if (now - lastWrite >= keepAliveNanos) {
                    // A comment line keeps proxies from timing the stream out, and finds a client that left.
                    events.write(KEEP_ALIVE);
                    events.flush();
                    lastWrite = now;
                }
                // The engine's thread unparks this one when tokens or the end arrive.
                LockSupport.parkNanos(this, keepAliveNanos - (now - lastWrite));
            }
        }
        if (request.includeUsage()) {
            ObjectNode usage = events.envelope();
            usage.set("usage", CompletionFormat.usage(generation.usage()));
            events.data(usage);
        }
        events.write(DONE);
        events.flush();
    }

    /** A server-sent event stream of completion chunks. */
    private static final class Events {
        private final OutputStream out;
        private final CompletionFormat format;
        private final String id;
        private final long created;
        private final CompletionRequest request;

        Events(OutputStream out, CompletionFormat format, String id, long created, CompletionRequest request) {
            this.out = out;
            this.format = format;
            this.id = id;
            this.created = created;
            this.request = request;
        }

        ObjectNode envelope() {
            return format.envelope(id, created, request.model(), true);
        }

        void chunk(ObjectNode choice) throws IOException {
            ObjectNode chunk = envelope();
            chunk.withArray("choices").add(choice);
            if (request.includeUsage()) {
                // With include_usage, OpenAI sends "usage": null on every chunk but the last.
                chunk.putNull("usage");
            }
            data(chunk);
        }

        void data(JsonNode event) throws IOException {
            out.write("data: ".getBytes(StandardCharsets.US_ASCII));
            out.write(JsonBody.MAPPER.writeValueAsBytes(event));
            out.write("\n\n".getBytes(StandardCharsets.US_ASCII));
        }

        void write(byte[] bytes) throws IOException {
            out.write(bytes);
        }

        void flush() throws IOException {
            out.flush();
        }
    }
}
