package io.gantry.cli;

import java.util.List;
import java.util.StringJoiner;
import java.util.function.Supplier;

/**
 * The serving benchmark's prompts: words drawn at random from a short children's-story vocabulary, joined by
 * spaces. With the same seed and length these are, prompt for prompt, the prompts of the project's reference load
 * generator ({@code ../shared/tools/loadgen.py}), so both clients put the same work on a server. Not thread-safe.
 */
final class WordPrompts implements Supplier<String> {

    /** The vocabulary, in the reference generator's order (the order decides which word a draw picks). */
    static final List<String> WORDS = List.of(("once upon a time there was a little girl named lily she loved to "
            + "play outside in the park one day she saw a big red ball and wanted to share it with her friend tom")
            .split(" "));

    private final PythonRandom random;
    private final int wordsPerPrompt;

    /**
     * @param wordsPerPrompt words in each prompt, at least 1
     * @param seed           the seed, at least 0
     */
    WordPrompts(int wordsPerPrompt, long seed) {
        if (wordsPerPrompt < 1) {
            throw new IllegalArgumentException("words per prompt must be at least 1, got " + wordsPerPrompt);
        }
        this.random = new PythonRandom(seed);
        this.wordsPerPrompt = wordsPerPrompt;
    }

    /** @return the next prompt */
    @Override
    public String get() {
        StringJoiner prompt = new StringJoiner(" ");
        for (int i = 0; i < wordsPerPrompt; i++) {
            prompt.add(WORDS.get(random.below(WORDS.size())));
        }
        return prompt.toString();
    }
}
