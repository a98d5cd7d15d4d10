package io.gantry.cli;

import picocli.CommandLine.Command;

/** Groups the serving benchmarks. */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Serving benchmarks.",
        subcommands = {BenchCompareCommand.class})
final class BenchCommand {
}
