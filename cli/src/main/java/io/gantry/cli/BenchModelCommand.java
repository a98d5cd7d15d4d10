package io.gantry.cli;

import io.gantry.api.backend.KvPoolSpec;
import io.gantry.api.inference.SamplingParams;
import io.gantry.engine.model.BlockTables;
import io.gantry.engine.model.StepBatch;
import io.gantry.engine.model.Transformer;
import io.gantry.engine.sampling.Sampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.function.LongSupplier;

/**
 * {@code gantry bench-model}: Gantry's model benchmark, a table in the form of llama.cpp's llama-bench so that the
 * numbers can be put beside its. Prompts are random token ids (seeded) and end-of-generation tokens are ignored:
 * speed does not depend on which tokens run.
 */
@Command(name = "bench-model", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        sortOptions = false, description = {
            "Measures a model on the CPU backend (or on GPU 0: --backend cuda) and prints a llama-bench style table: pp<P> is the prefill of a "
                + "P-token prompt in one step, tg<G> is G decode steps of one sequence from an empty context, and "
                + "tg<G> @ b<B> is G decode steps of B sequences together after their P-token prompts were "
                + "prefilled (only the decode steps are timed; t/s counts every sequence's tokens).",
            "Before its timed runs every test runs untimed until one run passes in which the JIT compiler "
                + "finished no compilation (at most " + BenchModelCommand.MAX_WARMUP_RUNS + " runs): the table "
                + "shows compiled code, as a server that has run a while does. Then --repetitions timed runs: "
                + "mean ± standard deviation."})
final class BenchModelCommand implements Callable<Integer> {

    /** KV block size of the benchmark's layout; any size works. */
    private static final int KV_BLOCK = 16;
    /**
     * Untimed runs of a test at most. On 2 cores the compiler threads share the cores with the workers, and C2
     * recompiles kernels for several seconds (deoptimised as new batch sizes and paths appear), so one warm-up run
     * left compilations running into the timed ones; bench-110m Q8_0 typically settles after 3 to 9 runs of tg64
     * and 8 to 12 of pp128.
     */
    static final int MAX_WARMUP_RUNS = 12;

    @Spec
    private CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "FILE", description = "GGUF model file.")
    private Path modelPath;

    @Mixin
    private ThreadsOption threads;

    @Mixin
    private BackendOption backend;

    @Option(names = "--repetitions", paramLabel = "R", defaultValue = "3",
            description = "Timed runs of each test, after its warm-up runs (default: ${DEFAULT-VALUE}).")
    private int repetitions;

    @Option(names = "--prompt", paramLabel = "P", defaultValue = "128",
            description = "Prompt tokens of the prefill test and of each batched sequence (default: ${DEFAULT-VALUE}).")
    private int promptLength;

    @Option(names = "--gen", paramLabel = "G", defaultValue = "64",
            description = "Decode steps of the generation tests (default: ${DEFAULT-VALUE}).")
    private int generateLength;

    @Option(names = "--batches", paramLabel = "B", split = ",", defaultValue = "1,4,16",
            description = "Sequences decoding together, one tg<G> @ b<B> row each (default: ${DEFAULT-VALUE}).")
    private int[] batches;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1234",
            description = "Seed of the random prompt tokens (default: ${DEFAULT-VALUE}).")
    private long seed;

    @Mixin
    private KvCacheTypeOption kvCacheType;

    @Option(names = "--profile",
            description = "After the table, where each test's time went: every backend operation timed, per weight "
                    + "and batch size, with the backend synchronised after each (so the table's t/s are lower).")
    private boolean profile;

    @Override
    public Integer call() throws IOException {
        checkOptions();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (LoadedModel model = LoadedModel.open(modelPath,
                () -> profile ? backend.start(threads.threads()).profiled() : backend.start(threads.threads()))) {
            ProfilingBackend profiler = model.backend.device() instanceof ProfilingBackend timing ? timing : null;
            err.println("gantry: " + model.summary());
            err.flush();
            int context = model.config.contextLength();
            if (promptLength + generateLength > context) {
                throw new ParameterException(spec.commandLine(), "--prompt " + promptLength + " plus --gen "
                        + generateLength + " exceed the model's context length of " + context);
            }
            int maxBatch = Arrays.stream(batches).max().orElseThrow();
            int sequenceLength = promptLength + generateLength;
            int slotsPerSequence = Math.ceilDiv(sequenceLength, KV_BLOCK) * KV_BLOCK;
            List<MemoryPoolMXBean> heapPools = ManagementFactory.getMemoryPoolMXBeans().stream()
                    .filter(pool -> pool.getType() == MemoryType.HEAP).toList();
            heapPools.forEach(MemoryPoolMXBean::resetPeakUsage);
            try (Transformer transformer = new Transformer(model.weights, Math.max(promptLength, maxBatch), maxBatch,
                    Math.multiplyExact(maxBatch, slotsPerSequence), kvCacheType.kvCacheType())) {
                Bench bench = new Bench(transformer, maxBatch, sequenceLength);
                List<BenchTest> tests = new ArrayList<>();
                tests.add(new BenchTest("pp" + promptLength, promptLength, 0, () -> { }, bench::prefill));
                tests.add(new BenchTest("tg" + generateLength, generateLength, generateLength, () -> { },
                        () -> bench.decode(1, 0)));
                for (int batch : batches) {
                    tests.add(new BenchTest("tg" + generateLength + " @ b" + batch, (long) batch * generateLength,
                            generateLength, () -> bench.prefillSequences(batch),
                            () -> bench.decode(batch, promptLength)));
                }
                String row = "| " + model.label() + " | " + Units.bytes(model.tensorBytes()) + " | "
                        + Units.count(model.parameters()) + " | " + backend.kind().label() + " | "
                        + threads.threads() + " | ";
                out.println("| model | size | params | backend | threads | test | t/s |");
                out.println("| --- | ---: | ---: | --- | ---: | --- | ---: |");
                out.flush();
                List<String> decodeBandwidths = new ArrayList<>();
                List<Runnable> profiles = new ArrayList<>();
                List<String> warmUps = new ArrayList<>();
                for (BenchTest test : tests) {
                    warmUps.add(test.name() + " " + warmUp(test));
                    test.prepare().run();
                    if (profiler != null) {
                        profiler.reset();
                    }
                    Rate rate = tokensPerSecond(test);
                    if (profiler != null) {
                        profiles.add(profileTable(profiler, test, rate, out));
                    }
                    out.println(row + test.name() + " | " + rate + " |");
                    out.flush();
                    if (test.steps() > 0) {
                        double stepsPerSecond = rate.mean() * test.steps() / test.tokens();
                        decodeBandwidths.add(test.name() + " " + gigabytesPerSecond(
                                model.decodeWeightBytes() * stepsPerSecond));
                    }
                }
                long peakHeap = heapPools.stream().mapToLong(pool -> pool.getPeakUsage().getUsed()).sum();
                MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
                memory.gc();
                out.println();
                out.println("Every test ran untimed until a run passed in which the JIT compiler finished no "
                        + "compilation (untimed runs: " + String.join(", ", warmUps) + "), then " + repetitions
                        + (repetitions == 1 ? " time" : " times") + " timed: mean ± standard deviation. "
                        + "Random prompt tokens (seed " + seed + "), end-of-generation tokens ignored.");
                out.println("Backend: " + backend.kind().label() + ", " + model.backend.device().description());
                out.println("Decode steps read " + Units.bytes(model.decodeWeightBytes()) + " of weights each (every "
                        + "tensor but the token embeddings), so the weights were read at: "
                        + String.join(", ", decodeBandwidths) + ".");
                double copyBandwidth = BackendOption.copyBandwidth(model.backend.device());
                if (copyBandwidth > 0) {
                    out.println("Device memory bandwidth of a device-to-device copy (bytes read plus written, "
                            + Units.bytes(BackendOption.COPY_TEST_BYTES) + " " + BackendOption.COPY_TEST_REPEATS
                            + " times): " + gigabytesPerSecond(copyBandwidth) + ".");
                }
                KvPoolSpec pool = transformer.kvPoolSpec();
                out.println("KV pool: " + pool.capacitySlots() + " slots, " + Units.bytes(pool.bytes()) + " ("
                        + pool.elementType() + ", " + backend.kvPoolPlace() + "). Java heap after the model loaded: "
                        + "peak used " + Units.bytes(peakHeap) + " (the heap pools' peaks summed, garbage not yet "
                        + "collected included), live after a final GC " + Units.bytes(memory.getHeapMemoryUsage()
                        .getUsed()) + "; max heap " + Units.bytes(Runtime.getRuntime().maxMemory()) + ".");
                profiles.forEach(Runnable::run);
                out.flush();
            }
        }
        return 0;
    }

    /**
     * @return prints the profile of {@code test}'s timed runs, as {@code profiler} holds it now (its operations are
     *         copied: the profiler goes on with the next test)
     */
    private Runnable profileTable(ProfilingBackend profiler, BenchTest test, Rate rate, PrintWriter out) {
        ProfilingBackend.Profile profile = profiler.profile();
        boolean perStep = test.steps() > 0;
        long units = perStep ? (long) repetitions * test.steps() : repetitions;
        String title = test.name() + " (" + repetitions + (repetitions == 1 ? " run" : " runs")
                + (perStep ? " of " + test.steps() + " decode steps" : "") + ")";
        return () -> profile.print(title, units, perStep ? "decode step" : "run", rate.nanos(), out);
    }

    private void checkOptions() {
        if (repetitions < 1 || promptLength < 1 || generateLength < 1) {
            throw new ParameterException(spec.commandLine(), "--repetitions, --prompt and --gen must be at least 1, "
                    + "got " + repetitions + ", " + promptLength + " and " + generateLength);
        }
        if (batches.length == 0 || Arrays.stream(batches).anyMatch(b -> b < 1)) {
            throw new ParameterException(spec.commandLine(), "--batches must be positive numbers, got "
                    + Arrays.toString(batches));
        }
    }

    /**
     * One row of the table.
     *
     * @param name     the test's name
     * @param tokens   tokens one run processes
     * @param steps    decode steps one run takes, 0 for the prefill test
     * @param prepare  what to do, untimed, before the runs (prefill the prompts the runs decode after)
     * @param runNanos one run, returning the nanoseconds it took
     */
    private record BenchTest(String name, long tokens, int steps, Runnable prepare, LongSupplier runNanos) {
    }

    /**
     * Tokens per second over the timed runs.
     *
     * @param mean              the mean
     * @param standardDeviation the sample standard deviation
     * @param nanos             the timed runs' total time
     */
    private record Rate(double mean, double standardDeviation, long nanos) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%.2f ± %.2f", mean, standardDeviation);
        }
    }

    private static String gigabytesPerSecond(double bytesPerSecond) {
        return String.format(Locale.ROOT, "%.1f GB/s", bytesPerSecond / 1e9);
    }

    /**
     * Runs {@code test} untimed until a run passes in which the JIT compiler finished no compilation, or
     * {@link #MAX_WARMUP_RUNS} times (once where the JVM does not report its compilation time).
     *
     * @return the untimed runs
     */
    private static int warmUp(BenchTest test) {
        CompilationMXBean compiler = ManagementFactory.getCompilationMXBean();
        boolean measurable = compiler != null && compiler.isCompilationTimeMonitoringSupported();
        int runs = 0;
        long compiledMillis;
        do {
            compiledMillis = measurable ? compiler.getTotalCompilationTime() : 0;
            test.prepare().run();
            test.runNanos().getAsLong();
            runs++;
        } while (measurable && runs < MAX_WARMUP_RUNS && compiler.getTotalCompilationTime() != compiledMillis);
        return runs;
    }

    /** @return the test's tokens per second over {@code repetitions} runs */
    private Rate tokensPerSecond(BenchTest test) {
        double[] rates = new double[repetitions];
        long nanos = 0;
        for (int i = 0; i < repetitions; i++) {
            long run = test.runNanos().getAsLong();
            nanos += run;
            rates[i] = test.tokens() / (run / 1e9);
        }
        double mean = Arrays.stream(rates).average().orElseThrow();
        double variance = repetitions < 2 ? 0
                : Arrays.stream(rates).map(r -> (r - mean) * (r - mean)).sum() / (repetitions - 1);
        return new Rate(mean, Math.sqrt(variance), nanos);
    }

    /** The tests, on one transformer whose KV pool gives each sequence consecutive blocks. */
    private final class Bench {
        private final Transformer transformer;
        private final int vocabularySize;
        private final int[][] blockTables;
        /** Each sequence's random prompt. */
        private final int[][] prompts;
        /** Each sequence's decoded tokens: a random first one, then the greedy choices. */
        private final int[][] decoded;
        private final Sampler[] samplers;
        private final StepBatch batch;

        Bench(Transformer transformer, int maxBatch, int sequenceLength) {
            this.transformer = transformer;
            this.vocabularySize = transformer.config().vocabularySize();
            int[] lengths = new int[maxBatch];
            Arrays.fill(lengths, sequenceLength);
            this.blockTables = BlockTables.consecutive(lengths, KV_BLOCK, transformer.kvSlots());
            SplittableRandom random = new SplittableRandom(seed);
            this.prompts = new int[maxBatch][];
            this.decoded = new int[maxBatch][generateLength];
            this.samplers = new Sampler[maxBatch];
            for (int s = 0; s < maxBatch; s++) {
                prompts[s] = random.ints(promptLength, 0, vocabularySize).toArray();
                decoded[s][0] = random.nextInt(vocabularySize);
                samplers[s] = new Sampler(SamplingParams.GREEDY, vocabularySize, new int[0]);
            }
            this.batch = new StepBatch(maxBatch, transformer.maxRows(), KV_BLOCK);
        }

        /** @return the nanoseconds of one step over sequence 0's prompt */
        long prefill() {
            batch.clear();
            batch.add(prompts[0], 0, promptLength, 0, blockTables[0], true);
            long start = System.nanoTime();
            transformer.forward(batch);
            return System.nanoTime() - start;
        }

        /** Fills the KV pool with the prompts of the first {@code count} sequences, a step each (not timed). */
        void prefillSequences(int count) {
            for (int s = 0; s < count; s++) {
                batch.clear();
                batch.add(prompts[s], 0, promptLength, 0, blockTables[s], false);
                transformer.forward(batch);
            }
        }

        /**
         * Decodes {@code generateLength} tokens for each of the first {@code count} sequences together, from position
         * {@code from}: each step feeds every sequence's latest token and chooses the next greedily. Runs repeat from
         * the same position, over KV entries that each run overwrites alike.
         *
         * @return the nanoseconds of the steps
         */
        long decode(int count, int from) {
            long start = System.nanoTime();
            for (int step = 0; step < generateLength; step++) {
                batch.clear();
                for (int s = 0; s < count; s++) {
                    batch.add(decoded[s], step, 1, from + step, blockTables[s], true);
                }
                float[] logits = transformer.forward(batch);
                if (step + 1 < generateLength) {
                    for (int s = 0; s < count; s++) {
                        decoded[s][step + 1] = samplers[s].sample(logits, s * vocabularySize);
                    }
                }
            }
            return System.nanoTime() - start;
        }
    }
}
