package io.gantry.cli;

import io.gantry.cli.compare.Comparison;
import io.gantry.cli.compare.ComparisonReport;
import io.gantry.cli.compare.EngineSettings;
import io.gantry.cli.compare.LengthDistribution;
import io.gantry.cli.compare.PriorityPattern;
import io.gantry.cli.compare.ReportWriter;
import io.gantry.cli.compare.Strategy;
import io.gantry.cli.compare.StrategyResult;
import io.gantry.cli.compare.WorkloadSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code gantry bench compare}: the offline A/B comparison. Replays one seeded workload through each strategy on the
 * same model, in this process, and writes a report with a table and charts.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = {
            "Runs one seeded workload through each strategy (scheduler[+allocator]) on the same model, one after "
                + "the other, on the engine's serving core and the CPU backend (or GPU 0: --backend cuda), and writes a report to --output: "
                + "report.md (the table), report.json (everything), report.html (table and charts) and the charts "
                + "as PNG. The table also goes to standard output.",
            "Schedulers: continuous, static, priority. KV allocators: paged (default; prefix caching on), "
                + "paged-no-prefix, contiguous. Lengths: N, uniform:MIN-MAX or normal:MEAN,SD."})
final class BenchCompareCommand implements Callable<Integer> {

    /** Keeps the engine's logger (and its level) alive: JUL holds loggers weakly. */
    private static final Logger ENGINE_LOG = Logger.getLogger("io.gantry");

    @Spec
    private CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "FILE", description = "GGUF model file.")
    private Path modelPath;

    @Option(names = "--strategies", paramLabel = "LIST", defaultValue = "continuous,static",
            description = "Strategies to compare, comma-separated, each scheduler[+allocator] (default: "
                    + "${DEFAULT-VALUE}).")
    private String strategies;

    @Option(names = "--output", paramLabel = "DIR",
            description = "Folder for the report (default: bench-compare-<date>-<time>).")
    private Path output;

    @Option(names = "--requests", paramLabel = "N", defaultValue = "32",
            description = "Requests in the workload (default: ${DEFAULT-VALUE}).")
    private int requests;

    @Option(names = "--request-rate", paramLabel = "R", defaultValue = "inf",
            description = "Mean requests per second, Poisson arrivals; inf sends them all at once (default: "
                    + "${DEFAULT-VALUE}).")
    private String requestRate;

    @Option(names = "--concurrency", paramLabel = "C",
            description = "Most requests in flight (default: no limit). With --request-rate inf: a closed loop of C "
                    + "clients.")
    private Integer concurrency;

    @Option(names = "--prompt-tokens", paramLabel = "LENGTH", defaultValue = "80",
            description = "Each prompt's own tokens, after any shared prefix (default: ${DEFAULT-VALUE}).")
    private String promptTokens;

    @Option(names = "--max-tokens", paramLabel = "LENGTH", defaultValue = "64",
            description = "Each request's max_tokens (default: ${DEFAULT-VALUE}).")
    private String maxTokens;

    @Option(names = "--shared-prefix-tokens", paramLabel = "N", defaultValue = "0",
            description = "Tokens every prompt starts with, the same for all (a system prompt; default: "
                    + "${DEFAULT-VALUE}).")
    private int sharedPrefixTokens;

    @Option(names = "--ignore-eos", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Generate past end-of-generation tokens, so every output has max_tokens tokens (default: "
                    + "on; --no-ignore-eos turns it off).")
    private boolean ignoreEos;

    @Option(names = "--priorities", paramLabel = "LIST", defaultValue = "0",
            description = "Request priorities for the priority scheduler: P1,P2,... in turn, or random:P1,P2,... "
                    + "drawn (default: ${DEFAULT-VALUE}).")
    private String priorities;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1",
            description = "Seed of the workload: arrivals, lengths, prompt tokens, priorities (default: "
                    + "${DEFAULT-VALUE}).")
    private long seed;

    @Mixin
    private EngineOptions engineOptions;

    @Mixin
    private BackendOption backend;

    @Override
    public Integer call() throws IOException, InterruptedException {
        List<Strategy> strategyList = usage(() -> Strategy.parseList(strategies));
        WorkloadSpec workload = usage(() -> new WorkloadSpec(requests, requestRate(), concurrency(),
                LengthDistribution.parse(promptTokens), LengthDistribution.parse(maxTokens), sharedPrefixTokens,
                ignoreEos, PriorityPattern.parse(priorities), seed));
        EngineSettings engine = usage(engineOptions::settings);
        Path folder = output != null ? output : Path.of("bench-compare-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)));
        if (Files.exists(folder) && !Files.isDirectory(folder)) {
            throw new ParameterException(spec.commandLine(), "--output " + folder + " is a file, not a folder");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        // Every failure of an engine step reaches the report (see StrategyPlugins); the step loop's own log lines
        // (INFO on every plugin swap, a stack trace per failed step) would only interleave with the progress lines.
        ENGINE_LOG.setLevel(Level.OFF);
        ComparisonReport report;
        try (BackendOption.Started started = backend.start(engine.threads())) {
            report = Comparison.run(started.device(), modelPath, strategyList, workload, engine,
                    Main.Version.number(), line -> {
                        err.println("gantry: " + line);
                        err.flush();
                    });
        }
        List<Path> written = ReportWriter.write(report, folder, warning -> err.println("gantry: " + warning));
        out.print(ReportWriter.table(report).markdown());
        out.flush();
        err.println("gantry: report in " + folder + ": " + String.join(", ", written.stream()
                .map(file -> file.getFileName().toString()).toList()));
        for (StrategyResult result : report.results()) {
            if (result.error() != null) {
                err.println("gantry bench compare: " + result.strategy() + " was stopped: " + result.error());
            }
        }
        err.flush();
        return report.anyFailed() ? Main.FAILED : 0;
    }

    private double requestRate() {
        if (requestRate.strip().equalsIgnoreCase("inf")) {
            return Double.POSITIVE_INFINITY;
        }
        try {
            return Double.parseDouble(requestRate.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--request-rate must be a number of requests per second or inf, got '"
                    + requestRate + "'");
        }
    }

    private int concurrency() {
        if (concurrency != null && concurrency < 1) {
            throw new IllegalArgumentException("--concurrency must be at least 1, got " + concurrency);
        }
        return concurrency == null ? 0 : concurrency;
    }

    /** @return what {@code parse} gives; an IllegalArgumentException (a bad option value) becomes a usage error */
    private <T> T usage(Supplier<T> parse) {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }
}
