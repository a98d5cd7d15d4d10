package io.gantry.engine.tokenizer;

import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.SharedModels;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Loads each shared vocabulary once per test run; skips the calling test when the shared folder is absent. */
final class SharedTokenizers {

    private static final Map<String, Tokenizer> LOADED = new ConcurrentHashMap<>();

    private SharedTokenizers() {
    }

    /** @param relativePath e.g. {@code vocab/ggml-vocab-gpt-2.gguf} */
    static Tokenizer load(String relativePath) {
        var path = SharedModels.require(relativePath);
        return LOADED.computeIfAbsent(relativePath, key -> {
            try (GgufFile file = GgufFile.open(path)) {
                return Tokenizers.fromGguf(file);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** @return the id of the token whose vocabulary text is exactly {@code text} */
    static int idOf(Tokenizer tokenizer, String text) {
        for (int id = 0; id < tokenizer.vocabularySize(); id++) {
            if (tokenizer.tokenText(id).equals(text)) {
                return id;
            }
        }
        throw new AssertionError("no token " + text);
    }
}
