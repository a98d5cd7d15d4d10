package io.gantry.transport.rest;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.gantry.api.cache.CachedResponse;
import io.gantry.api.cache.ResponseCache;
import io.gantry.api.inference.ChatMessage;
import io.gantry.api.inference.Completion;
import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.InferenceService;
import io.gantry.api.inference.ModelInfo;
import io.gantry.api.inference.Prompt;
import io.gantry.api.inference.SamplingParams;
import io.gantry.api.inference.TokenSink;

import io.javalin.http.Context;

import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * Puts the {@link ResponseCache} (when one is registered) in front of the engine for completion requests whose
 * answer is fixed by the request: one choice ({@code n} 1, one prompt) decoded greedily (temperature 0) or with a
 * fixed seed. A hit is replayed without touching the engine, as a whole body or as a stream shaped like a live one;
 * its usage counts every prompt token as cached. A miss records the engine's tokens and stores the response once it
 * ended normally (stopped or reached its length).
 *
 * <p>The key is the SHA-256 of a canonical JSON of the normalized request: the model (and when it was loaded, so
 * that a reloaded model does not answer from its predecessor's entries), the prompt and every parameter that
 * shapes the output. The request's {@code Cache-Control} header is honoured: {@code no-cache} skips the lookup but
 * stores the fresh answer, {@code no-store} keeps it from being stored. Each response says what the cache did in
 * {@value #HEADER}: {@code hit}, {@code miss}, {@code bypass} or {@code uncacheable}.
 */
final class ResponseCaching {

    /** The response header that says what the cache did. */
    static final String HEADER = "X-Gantry-Cache";

    private final Supplier<ResponseCache> cache;

    /** @param cache the registered cache, read once per request; {@code null} when there is none */
    ResponseCaching(Supplier<ResponseCache> cache) {
        this.cache = cache;
    }

    /**
     * Starts a request's generation: replayed from the cache on a hit, otherwise submitted to the engine (and
     * recorded for the cache when it may be stored).
     *
     * @see Generation#submit(InferenceService, CompletionRequest, int, Thread, Set)
     */
    Generation start(Context ctx, InferenceService service, CompletionRequest request, int capacity, Thread reader,
            Set<Generation> active) {
        ResponseCache responses = cache.get();
        String key = responses == null ? null : key(service, request);
        if (key == null) {
            if (responses != null) {
                ctx.header(HEADER, "uncacheable");
            }
            return Generation.submit(service, request, capacity, reader, active);
        }
        Set<String> directives = directives(ctx.header("Cache-Control"));
        if (!directives.contains("no-cache")) {
            Optional<CachedResponse> hit = responses.lookup(key);
            if (hit.isPresent()) {
                ctx.header(HEADER, "hit");
                Completion stored = hit.get().completion();
                return Generation.replay(request, hit.get().tokens(), new Completion(stored.reason(),
                        stored.promptTokens(), stored.completionTokens(), stored.promptTokens()));
            }
        }
        ctx.header(HEADER, directives.contains("no-cache") ? "bypass" : "miss");
        UnaryOperator<TokenSink> tap = directives.contains("no-store") ? UnaryOperator.identity()
                : sink -> new Recorder(sink, responses, key);
        return Generation.submit(service, request, capacity, reader, active, tap);
    }

    /** @return the lower-cased directives of a {@code Cache-Control} header */
    static Set<String> directives(String header) {
        if (header == null) {
            return Set.of();
        }
        Set<String> directives = new HashSet<>();
        for (String directive : header.split(",")) {
            String name = directive.strip().toLowerCase(Locale.ROOT);
            int equals = name.indexOf('=');
            directives.add(equals < 0 ? name : name.substring(0, equals).strip());
        }
        return directives;
    }

    /**
     * @return the cache key of a request whose answer is fixed by it, or {@code null} if it may differ from one run
     *         to the next (sampled without a seed) or has several choices
     */
    static String key(InferenceService service, CompletionRequest request) {
        if (request.choices().size() != 1) {
            return null;
        }
        GenerationRequest choice = request.choices().getFirst();
        SamplingParams sampling = choice.sampling();
        boolean greedy = sampling.temperature() == 0f;
        if (!greedy && sampling.seed() == null) {
            return null;
        }
        Optional<ModelInfo> model = service.models().stream().filter(m -> m.id().equals(choice.model())).findFirst();
        if (model.isEmpty()) {
            // The engine will say it does not know the model.
            return null;
        }
        ObjectNode canonical = JsonBody.MAPPER.createObjectNode();
        canonical.put("model", choice.model()).put("model_created", model.get().createdEpochSeconds());
        canonical.set("prompt", prompt(choice.prompt()));
        canonical.put("temperature", sampling.temperature()).put("top_k", sampling.topK())
                .put("top_p", sampling.topP()).put("min_p", sampling.minP())
                .put("repetition_penalty", sampling.repetitionPenalty())
                .put("presence_penalty", sampling.presencePenalty())
                .put("frequency_penalty", sampling.frequencyPenalty());
        // A greedy choice does not depend on the seed: requests differing only there share an entry.
        if (greedy) {
            canonical.putNull("seed");
        } else {
            canonical.put("seed", sampling.seed());
        }
        canonical.put("max_tokens", choice.maxTokens());
        ArrayNode stop = canonical.putArray("stop");
        choice.stop().forEach(stop::add);
        ArrayNode stopTokens = canonical.putArray("stop_token_ids");
        if (choice.stopTokenIds() != null) {
            for (int id : choice.stopTokenIds()) {
                stopTokens.add(id);
            }
        }
        canonical.put("ignore_eos", choice.ignoreEos()).put("top_logprobs", choice.topLogprobs());
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(JsonBody.MAPPER.writeValueAsBytes(canonical));
            return HexFormat.of().formatHex(digest);
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new IllegalStateException("A cache key could not be computed", e);
        }
    }

    private static ObjectNode prompt(Prompt prompt) {
        ObjectNode node = JsonBody.MAPPER.createObjectNode();
        switch (prompt) {
            case Prompt.Text text -> node.put("type", "text").put("text", text.text());
            case Prompt.Tokens tokens -> {
                ArrayNode ids = node.put("type", "tokens").putArray("tokens");
                for (int id : tokens.tokens()) {
                    ids.add(id);
                }
            }
            case Prompt.Chat chat -> {
                ArrayNode messages = node.put("type", "chat").putArray("messages");
                for (ChatMessage message : chat.messages()) {
                    messages.addObject().put("role", message.role()).put("content", message.content());
                }
            }
        }
        return node;
    }

    /** Passes the engine's tokens on and keeps them; stores the response when it ends normally. */
    private static final class Recorder implements TokenSink {
        private final TokenSink next;
        private final ResponseCache cache;
        private final String key;
        private final List<GeneratedToken> tokens = new ArrayList<>();

        Recorder(TokenSink next, ResponseCache cache, String key) {
            this.next = next;
            this.cache = cache;
            this.key = key;
        }

        @Override
        public void onToken(GeneratedToken token) {
            tokens.add(token);
            next.onToken(token);
        }

        @Override
        public void onComplete(Completion completion) {
            // Stored before the reader learns of the end, so that the client's next identical request hits.
            if (completion.reason() == FinishReason.STOP || completion.reason() == FinishReason.LENGTH) {
                cache.store(key, new CachedResponse(tokens, completion));
            }
            next.onComplete(completion);
        }

        @Override
        public void onError(InferenceException error) {
            next.onError(error);
        }
    }
}
