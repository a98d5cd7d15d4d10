package io.gantry.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Parsing: bad usage exits with 2 and a message naming the problem, before any model is read. */
class CommandLineTest {

    @TempDir
    Path folder;

    private static void assertUsageError(String expectedMessage, String... args) {
        Cli.Run run = Cli.run(args);
        assertEquals(2, run.exitCode(), run.toString());
        assertTrue(run.err().contains(expectedMessage), "expected '" + expectedMessage + "' in: " + run.err());
        assertTrue(run.err().contains("--help' for more information"), run.err());
        assertEquals("", run.out());
    }

    @Test
    void badUsageExitsWithTwoAndSaysWhy() {
        assertUsageError("Missing required subcommand");
        assertUsageError("Missing required subcommand", "model");
        assertUsageError("Missing required subcommand", "bench");
        assertUsageError("Unmatched argument at index 0: 'serve'", "serve");
        assertUsageError("Unknown option: '--bogus'", "generate", "--model", "m.gguf", "--prompt", "x", "--bogus");
        assertUsageError("Missing required option: '--prompt=TEXT'", "generate", "--model", "m.gguf");
        assertUsageError("Invalid value for option '--max-tokens'", "generate", "--model", "m.gguf", "--prompt", "x",
                "--max-tokens", "many");
        assertUsageError("temperature must be between 0.0 and 100.0", "generate", "--model", "m.gguf", "--prompt", "x",
                "--temperature", "-1");
        assertUsageError("--max-tokens must be at least 1", "generate", "--model", "m.gguf", "--prompt", "x",
                "--max-tokens", "0");
        assertUsageError("--logprobs must be between 0 and 20", "generate", "--model", "m.gguf", "--prompt", "x",
                "--logprobs", "21");
        assertUsageError("--threads must be at least 1", "generate", "--model", "m.gguf", "--prompt", "x",
                "--threads", "0");
        assertUsageError("--batches must be positive numbers", "bench-model", "--model", "m.gguf", "--batches", "1,0");
        assertUsageError("--repetitions, --prompt and --gen must be at least 1", "bench-model", "--model", "m.gguf",
                "--repetitions", "0");
        assertUsageError("expected one of [F16, Q8_0, Q4_0, Q4_K_M, Q6_K]", "model", "synth", "--preset", "bench-110m", "--type",
                "q5_k", "--output", "x.gguf");
        assertUsageError("unknown preset 'bench-7b' (presets: bench-110m, bench-1b)", "model", "synth", "--preset",
                "bench-7b", "--type", "f16", "--output", "x.gguf");
        assertUsageError("mutually exclusive", "model", "synth", "--preset", "bench-110m", "--dim", "64", "--layers",
                "1", "--heads", "4", "--ffn", "64", "--type", "f16", "--output", "x.gguf");
        assertUsageError("Missing required argument", "model", "synth", "--type", "f16", "--output", "x.gguf");
        assertUsageError("Q4_0 stores rows in blocks of 32", "model", "synth", "--dim", "48", "--layers", "1",
                "--heads", "4", "--ffn", "64", "--type", "q4_0", "--output", "x.gguf", "--vocab-from", "pom.xml");
        assertUsageError("--vocab-from missing.gguf: no such file", "model", "synth", "--preset", "bench-110m",
                "--type", "f16", "--output", "x.gguf", "--vocab-from", "missing.gguf");
        assertUsageError("Missing required option: '--input=FILE'", "model", "quantize", "--type", "q8_0", "--output",
                "x.gguf");
    }

    @Test
    void anExistingOutputIsOnlyReplacedWithForce() throws Exception {
        Path existing = Files.writeString(folder.resolve("model.gguf"), "keep me");
        assertUsageError("exists; pass --force to replace it", "model", "quantize", "--input", "in.gguf", "--type",
                "q8_0", "--output", existing.toString());
        assertEquals("keep me", Files.readString(existing));
    }

    @Test
    void failuresWhileRunningExitWithOneAndAMessage() throws Exception {
        Cli.Run missing = Cli.run("generate", "--model", folder.resolve("missing.gguf").toString(), "--prompt", "x");
        assertEquals(1, missing.exitCode());
        assertTrue(missing.err().contains("no such file: " + folder.resolve("missing.gguf")), missing.err());

        Path notGguf = Files.writeString(folder.resolve("notes.txt"), "not a model");
        Cli.Run wrongFormat = Cli.run("bench-model", "--model", notGguf.toString());
        assertEquals(1, wrongFormat.exitCode());
        assertTrue(wrongFormat.err().contains("not a GGUF file"), wrongFormat.err());
        assertTrue(!wrongFormat.err().contains("\tat "), "no stack trace for a user's mistake: " + wrongFormat.err());
    }

    @Test
    void everyCommandHasHelp() {
        for (List<String> command : List.of(List.<String>of(), List.of("generate"), List.of("bench-model"),
                List.of("model"), List.of("model", "synth"), List.of("model", "quantize"), List.of("bench"),
                List.of("bench", "serve"))) {
            String[] args = Stream.concat(command.stream(), Stream.of("--help"))
                    .toArray(String[]::new);
            Cli.Run run = Cli.run(args);
            assertEquals(0, run.exitCode(), command.toString());
            assertTrue(run.out().startsWith("Usage: gantry" + (command.isEmpty() ? "" : " " + String.join(" ", command))),
                    run.out());
        }
        Cli.Run version = Cli.run("--version");
        assertEquals(0, version.exitCode());
        assertTrue(version.out().startsWith("Gantry "), version.out());
    }

    @Test
    void findsTheBenchmarkVocabularyInAFolderAbove() throws Exception {
        Path vocabulary = folder.resolve("shared/models/vocab/" + VocabularyLocator.FILE_NAME);
        Files.createDirectories(vocabulary.getParent());
        Files.writeString(vocabulary, "");
        Path deep = Files.createDirectories(folder.resolve("work/tree/cli"));
        assertEquals(vocabulary, VocabularyLocator.find(deep).orElseThrow());

        String notFound = VocabularyLocator.notFound(deep);
        assertTrue(notFound.contains("pass --vocab-from FILE") && notFound.contains(deep.toString()), notFound);
    }
}
