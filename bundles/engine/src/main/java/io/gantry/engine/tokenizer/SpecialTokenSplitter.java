package io.gantry.engine.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Cuts text at the special tokens written in it, as llama.cpp's {@code tokenizer_st_partition} does: each
 * special token in turn, longest first, splits every plain-text piece at each of its occurrences. Immutable.
 */
final class SpecialTokenSplitter {

    /**
     * A piece of the text: plain text {@code [start, end)}, or one special token.
     *
     * @param start first char of the piece
     * @param end char after the piece
     * @param token the special token's id, or -1 for plain text
     */
    record Fragment(int start, int end, int token) {
        boolean isText() {
            return token < 0;
        }
    }

    private final int[] specialIds;
    private final String[] specialTexts;

    SpecialTokenSplitter(Vocabulary vocabulary) {
        this.specialIds = IntStream.range(0, vocabulary.size())
                .filter(id -> vocabulary.type(id).isSpecial() && !vocabulary.text(id).isEmpty())
                .boxed()
                .sorted(Comparator.comparingInt((Integer id) -> -vocabulary.text(id).length()).thenComparingInt(id -> id))
                .mapToInt(Integer::intValue)
                .toArray();
        this.specialTexts = IntStream.of(specialIds).mapToObj(vocabulary::text).toArray(String[]::new);
    }

    /**
     * @param text the text
     * @param parseSpecial whether to look for special tokens at all
     * @return the pieces in order; none for empty text
     */
    List<Fragment> split(String text, boolean parseSpecial) {
        List<Fragment> fragments = new ArrayList<>();
        if (text.isEmpty()) {
            return fragments;
        }
        fragments.add(new Fragment(0, text.length(), -1));
        if (!parseSpecial) {
            return fragments;
        }
        for (int i = 0; i < specialIds.length; i++) {
            if (text.contains(specialTexts[i])) {
                fragments = splitAt(text, fragments, specialIds[i], specialTexts[i]);
            }
        }
        return fragments;
    }

    private static List<Fragment> splitAt(String text, List<Fragment> fragments, int id, String special) {
        List<Fragment> result = new ArrayList<>(fragments.size() + 2);
        for (Fragment fragment : fragments) {
            if (!fragment.isText()) {
                result.add(fragment);
                continue;
            }
            int from = fragment.start();
            for (int match; (match = text.indexOf(special, from, fragment.end())) >= 0; ) {
                if (match > from) {
                    result.add(new Fragment(from, match, -1));
                }
                result.add(new Fragment(match, match + special.length(), id));
                from = match + special.length();
            }
            if (from < fragment.end()) {
                result.add(new Fragment(from, fragment.end(), -1));
            }
        }
        return result;
    }
}
