package io.gantry.cli;

import io.gantry.engine.gguf.GgufFormatException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;

/**
 * Gantry's command-line tools, which run the engine and the CPU (or CUDA) backend directly (no server, no OSGi): text
 * generation, a model benchmark, and writing model files; a serving benchmark client for a running server and the
 * offline comparison of serving strategies.
 * {@code bin/gantry} starts this class for the commands it names and the server for anything else.
 *
 * <p>Exit status: 0 on success, 1 when a command fails (a missing or unreadable model, a full disk), 2 for a
 * command line that cannot be used (unknown option, missing or invalid value).
 */
@Command(name = "gantry", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Gantry's command-line tools. Without one of these commands, bin/gantry starts the server.",
        subcommands = {GenerateCommand.class, BenchModelCommand.class, ModelCommand.class, BenchCommand.class})
public final class Main {

    /** Exit status of a command that failed while running. */
    static final int FAILED = 1;

    /**
     * @param args the command line
     */
    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(new OutputStreamWriter(new FileOutputStream(FileDescriptor.out),
                StandardCharsets.UTF_8), true);
        PrintWriter err = new PrintWriter(new OutputStreamWriter(new FileOutputStream(FileDescriptor.err),
                StandardCharsets.UTF_8), true);
        System.exit(commandLine(out, err).execute(args));
    }

    /**
     * @param out where commands write their results (generated text UTF-8 encoded, whatever the locale)
     * @param err where messages, timings and errors go
     * @return the command line, ready to {@link CommandLine#execute}
     */
    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine commandLine = new CommandLine(new Main());
        commandLine.setOut(out);
        commandLine.setErr(err);
        commandLine.setCaseInsensitiveEnumValuesAllowed(true);
        commandLine.setParameterExceptionHandler((e, args) -> {
            CommandLine failed = e.getCommandLine();
            PrintWriter errors = failed.getErr();
            errors.println(failed.getCommandSpec().qualifiedName() + ": " + e.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(e, errors);
            errors.println("Try '" + failed.getCommandSpec().qualifiedName() + " --help' for more information.");
            errors.flush();
            return failed.getCommandSpec().exitCodeOnInvalidInput();
        });
        commandLine.setExecutionExceptionHandler((e, failed, parsed) -> {
            PrintWriter errors = failed.getErr();
            if (isUserError(e)) {
                errors.println(failed.getCommandSpec().qualifiedName() + ": " + message(e));
            } else {
                e.printStackTrace(errors);
            }
            errors.flush();
            return FAILED;
        });
        return commandLine;
    }

    /** Errors that the input causes, whose message says all; anything else is a bug and gets its stack trace. */
    private static boolean isUserError(Exception e) {
        return e instanceof IOException || e instanceof GgufFormatException || e instanceof IllegalArgumentException
                || e instanceof UnsupportedOperationException
                || e instanceof BackendOption.BackendUnavailableException;
    }

    private static String message(Exception e) {
        return e instanceof NoSuchFileException missing ? "no such file: " + missing.getFile() : e.getMessage();
    }

    /** The version from the jar's manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"Gantry " + number()};
        }

        /** @return the version, or {@code (development build)} when not run from the built jar */
        static String number() {
            String version = Main.class.getPackage().getImplementationVersion();
            return version != null ? version : "(development build)";
        }
    }
}
