package io.gantry.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LaunchOptionsTest {

    @TempDir
    Path home;

    @Test
    void parsesHomeAndShell() throws IOException {
        Files.createDirectories(home.resolve("bundle"));
        LaunchOptions options = LaunchOptions.parse(List.of("--home", home.toString(), "--shell"), Path.of("/nowhere"));
        assertEquals(home.toAbsolutePath().normalize(), options.home());
        assertTrue(options.shell());
    }

    @Test
    void rejectsAnUnknownOption() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> LaunchOptions.parse(List.of("--turbo"), home));
        assertEquals("Unknown option '--turbo'", error.getMessage());
    }

    @Test
    void rejectsAHomeWithoutBundles() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> LaunchOptions.parse(List.of(), home));
        assertTrue(error.getMessage().contains("is not a Gantry home"), error.getMessage());
    }

    @Test
    void rejectsHomeWithoutAValue() {
        assertThrows(IllegalArgumentException.class, () -> LaunchOptions.parse(List.of("--home"), home));
        assertThrows(IllegalArgumentException.class, () -> LaunchOptions.parse(List.of("--home", "--shell"), home));
    }

    @Test
    void modelsAreMadeAbsoluteAndMustExist() throws IOException {
        Files.createDirectories(home.resolve("bundle"));
        Path model = Files.createFile(home.resolve("m.gguf"));
        LaunchOptions options = LaunchOptions.parse(List.of("--home", home.toString(), "--model", model.toString(),
                "--model", "tiny=" + model), Path.of("/nowhere"));
        assertEquals(List.of(model.toAbsolutePath().normalize().toString(),
                "tiny=" + model.toAbsolutePath().normalize()), options.models());
        assertTrue(LaunchOptions.parse(List.of("--home", home.toString()), home).models().isEmpty());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LaunchOptions.parse(List.of("--home",
                home.toString(), "--model", home.resolve("missing.gguf").toString()), home)).getMessage()
                .contains("no such file"));
        assertThrows(IllegalArgumentException.class, () -> LaunchOptions.parse(List.of("--model"), home));
    }

    @Test
    void helpNeedsNoHome() {
        assertTrue(LaunchOptions.parse(List.of("--help"), home).help());
    }
}
