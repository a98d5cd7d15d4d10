package io.gantry.engine.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How byte-level BPE vocabularies split text into words before merging, named by {@code tokenizer.ggml.pre}.
 * Each is llama.cpp's list of regular expressions: every expression in turn splits each piece from the one
 * before into its matches and the text between them.
 */
enum BpePreTokenizer {

    GPT2(Set.of("gpt-2", "phi-2", "roberta-bpe", "mpt", "olmo", "jais"), BpePreTokenizer.GPT2_REGEX),
    LLAMA3(Set.of("llama3", "llama-v3", "llama-bpe", "falcon3"),
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
                    + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
    QWEN2(Set.of("qwen2", "stablelm2", "megrez"),
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
                    + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
    /** Digits one by one, then GPT-2's split. */
    STARCODER(Set.of("starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"),
            "\\p{N}", BpePreTokenizer.GPT2_REGEX);

    private static final String GPT2_REGEX =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    private final Set<String> names;
    private final List<Pattern> patterns;

    BpePreTokenizer(Set<String> names, String... regexes) {
        this.names = names;
        this.patterns = new ArrayList<>();
        for (String regex : regexes) {
            // Java's \s is ASCII-only; the tokenizers these mirror treat every Unicode White_Space code point as space.
            String unicodeRegex = regex.replace("\\s", "\\p{IsWhite_Space}").replace("\\S", "\\P{IsWhite_Space}");
            patterns.add(Pattern.compile(unicodeRegex));
        }
    }

    /**
     * @param name a {@code tokenizer.ggml.pre} value
     * @return the pre-tokenizer llama.cpp uses for it, if Gantry supports it
     */
    static Optional<BpePreTokenizer> named(String name) {
        for (BpePreTokenizer preTokenizer : values()) {
            if (preTokenizer.names.contains(name)) {
                return Optional.of(preTokenizer);
            }
        }
        return Optional.empty();
    }

    /** @return every name this pre-tokenizer answers to, for messages */
    static List<String> supportedNames() {
        List<String> names = new ArrayList<>();
        for (BpePreTokenizer preTokenizer : values()) {
            names.addAll(preTokenizer.names.stream().sorted().toList());
        }
        return names;
    }

    /** @return the words of {@code text}, in order; together they are the whole text */
    List<String> split(String text) {
        List<int[]> pieces = List.of(new int[] {0, text.length()});
        for (Pattern pattern : patterns) {
            List<int[]> finer = new ArrayList<>();
            Matcher matcher = pattern.matcher(text);
            for (int[] piece : pieces) {
                // The region's bounds are opaque: lookaheads see its end as the end of the text, as in llama.cpp.
                matcher.region(piece[0], piece[1]);
                int end = piece[0];
                while (matcher.find()) {
                    if (matcher.start() > end) {
                        finer.add(new int[] {end, matcher.start()});
                    }
                    finer.add(new int[] {matcher.start(), matcher.end()});
                    end = matcher.end();
                }
                if (end < piece[1]) {
                    finer.add(new int[] {end, piece[1]});
                }
            }
            pieces = finer;
        }
        List<String> words = new ArrayList<>(pieces.size());
        for (int[] piece : pieces) {
            words.add(text.substring(piece[0], piece[1]));
        }
        return words;
    }
}
