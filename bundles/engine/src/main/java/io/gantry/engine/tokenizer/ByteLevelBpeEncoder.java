package io.gantry.engine.tokenizer;

import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * llama.cpp's byte-level BPE ("gpt2") algorithm: the pre-tokenizer splits text into words; each word's UTF-8
 * bytes are written in the {@link ByteLevelAlphabet}, then adjacent symbols (initially single bytes) are merged,
 * lowest merge rank first, until no listed merge applies. O(n log n) per word of n bytes. Immutable.
 */
final class ByteLevelBpeEncoder implements FragmentEncoder {

    /** A candidate merge of two adjacent symbols, valid while both still have the lengths it saw. */
    private record Bigram(int left, int right, int rank, int length) {
    }

    private final Vocabulary vocabulary;
    private final BpePreTokenizer preTokenizer;
    private final Map<String, Integer> mergeRanks;
    private final boolean wholeWordTokensFirst;

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
        int[] length = new int[count];
        int[] previous = new int[count];
        int[] next = new int[count];
        for (int i = 0; i < count; i++) {
            length[i] = 1;
            previous[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>(Math.max(1, count),
                (a, b) -> a.rank() != b.rank() ? Integer.compare(a.rank(), b.rank()) : Integer.compare(a.left(), b.left()));
        for (int i = 1; i < count; i++) {
            offerBigram(word, length, i - 1, i, queue);
        }
        while (!queue.isEmpty()) {
            Bigram bigram = queue.poll();
            int left = bigram.left();
            int right = bigram.right();
            if (length[left] == 0 || length[right] == 0 || length[left] + length[right] != bigram.length()) {
                continue; // one side has merged since this bigram was queued
            }
            length[left] += length[right];
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) {
                previous[next[right]] = left;
            }
            if (previous[left] >= 0) {
                offerBigram(word, length, previous[left], left, queue);
            }
            if (next[left] >= 0) {
                offerBigram(word, length, left, next[left], queue);
            }
        }
        for (int i = 0; i >= 0 && count > 0; i = next[i]) {
            appendSymbol(word.substring(i, i + length[i]), out);
        }
    }

    private void offerBigram(String word, int[] length, int left, int right, PriorityQueue<Bigram> queue) {
        String pair = word.substring(left, left + length[left]) + ' ' + word.substring(right, right + length[right]);
        Integer rank = mergeRanks.get(pair);
        if (rank != null) {
            queue.add(new Bigram(left, right, rank, length[left] + length[right]));
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
