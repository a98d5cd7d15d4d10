package io.gantry.cli;

import picocli.CommandLine.Command;

/** Groups the serving benchmarks. */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Serving benchmarks: serve drives a running OpenAI-compatible server with streaming requests "
                + "and reports TTFT, TPOT, ITL, latency and throughput; compare replays one workload through "
                + "serving strategies in process and writes a report; transport measures the REST transport's costs "
                + "in process.",
        subcommands = {BenchServeCommand.class, BenchCompareCommand.class, BenchTransportCommand.class})
final class BenchCommand {
}
