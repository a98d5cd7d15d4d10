package io.gantry.cli.compare;

import java.util.List;

/**
 * Everything a comparison found, with what it ran: written as {@code report.json}, and read by {@link ReportWriter}
 * for the table and the charts.
 *
 * @param gantryVersion the Gantry version that ran it
 * @param createdAt     when it finished (ISO 8601)
 * @param model         the model
 * @param backend       the backend, as it describes itself
 * @param engine        the engine settings
 * @param workload      the workload
 * @param warmUp        what ran untimed before the first strategy
 * @param machine       where it ran
 * @param results       one per strategy, in the order they ran
 */
public record ComparisonReport(String gantryVersion, String createdAt, Model model, String backend,
        EngineSettings engine, WorkloadSpec workload, String warmUp, Machine machine, List<StrategyResult> results) {

    /** Copies the results. */
    public ComparisonReport {
        results = List.copyOf(results);
    }

    /**
     * The model every strategy served.
     *
     * @param path           its file
     * @param id             its id
     * @param architecture   its architecture
     * @param parameters     its weights
     * @param contextLength  its context length
     * @param vocabularySize its vocabulary's size
     */
    public record Model(String path, String id, String architecture, long parameters, int contextLength,
            int vocabularySize) {
    }

    /**
     * The machine.
     *
     * @param processors processors the JVM could use
     * @param java       the Java runtime version
     * @param os         the operating system and architecture
     */
    public record Machine(int processors, String java, String os) {

        /** @return this machine */
        static Machine current() {
            return new Machine(Runtime.getRuntime().availableProcessors(), Runtime.version().toString(),
                    System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        }
    }

    /** @return whether any strategy's run was stopped early */
    public boolean anyFailed() {
        return results.stream().anyMatch(result -> result.error() != null);
    }
}
