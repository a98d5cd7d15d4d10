package io.gantry.engine.tokenizer;

/**
 * The part of a tokenizer that differs between vocabulary kinds: how plain text (a fragment between special
 * tokens) becomes ids, and what bytes an ordinary token stands for.
 */
sealed interface FragmentEncoder permits SentencePieceEncoder, ByteLevelBpeEncoder {

    /**
     * @param fragment plain text, not empty
     * @param startsText whether the fragment starts the text or follows a special token
     * @param out where to append the ids
     */
    void encode(String fragment, boolean startsText, IntList out);

    /**
     * @param text a token's text
     * @param type its type: {@link TokenType#NORMAL} or {@link TokenType#BYTE}
     * @return the bytes the token stands for in decoded text
     */
    byte[] pieceBytes(String text, TokenType type);

    /** @return whether encoding puts a space before the text, which decoding then removes */
    boolean addsSpacePrefix();
}
