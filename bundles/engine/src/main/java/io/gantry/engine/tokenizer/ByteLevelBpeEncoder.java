package io.gantry.engine.tokenizer;

import java.util.HashMap;
import java.util.Map;

/**
 * llama.cpp's byte-level BPE ("gpt2") algorithm: the pre-tokenizer splits text into words; each word's UTF-8
 * bytes are written in the {@link ByteLevelAlphabet}, then adjacent symbols (initially single bytes) are merged,
 * lowest merge rank first, until no listed merge applies. O(n log n) per word of n bytes. Immutable.
 */
final class ByteLevelBpeEncoder implements FragmentEncoder {

    private final Vocabulary vocabulary;
    private final BpePreTokenizer preTokenizer;
    private final Map<String, Integer> mergeRanks;
    private final boolean wholeWordTokensFirst;
    /** Two symbols merge where "left right" is listed; a merge is its rank, lowest first. */
    private final SymbolMerger.Rule mergeRule = new SymbolMerger.Rule() {
        @Override
        public int merge(String text, int start, int leftLength, int rightLength) {
            int middle = start + leftLength;
            Integer rank = mergeRanks.get(text.substring(start, middle) + ' '
                    + text.substring(middle, middle + rightLength));
            return rank != null ? rank : -1;
        }

        @Override
        public int compare(int a, int b) {
            return Integer.compare(a, b);
        }
    };

    /**
     * @param vocabulary the tokens
     * @param merges {@code tokenizer.ggml.merges}: "left right" pairs, highest priority first
     * @param preTokenizer how to split text into words
     * @param wholeWordTokensFirst take a word that is itself a token as that token without merging (llama.cpp's
     *                             {@code ignore_merges}, set for Llama 3)
     */
    ByteLevelBpeEncoder(Vocabulary vocabulary, String[] merges, BpePreTokenizer preTokenizer,
            boolean wholeWordTokensFirst) {
        this.vocabulary = vocabulary;
        this.preTokenizer = preTokenizer;
        this.wholeWordTokensFirst = wholeWordTokensFirst;
        this.mergeRanks = HashMap.newHashMap(merges.length);
        for (int rank = 0; rank < merges.length; rank++) {
            mergeRanks.putIfAbsent(merges[rank], rank);
        }
    }

    @Override
    public void encode(String fragment, boolean startsText, IntList out) {
        for (String word : preTokenizer.split(fragment)) {
            encodeWord(ByteLevelAlphabet.encode(word), out);
        }
    }

    private void encodeWord(String word, IntList out) {
        if (wholeWordTokensFirst) {
            int id = vocabulary.id(word);
            if (id >= 0) {
                out.add(id);
                return;
            }
        }
        // Alphabet characters are single chars, so symbol i starts as char i.
        int count = word.length();
        int[] start = new int[count];
        int[] length = new int[count];
        for (int i = 0; i < count; i++) {
            start[i] = i;
            length[i] = 1;
        }
        int[] next = SymbolMerger.merge(word, start, length, mergeRule);
        for (int i = 0; i >= 0 && count > 0; i = next[i]) {
            appendSymbol(word.substring(i, i + length[i]), out);
        }
    }

    /** A symbol that is no token (its merge is listed but its result is not) falls apart into its characters. */
    private void appendSymbol(String symbol, IntList out) {
        int id = vocabulary.id(symbol);
        if (id >= 0) {
            out.add(id);
            return;
        }
        for (int i = 0; i < symbol.length(); i++) {
            int charId = vocabulary.id(String.valueOf(symbol.charAt(i)));
            if (charId >= 0) {
                out.add(charId);
            }
        }
    }

    @Override
    public byte[] pieceBytes(String text, TokenType type) {
        return ByteLevelAlphabet.decode(text);
    }

    @Override
    public boolean addsSpacePrefix() {
        return false;
    }
}
