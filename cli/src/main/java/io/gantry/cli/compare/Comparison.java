package io.gantry.cli.compare;

import io.gantry.api.inference.ModelInfo;
import io.gantry.api.backend.DeviceBackend;
import io.gantry.engine.serving.Engine;
import io.gantry.engine.serving.ModelServer;
import io.gantry.engine.serving.Variant;

import java.io.IOException;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Runs one workload through several strategies on one model, one strategy after the other, on the engine's serving
 * core (its step loop, outside OSGi) and one backend (the CPU's or a GPU's). The model is loaded once; between runs the engine switches
 * scheduler and KV allocator the way a hot swap does, with a fresh allocator (and so an empty KV pool and prefix
 * cache) for every run. Before the first run, a short untimed warm-up lets the JIT compile the kernels.
 */
public final class Comparison {

    /** Requests of the warm-up, sent at once. */
    static final int WARM_UP_REQUESTS = 8;
    /** Output tokens of each warm-up request at most. */
    static final int WARM_UP_TOKENS = 16;

    private Comparison() {
    }

    /**
     * @param backend    the backend every strategy runs on; the caller closes it
     * @param model      the GGUF file
     * @param strategies what to compare, at least one
     * @param workload   the workload every strategy runs
     * @param engine     the engine settings every strategy runs with
     * @param version    the Gantry version, for the report
     * @param progress   receives a line as each run starts and ends
     * @return the report
     * @throws IOException              if the model cannot be read
     * @throws IllegalArgumentException if the workload does not fit the model's context
     * @throws InterruptedException     if the thread is interrupted
     */
    public static ComparisonReport run(DeviceBackend backend, Path model, List<Strategy> strategies,
            WorkloadSpec workload, EngineSettings engine, String version, Consumer<String> progress)
            throws IOException, InterruptedException {
        if (strategies.isEmpty()) {
            throw new IllegalArgumentException("--strategies names no strategy");
        }
        StrategyPlugins plugins = new StrategyPlugins(backend, engine.maxNumSeqs(), engine.blockSize());
        Engine served = new Engine(List.of(ModelServer.start(null, model, Variant.DEFAULT, plugins,
                engine.limits(workload.requests()), new AtomicLong())));
        try {
            ModelInfo info = served.models().getFirst();
            Workload requests = workload.generate(info.vocabularySize());
            if (requests.longestSequence() > info.contextLength()) {
                throw new IllegalArgumentException("The workload's longest request (prompt plus max tokens) has "
                        + requests.longestSequence() + " tokens, more than the model's context of "
                        + info.contextLength());
            }
            WorkloadRunner runner = new WorkloadRunner(served, served, plugins, info.id());
            Workload warmUp = requests.warmUp(WARM_UP_REQUESTS, WARM_UP_TOKENS);
            String warmUpNote = warmUp.requests().size() + " requests of the workload (outputs capped at "
                    + WARM_UP_TOKENS + " tokens), sent at once through " + strategies.getFirst().name()
                    + " before the first run, untimed: the JIT compiles the kernels then";
            progress.accept("warming up: " + warmUpNote);
            runner.run(strategies.getFirst(), warmUp);
            List<StrategyResult> results = new ArrayList<>();
            for (Strategy strategy : strategies) {
                System.gc();
                progress.accept(strategy.name() + ": " + workload.requests() + " requests ...");
                StrategyResult result = StrategyResult.of(strategy, runner.run(strategy, requests));
                progress.accept(strategy.name() + ": " + summary(result));
                results.add(result);
            }
            return new ComparisonReport(version, OffsetDateTime.now().truncatedTo(ChronoUnit.SECONDS).toString(),
                    new ComparisonReport.Model(model.toString(), info.id(), info.architecture(), info.parameters(),
                            info.contextLength(), info.vocabularySize()), backend.description(), engine, workload,
                    warmUpNote, ComparisonReport.Machine.current(), results);
        } finally {
            served.close();
        }
    }

    private static String summary(StrategyResult result) {
        String line = String.format(Locale.ROOT, "%d of %d requests in %.2f s, %.1f output tok/s", result.completed(),
                result.requests(), result.durationSeconds(), result.outputThroughput());
        return result.error() == null ? line : line + "; stopped: " + result.error();
    }
}
