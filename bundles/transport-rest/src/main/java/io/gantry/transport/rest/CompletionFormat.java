package io.gantry.transport.rest;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.gantry.api.inference.GeneratedToken;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The OpenAI response shapes of the two completion APIs: chat ({@code chat.completion}, a message per choice, a
 * delta per chunk) and text ({@code text_completion}, a text per choice and per chunk). One generation loop
 * serves both; only the JSON differs.
 */
enum CompletionFormat {

    /** {@code /v1/chat/completions}. */
    CHAT("chatcmpl-", "chat.completion", "chat.completion.chunk") {
        @Override
        ObjectNode choice(int index, String text, List<GeneratedToken> logprobs, int offset, String finishReason) {
            ObjectNode choice = JsonBody.MAPPER.createObjectNode().put("index", index);
            choice.putObject("message").put("role", "assistant").put("content", text).putNull("refusal");
            putLogprobs(choice, logprobs, offset);
            return choice.put("finish_reason", finishReason);
        }

        @Override
        ObjectNode chunkChoice(int index, String text, List<GeneratedToken> logprobs, int offset) {
            ObjectNode choice = JsonBody.MAPPER.createObjectNode().put("index", index);
            choice.putObject("delta").put("content", text);
            putLogprobs(choice, logprobs, offset);
            return choice.putNull("finish_reason");
        }

        @Override
        ObjectNode finalChunkChoice(int index, String finishReason) {
            ObjectNode choice = JsonBody.MAPPER.createObjectNode().put("index", index);
            choice.putObject("delta");
            return choice.putNull("logprobs").put("finish_reason", finishReason);
        }

        @Override
        ObjectNode firstChunkChoice(int index) {
            ObjectNode choice = JsonBody.MAPPER.createObjectNode().put("index", index);
            choice.putObject("delta").put("role", "assistant").put("content", "");
            return choice.putNull("logprobs").putNull("finish_reason");
        }

        @Override
        void writeLogprobs(ObjectNode logprobs, List<GeneratedToken> tokens, int offset) {
            ArrayNode content = logprobs.putArray("content");
            for (GeneratedToken token : tokens) {
                // The text released with a stop (held back for a possible stop string) has no log-probability.
                if (Float.isNaN(token.logprob())) {
                    continue;
                }
                ObjectNode entry = tokenEntry(content.addObject(), token.text(), token.logprob());
                ArrayNode top = entry.putArray("top_logprobs");
                for (GeneratedToken.TokenLogprob alternative : token.topLogprobs()) {
                    tokenEntry(top.addObject(), alternative.text(), alternative.logprob());
                }
            }
            logprobs.putNull("refusal");
        }

        private static ObjectNode tokenEntry(ObjectNode entry, String text, float logprob) {
            entry.put("token", text).put("logprob", logprob);
            ArrayNode bytes = entry.putArray("bytes");
            for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
                bytes.add(b & 0xff);
            }
            return entry;
        }
    },

    /** {@code /v1/completions}. */
    TEXT("cmpl-", "text_completion", "text_completion") {
        @Override
        ObjectNode choice(int index, String text, List<GeneratedToken> logprobs, int offset, String finishReason) {
            ObjectNode choice = JsonBody.MAPPER.createObjectNode().put("text", text).put("index", index);
            putLogprobs(choice, logprobs, offset);
            return choice.put("finish_reason", finishReason);
        }

        @Override
        ObjectNode chunkChoice(int index, String text, List<GeneratedToken> logprobs, int offset) {
            return choice(index, text, logprobs, offset, null);
        }

        @Override
        ObjectNode finalChunkChoice(int index, String finishReason) {
            return choice(index, "", null, 0, finishReason);
        }

        @Override
        ObjectNode firstChunkChoice(int index) {
            return null;
        }

        @Override
        void writeLogprobs(ObjectNode logprobs, List<GeneratedToken> tokens, int offset) {
            ArrayNode texts = logprobs.putArray("tokens");
            ArrayNode values = logprobs.putArray("token_logprobs");
            ArrayNode tops = logprobs.putArray("top_logprobs");
            ArrayNode offsets = logprobs.putArray("text_offset");
            int at = offset;
            for (GeneratedToken token : tokens) {
                texts.add(token.text());
                if (Float.isNaN(token.logprob())) {
                    values.addNull();
                } else {
                    values.add(token.logprob());
                }
                ObjectNode top = tops.addObject();
                for (GeneratedToken.TokenLogprob alternative : token.topLogprobs()) {
                    top.put(alternative.text(), alternative.logprob());
                }
                offsets.add(at);
                at += token.text().length();
            }
        }
    };

    private final String idPrefix;
    private final String object;
    private final String chunkObject;

    CompletionFormat(String idPrefix, String object, String chunkObject) {
        this.idPrefix = idPrefix;
        this.object = object;
        this.chunkObject = chunkObject;
    }

    /** @return the prefix of response ids */
    String idPrefix() {
        return idPrefix;
    }

    /**
     * @param index        the choice's index
     * @param text         its whole text
     * @param logprobs     its tokens when log-probabilities are reported, otherwise {@code null}
     * @param offset       where the tokens' text starts in the choice's text
     * @param finishReason {@code stop} or {@code length}
     * @return a choice of a whole response
     */
    abstract ObjectNode choice(int index, String text, List<GeneratedToken> logprobs, int offset, String finishReason);

    /** @return a chunk's choice carrying text (and log-probabilities of its tokens, if reported) */
    abstract ObjectNode chunkChoice(int index, String text, List<GeneratedToken> logprobs, int offset);

    /** @return the chunk's choice that ends a choice */
    abstract ObjectNode finalChunkChoice(int index, String finishReason);

    /** @return the chunk's choice that opens a choice (the chat's role), or {@code null} if the format has none */
    abstract ObjectNode firstChunkChoice(int index);

    /** Puts the choice's {@code logprobs}: {@code null} when {@code tokens} is, otherwise the format's object. */
    final void putLogprobs(ObjectNode choice, List<GeneratedToken> tokens, int offset) {
        if (tokens == null) {
            choice.putNull("logprobs");
        } else {
            writeLogprobs(choice.putObject("logprobs"), tokens, offset);
        }
    }

    /** Fills the format's {@code logprobs} object for {@code tokens}, whose text starts at {@code offset}. */
    abstract void writeLogprobs(ObjectNode logprobs, List<GeneratedToken> tokens, int offset);

    /**
     * @param id      the response id
     * @param created seconds since the epoch
     * @param model   the model id
     * @param chunk   whether this is a stream chunk
     * @return a response envelope with an empty {@code choices} array
     */
    ObjectNode envelope(String id, long created, String model, boolean chunk) {
        ObjectNode envelope = JsonBody.MAPPER.createObjectNode().put("id", id)
                .put("object", chunk ? chunkObject : object).put("created", created).put("model", model);
        envelope.putArray("choices");
        return envelope;
    }

    /** @return the OpenAI usage object */
    static ObjectNode usage(Generation.Usage usage) {
        ObjectNode node = JsonBody.MAPPER.createObjectNode().put("prompt_tokens", usage.promptTokens())
                .put("completion_tokens", usage.completionTokens())
                .put("total_tokens", usage.promptTokens() + usage.completionTokens());
        node.putObject("prompt_tokens_details").put("cached_tokens", usage.cachedTokens());
        return node;
    }
}
