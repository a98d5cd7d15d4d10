package io.gantry.cli;

import org.junit.jupiter.api.Assumptions;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/** Runs the command line in-process, capturing what it writes. */
final class Cli {

    /**
     * @param exitCode the exit status
     * @param out      what went to standard output
     * @param err      what went to standard error
     */
    record Run(int exitCode, String out, String err) {
    }

    private Cli() {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exitCode = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
        return new Run(exitCode, out.toString(), err.toString());
    }

    /** @return a file of ../shared/models; the test is skipped (not failed) when it is absent */
    static Path sharedModel(String relativePath) {
        String folder = System.getProperty("gantry.shared.models");
        Assumptions.assumeTrue(folder != null, "Skipped: system property gantry.shared.models is not set");
        Path path = Path.of(folder).resolve(relativePath);
        Assumptions.assumeTrue(Files.isRegularFile(path),
                () -> "Skipped: shared test file " + path + " is missing (see ../shared/models/SOURCES.md)");
        return path;
    }

    /**
     * Writes a tiny model (dim 64, 2 layers, grouped-query attention) with stories260K's 512-token vocabulary.
     *
     * @return its path
     */
    static Path tinyModel(Path folder, String type) {
        Path path = folder.resolve("tiny-" + type + ".gguf");
        Run run = run("model", "synth", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn",
                "128", "--context", "256", "--type", type, "--vocab-from", sharedModel("stories260K.gguf").toString(),
                "--threads", "2", "--output", path.toString());
        if (run.exitCode() != 0) {
            throw new AssertionError("synth failed: " + run);
        }
        return path;
    }
}
