package io.gantry.cli;

import picocli.CommandLine.Command;

/** Groups the commands that write model files. */
@Command(name = "model", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Writes model files: random-weight benchmark models, and conversions to other formats.",
        subcommands = {SynthCommand.class, QuantizeCommand.class})
final class ModelCommand {
}
