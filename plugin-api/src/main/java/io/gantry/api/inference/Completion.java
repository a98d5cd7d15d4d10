package io.gantry.api.inference;

/**
 * The end of a generation.
 *
 * @param reason             why it ended
 * @param promptTokens       tokens in the prompt
 * @param completionTokens   tokens generated
 * @param cachedPromptTokens prompt tokens whose KV came from the prefix cache
 */
public record Completion(FinishReason reason, int promptTokens, int completionTokens, int cachedPromptTokens) {
}
