package io.gantry.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The {@code --threads} option of every command that computes. */
final class ThreadsOption {

    @Spec(Spec.Target.MIXEE)
    private CommandSpec command;

    @Option(names = "--threads", paramLabel = "N",
            description = "Threads that compute (default: every available processor).")
    private Integer threads;

    /** @return the threads to use */
    int threads() {
        if (threads == null) {
            return Runtime.getRuntime().availableProcessors();
        }
        if (threads < 1) {
            throw new ParameterException(command.commandLine(), "--threads must be at least 1, got " + threads);
        }
        return threads;
    }
}
