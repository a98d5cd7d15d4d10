package io.gantry.api.inference;

/**
 * A model the engine serves.
 *
 * @param id             the id clients use (the {@code model} field of an OpenAI request)
 * @param architecture   the GGUF architecture, e.g. {@code llama}
 * @param contextLength  the most tokens (prompt plus output) one sequence may hold
 * @param vocabularySize tokens in the vocabulary
 * @param parameters     number of weights
 * @param createdEpochSeconds when the model was loaded, in seconds since the epoch
 */
public record ModelInfo(String id, String architecture, int contextLength, int vocabularySize, long parameters,
        long createdEpochSeconds) {
}
