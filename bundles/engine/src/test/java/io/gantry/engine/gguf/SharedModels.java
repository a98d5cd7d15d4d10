package io.gantry.engine.gguf;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the shared test data (../shared/models), skipping the calling test when it is not there. */
public final class SharedModels {

    private static final String PROPERTY = "gantry.shared.models";

    private SharedModels() {
    }

    /**
     * @param relativePath a file under the shared models folder, e.g. {@code vocab/ggml-vocab-gpt-2.gguf}
     * @return its path; the test is skipped (not failed) when the folder or the file is absent
     */
    public static Path require(String relativePath) {
        String folder = System.getProperty(PROPERTY);
        Assumptions.assumeTrue(folder != null,
                () -> "Skipped: system property " + PROPERTY + " is not set, so " + relativePath + " cannot be found");
        Path path = Path.of(folder).resolve(relativePath);
        Assumptions.assumeTrue(Files.isRegularFile(path),
                () -> "Skipped: shared test file " + path + " is missing (see ../shared/models/SOURCES.md)");
        return path;
    }
}
