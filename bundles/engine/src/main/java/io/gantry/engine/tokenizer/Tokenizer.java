package io.gantry.engine.tokenizer;

/**
 * Turns text into token ids and back, the way llama.cpp does for the same GGUF vocabulary. Implementations are
 * immutable and thread-safe; per-sequence decoding state lives in a {@link StreamingDecoder}.
 *
 * <p>Token ids outside {@code [0, vocabularySize())} make the id-taking methods throw
 * {@link IllegalArgumentException}.
 */
public interface Tokenizer {

    /**
     * @param text the text to encode
     * @param addSpecial add the BOS and EOS tokens where the vocabulary asks for them
     * @param parseSpecial turn the text of special tokens (control, user-defined, unknown) into those tokens;
     *                     when false they are encoded as plain text, so user input cannot inject them
     * @return the token ids
     */
    int[] encode(String text, boolean addSpecial, boolean parseSpecial);

    /**
     * Decodes tokens to text, leaving out control and unknown tokens. Bytes that do not form valid UTF-8 become
     * U+FFFD. A SentencePiece vocabulary's leading dummy-prefix space is removed, so that
     * {@code decode(encode(s, false, false))} gives back {@code s}.
     *
     * @param ids token ids
     * @return the text
     */
    default String decode(int[] ids) {
        return decode(ids, false);
    }

    /**
     * Like {@link #decode(int[])}, optionally writing control and unknown tokens as their text.
     *
     * @param ids token ids
     * @param renderSpecial whether control and unknown tokens appear as their text
     * @return the text
     */
    String decode(int[] ids, boolean renderSpecial);

    /**
     * @param id a token id
     * @param renderSpecial whether a control or unknown token gives its text (otherwise nothing)
     * @return the bytes this token adds to decoded text, possibly part of a UTF-8 character; a fresh array
     */
    byte[] tokenBytes(int id, boolean renderSpecial);

    /** @return the token's entry in the vocabulary, as stored (e.g. {@code ▁the}, {@code Ġthe}, {@code <0x0A>}) */
    String tokenText(int id);

    /** @return the token's type */
    TokenType tokenType(int id);

    /** @return whether the token is special: control, user-defined or unknown */
    default boolean isSpecial(int id) {
        return tokenType(id).isSpecial();
    }

    /** @return whether generating this token ends generation (EOS, end-of-turn and similar tokens) */
    boolean isEndOfGeneration(int id);

    /** @return the number of tokens in the vocabulary */
    int vocabularySize();

    /** @return the beginning-of-sequence token, or -1 if the vocabulary has none */
    int bosId();

    /** @return the end-of-sequence token, or -1 if the vocabulary has none */
    int eosId();

    /** @return the padding token, or -1 if the vocabulary has none */
    int padId();

    /** @return whether {@link #encode} with {@code addSpecial} puts BOS first */
    boolean addsBos();

    /** @return whether {@link #encode} with {@code addSpecial} puts EOS last */
    boolean addsEos();
}
