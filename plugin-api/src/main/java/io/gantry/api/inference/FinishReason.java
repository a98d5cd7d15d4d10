package io.gantry.api.inference;

/** Why a generation ended. */
public enum FinishReason {
    /** EOS, a stop string or a stop token id. OpenAI: {@code stop}. */
    STOP,
    /** {@code max_tokens} or the context length was reached. OpenAI: {@code length}. */
    LENGTH,
    /** The client cancelled it (or went away). */
    CANCELLED,
    /** Its timeout passed. */
    TIMEOUT
}
