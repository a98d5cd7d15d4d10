package io.gantry.engine.tokenizer;

/**
 * What kind of token a vocabulary entry is, as {@code tokenizer.ggml.token_type} records it.
 */
public enum TokenType {
    /** A type id GGUF does not define; such tokens decode to nothing. */
    UNDEFINED,
    /** Ordinary text. */
    NORMAL,
    /** The unknown token, e.g. {@code <unk>}. */
    UNKNOWN,
    /** A control token such as {@code <s>} or {@code <|im_end|>}: not text, never produced from plain text. */
    CONTROL,
    /** A token added for a fine-tune, e.g. a chat marker; decodes to its text. */
    USER_DEFINED,
    /** A reserved slot; decodes to nothing. */
    UNUSED,
    /** A SentencePiece byte-fallback token {@code <0xNN>}: one raw byte. */
    BYTE;

    /**
     * @param id a GGUF token type id
     * @return its type, {@link #UNDEFINED} for ids GGUF does not define (as llama.cpp treats them)
     */
    public static TokenType fromGgufId(int id) {
        return id >= 1 && id <= 6 ? values()[id] : UNDEFINED;
    }

    /** @return whether text can only produce this token when special tokens are parsed */
    public boolean isSpecial() {
        return this == CONTROL || this == USER_DEFINED || this == UNKNOWN;
    }
}
