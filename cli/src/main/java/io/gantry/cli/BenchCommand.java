package io.gantry.cli;

import picocli.CommandLine.Command;

/** Groups the benchmarks that measure a server. */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Benchmarks a running server: serve drives an OpenAI-compatible endpoint with streaming "
                + "requests and reports TTFT, TPOT, ITL, latency and throughput.",
        subcommands = {BenchServeCommand.class})
final class BenchCommand {
}
