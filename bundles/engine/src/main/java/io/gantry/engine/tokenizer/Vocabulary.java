package io.gantry.engine.tokenizer;

import java.util.HashMap;
import java.util.Map;

/**
 * The token table: each id's text, score and type, and the id of each text. When two ids share a text the
 * later one wins the lookup, as in llama.cpp. Immutable.
 */
final class Vocabulary {

    private final String[] texts;
    private final float[] scores;
    private final TokenType[] types;
    private final Map<String, Integer> idsByText;

    /**
     * @param texts every token's text; taken over, not copied
     * @param scores every token's score (merge priority for SentencePiece); taken over
     * @param types every token's type; taken over
     */
    Vocabulary(String[] texts, float[] scores, TokenType[] types) {
        if (scores.length != texts.length || types.length != texts.length) {
            throw new IllegalArgumentException(texts.length + " tokens but " + scores.length + " scores and "
                    + types.length + " types");
        }
        this.texts = texts;
        this.scores = scores;
        this.types = types;
        this.idsByText = HashMap.newHashMap(texts.length);
        for (int id = 0; id < texts.length; id++) {
            idsByText.put(texts[id], id);
        }
    }

    int size() {
        return texts.length;
    }

    String text(int id) {
        return texts[checked(id)];
    }

    float score(int id) {
        return scores[checked(id)];
    }

    TokenType type(int id) {
        return types[checked(id)];
    }

    /** @return the id of the token with exactly this text, or -1 */
    int id(String text) {
        Integer id = idsByText.get(text);
        return id == null ? -1 : id;
    }

    int checked(int id) {
        if (id < 0 || id >= texts.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + texts.length
                    + " tokens");
        }
        return id;
    }
}
