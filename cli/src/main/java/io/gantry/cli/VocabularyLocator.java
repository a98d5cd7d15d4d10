package io.gantry.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Finds the benchmark vocabulary (llama.cpp's {@code ggml-vocab-llama-spm.gguf}) when none is named: in
 * {@code models/vocab/} or {@code shared/models/vocab/} of the working folder or any folder above it, which covers a
 * Gantry source tree with the shared test data beside it.
 */
final class VocabularyLocator {

    static final String FILE_NAME = "ggml-vocab-llama-spm.gguf";
    private static final List<Path> PLACES = List.of(Path.of("models", "vocab", FILE_NAME),
            Path.of("shared", "models", "vocab", FILE_NAME));

    private VocabularyLocator() {
    }

    /** @return the first vocabulary found from {@code start} upwards */
    static Optional<Path> find(Path start) {
        for (Path folder = start.toAbsolutePath().normalize(); folder != null; folder = folder.getParent()) {
            for (Path place : PLACES) {
                Path candidate = folder.resolve(place);
                if (Files.isRegularFile(candidate)) {
                    return Optional.of(candidate);
                }
            }
        }
        return Optional.empty();
    }

    /** @return what to tell a user for whom {@link #find} found nothing */
    static String notFound(Path start) {
        return "no vocabulary given and none found: pass --vocab-from FILE, a GGUF file with tokenizer metadata "
                + "(the benchmark recipe uses " + FILE_NAME + " from llama.cpp's models/ folder); looked for "
                + PLACES.stream().map(Path::toString).toList() + " in " + start.toAbsolutePath().normalize()
                + " and the folders above it";
    }
}
