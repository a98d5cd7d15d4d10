package io.gantry.engine.tokenizer;

import java.util.PriorityQueue;

/**
 * The merge loop that byte-level BPE and SentencePiece share. A text's symbols form a doubly linked list; every
 * pair of adjacent symbols that the {@link Rule} merges waits in a queue, the rule's first merge first and the
 * leftmost among equals; the first pair whose two symbols are still as it saw them becomes one symbol, and that
 * symbol's pairs with its neighbours join the queue. O(n log n) for n symbols.
 */
final class SymbolMerger {

    /** Which adjacent symbols merge, and in what order. */
    interface Rule {
        /**
         * @param text        the text being encoded
         * @param start       where the left symbol starts in {@code text}
         * @param leftLength  the left symbol's length in chars; the right symbol follows it
         * @param rightLength the right symbol's length in chars
         * @return the merge, a number {@link #compare} orders, or -1 if the two symbols do not merge
         */
        int merge(String text, int start, int leftLength, int rightLength);

        /** @return below 0 if merge {@code a} goes before merge {@code b}, above 0 if after, 0 if neither */
        int compare(int a, int b);
    }

    /** A candidate merge of two adjacent symbols, valid while both still have the lengths it saw. */
    private record Bigram(int left, int right, int merge, int length) {
    }

    private SymbolMerger() {
    }

    /**
     * Merges the symbols of {@code text} as far as {@code rule} lets them.
     *
     * @param text   the text
     * @param start  where each symbol starts in {@code text}; the symbols are adjacent, in order
     * @param length each symbol's length in chars; on return, the length of each symbol that is left and 0 for
     *               those merged into the symbol before them
     * @param rule   which symbols merge, first to last
     * @return for each symbol that is left, the index of the next one, -1 after the last; symbol 0 is always left
     */
    static int[] merge(String text, int[] start, int[] length, Rule rule) {
        int count = length.length;
        int[] previous = new int[count];
        int[] next = new int[count];
        for (int i = 0; i < count; i++) {
            previous[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>(Math.max(1, count), (a, b) -> {
            int order = rule.compare(a.merge(), b.merge());
            return order != 0 ? order : Integer.compare(a.left(), b.left());
        });
        for (int i = 1; i < count; i++) {
            offer(text, start, length, i - 1, i, rule, queue);
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
                offer(text, start, length, previous[left], left, rule, queue);
            }
            if (next[left] >= 0) {
                offer(text, start, length, left, next[left], rule, queue);
            }
        }
        return next;
    }

    private static void offer(String text, int[] start, int[] length, int left, int right, Rule rule,
            PriorityQueue<Bigram> queue) {
        int merge = rule.merge(text, start[left], length[left], length[right]);
        if (merge >= 0) {
            queue.add(new Bigram(left, right, merge, length[left] + length[right]));
        }
    }
}
