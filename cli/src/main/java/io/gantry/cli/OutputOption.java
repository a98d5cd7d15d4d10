package io.gantry.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;

/** The {@code --output} and {@code --force} options of the commands that write a model file. */
final class OutputOption {

    @Spec(Spec.Target.MIXEE)
    private CommandSpec command;

    @Option(names = "--output", required = true, paramLabel = "FILE", description = "The GGUF file to write.")
    private Path output;

    @Option(names = "--force", description = "Replace the output file if it exists.")
    private boolean force;

    /** @return the file to write, after checking that it may be written */
    Path path() {
        if (Files.exists(output) && !force) {
            throw new ParameterException(command.commandLine(), output + " exists; pass --force to replace it");
        }
        return output;
    }
}
