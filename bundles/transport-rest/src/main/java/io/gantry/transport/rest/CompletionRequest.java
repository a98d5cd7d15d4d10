package io.gantry.transport.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.gantry.api.inference.ChatMessage;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.Prompt;
import io.gantry.api.inference.SamplingParams;

import java.util.ArrayList;
import java.util.List;

/**
 * A completion request as the engine takes it: one {@link GenerationRequest} per choice ({@code n} per prompt),
 * plus what shapes the response. Read from the body of {@code /v1/chat/completions}, {@code /v1/completions} or
 * {@code /v1/models/{model}/generate}; every value is checked before anything is submitted.
 *
 * @param model        the model id
 * @param choices      the requests to submit, prompt by prompt, {@code n} for each
 * @param n            choices per prompt
 * @param logprobs     whether the response reports log-probabilities
 * @param stream       whether the response is a stream of server-sent events
 * @param includeUsage whether a stream ends with a usage chunk ({@code stream_options.include_usage})
 * @param promptParam  the field that holds the prompt, for errors about it
 */
record CompletionRequest(String model, List<GenerationRequest> choices, int n, boolean logprobs, boolean stream,
        boolean includeUsage, String promptParam) {

    /** The most stop strings a request may give. */
    static final int MAX_STOP_STRINGS = 16;

    /** Reads a {@code /v1/chat/completions} body. */
    static CompletionRequest chat(JsonBody body, String defaultModel, int maxChoices) {
        rejectUnsupported(body, "tools", "functions", "logit_bias");
        JsonBody format = body.object("response_format");
        if (format != null && !"text".equals(format.string("type"))) {
            throw ApiException.unsupported("response_format", "Only the response_format type 'text' is supported");
        }
        Boolean logprobs = body.bool("logprobs");
        Integer top = body.integer("top_logprobs");
        if (top != null && !Boolean.TRUE.equals(logprobs)) {
            throw ApiException.invalid("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
        }
        int topLogprobs = Boolean.TRUE.equals(logprobs) ? (top == null ? 0 : top) : -1;
        String maxParam = body.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        Prompt prompt = new Prompt.Chat(messages(body));
        return read(body, defaultModel, List.of(prompt), maxParam, topLogprobs, "messages", maxChoices);
    }

    /** Reads a {@code /v1/completions} body. */
    static CompletionRequest text(JsonBody body, String defaultModel, int maxChoices) {
        rejectUnsupported(body, "logit_bias");
        if (Boolean.TRUE.equals(body.bool("echo"))) {
            throw ApiException.unsupported("echo", "'echo' is not supported");
        }
        String suffix = body.string("suffix");
        if (suffix != null && !suffix.isEmpty()) {
            throw ApiException.unsupported("suffix", "'suffix' is not supported");
        }
        Integer bestOf = body.integer("best_of");
        Integer n = body.integer("n");
        if (bestOf != null && bestOf != (n == null ? 1 : n)) {
            throw ApiException.unsupported("best_of", "'best_of' other than 'n' is not supported");
        }
        Integer logprobs = body.integer("logprobs");
        return read(body, defaultModel, prompts(body), "max_tokens", logprobs == null ? -1 : logprobs, "prompt",
                maxChoices);
    }

    /** Reads a {@code /v1/models/{model}/generate} body: one text prompt, one choice, no stream. */
    static CompletionRequest generate(JsonBody body, String model) {
        String prompt = body.string("prompt");
        if (prompt == null) {
            throw ApiException.invalid("prompt", "'prompt' is required");
        }
        if (body.has("n") && body.integer("n") != 1) {
            throw ApiException.unsupported("n", "This endpoint generates one text; use /v1/completions for 'n'");
        }
        if (Boolean.TRUE.equals(body.bool("stream"))) {
            throw ApiException.unsupported("stream", "This endpoint does not stream; use /v1/completions");
        }
        return read(body, model, List.of(new Prompt.Text(prompt)), "max_tokens", -1, "prompt", 1);
    }

    private static CompletionRequest read(JsonBody body, String defaultModel, List<Prompt> prompts,
            String maxTokensParam, int topLogprobs, String promptParam, int maxChoices) {
        String model = body.string("model");
        if (model == null) {
            model = defaultModel;
        }
        int n = orDefault(body.integer("n"), 1);
        if (n < 1) {
            throw ApiException.invalid("n", "'n' must be at least 1, got " + n);
        }
        if ((long) n * prompts.size() > maxChoices) {
            throw ApiException.invalid("n", "A request may ask for at most " + maxChoices + " choices in all, got "
                    + (long) n * prompts.size());
        }
        Integer maxTokens = body.integer(maxTokensParam);
        if (maxTokens != null && maxTokens < 1) {
            throw ApiException.invalid(maxTokensParam, "'" + maxTokensParam + "' must be at least 1, got " + maxTokens);
        }
        if (maxTokens != null && maxTokens == GenerationRequest.UNTIL_CONTEXT_FULL) {
            // The engine reads this value as "no max_tokens"; asked for explicitly, it is beyond any context.
            throw new ApiException(400, "invalid_request_error", maxTokensParam, "context_length_exceeded",
                    "'" + maxTokensParam + "' of " + maxTokens + " is beyond the model's context length", 0);
        }
        List<String> stop = body.stringOrStrings("stop");
        if (stop != null && stop.size() > MAX_STOP_STRINGS) {
            throw ApiException.invalid("stop", "At most " + MAX_STOP_STRINGS + " stop strings, got " + stop.size());
        }
        if (topLogprobs > GenerationRequest.MAX_TOP_LOGPROBS || topLogprobs < -1) {
            throw ApiException.invalid("top_logprobs", "The number of log-probabilities must be between 0 and "
                    + GenerationRequest.MAX_TOP_LOGPROBS + ", got " + topLogprobs);
        }
        float temperature = orDefault(body.number("temperature"), 1f);
        int topK = orDefault(body.integer("top_k"), 0);
        float topP = orDefault(body.number("top_p"), 1f);
        float minP = orDefault(body.number("min_p"), 0f);
        float repetitionPenalty = orDefault(body.number("repetition_penalty"), 1f);
        float presencePenalty = orDefault(body.number("presence_penalty"), 0f);
        float frequencyPenalty = orDefault(body.number("frequency_penalty"), 0f);
        Long seed = body.int64("seed");
        boolean ignoreEos = orDefault(body.bool("ignore_eos"), false);
        int priority = orDefault(body.integer("priority"), 0);
        String user = body.string("user");
        boolean stream = orDefault(body.bool("stream"), false);
        JsonBody streamOptions = body.object("stream_options");
        boolean includeUsage = stream && streamOptions != null && orDefault(streamOptions.bool("include_usage"), false);

        List<GenerationRequest> choices = new ArrayList<>(n * prompts.size());
        try {
            for (Prompt prompt : prompts) {
                for (int i = 0; i < n; i++) {
                    // Choices of one request differ; with a seed they stay reproducible: choice i gets seed + i.
                    SamplingParams sampling = new SamplingParams(temperature, topK, topP, minP, repetitionPenalty,
                            presencePenalty, frequencyPenalty, seed == null ? null : seed + i);
                    choices.add(new GenerationRequest(model, prompt, sampling,
                            maxTokens == null ? GenerationRequest.UNTIL_CONTEXT_FULL : maxTokens, stop, null,
                            ignoreEos, topLogprobs, priority, null, user));
                }
            }
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(null, e.getMessage());
        }
        return new CompletionRequest(model, List.copyOf(choices), n, topLogprobs >= 0, stream, includeUsage,
                promptParam);
    }

    private static List<ChatMessage> messages(JsonBody body) {
        JsonNode messages = body.get("messages");
        if (messages == null) {
            throw ApiException.invalid("messages", "'messages' is required");
        }
        if (!messages.isArray() || messages.isEmpty()) {
            throw ApiException.invalid("messages", "'messages' must be a non-empty array of messages");
        }
        List<ChatMessage> list = new ArrayList<>(messages.size());
        for (JsonNode element : messages) {
            String param = "messages[" + list.size() + "]";
            if (!element.isObject()) {
                throw JsonBody.wrongType(param, "an object", element);
            }
            JsonBody message = new JsonBody((ObjectNode) element);
            String role = message.string("role");
            if (role == null || role.isBlank()) {
                throw ApiException.invalid(param + ".role", "'" + param + ".role' is required");
            }
            // Newer OpenAI clients send "developer" where chat templates know "system".
            list.add(new ChatMessage("developer".equals(role) ? "system" : role, content(message, role, param)));
        }
        return list;
    }

    /** @return a message's text: a string, or the text parts of an array of content parts */
    private static String content(JsonBody message, String role, String param) {
        JsonNode content = message.get("content");
        if (content == null) {
            if ("assistant".equals(role)) {
                return "";
            }
            throw ApiException.invalid(param + ".content", "'" + param + ".content' is required");
        }
        if (content.isTextual()) {
            return content.textValue();
        }
        if (!content.isArray()) {
            throw JsonBody.wrongType(param + ".content", "a string or an array of content parts", content);
        }
        StringBuilder text = new StringBuilder();
        for (JsonNode part : content) {
            JsonNode type = part.get("type");
            JsonNode partText = part.get("text");
            if (type == null || !"text".equals(type.asText()) || partText == null || !partText.isTextual()) {
                throw ApiException.unsupported(param + ".content",
                        "Only text content parts ({\"type\": \"text\", \"text\": ...}) are supported");
            }
            text.append(partText.textValue());
        }
        return text.toString();
    }

    /** @return the prompts of a completions request: a string, strings, token ids, or arrays of token ids */
    private static List<Prompt> prompts(JsonBody body) {
        JsonNode prompt = body.get("prompt");
        if (prompt == null) {
            throw ApiException.invalid("prompt", "'prompt' is required");
        }
        if (prompt.isTextual()) {
            return List.of(new Prompt.Text(prompt.textValue()));
        }
        if (!prompt.isArray() || prompt.isEmpty()) {
            throw ApiException.invalid("prompt", "'prompt' must be a string, an array of strings, an array of "
                    + "token ids or an array of arrays of token ids, and not empty");
        }
        if (prompt.get(0).isNumber()) {
            return List.of(new Prompt.Tokens(JsonBody.integers("prompt", prompt)));
        }
        List<Prompt> prompts = new ArrayList<>(prompt.size());
        for (JsonNode element : prompt) {
            String param = "prompt[" + prompts.size() + "]";
            if (element.isTextual()) {
                prompts.add(new Prompt.Text(element.textValue()));
            } else if (element.isArray()) {
                prompts.add(new Prompt.Tokens(JsonBody.integers(param, element)));
            } else {
                throw JsonBody.wrongType(param, "a string or an array of token ids", element);
            }
        }
        return prompts;
    }

    private static void rejectUnsupported(JsonBody body, String... names) {
        for (String name : names) {
            JsonNode value = body.get(name);
            if (value != null && !value.isEmpty()) {
                throw ApiException.unsupported(name, "'" + name + "' is not supported");
            }
        }
    }

    private static <T> T orDefault(T value, T fallback) {
        return value != null ? value : fallback;
    }
}
