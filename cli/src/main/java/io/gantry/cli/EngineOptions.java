package io.gantry.cli;

import io.gantry.cli.compare.EngineSettings;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The engine's limits and the CPU backend's threads, for the commands that serve a model in this process. */
final class EngineOptions {

    @Option(names = "--max-num-seqs", paramLabel = "N", defaultValue = "16",
            description = "Most sequences in one step; also the static scheduler's batch size (default: "
                    + "${DEFAULT-VALUE}).")
    private int maxNumSeqs;

    @Option(names = "--max-num-batched-tokens", paramLabel = "N", defaultValue = "512",
            description = "Most tokens in one step, prefill and decode together (default: ${DEFAULT-VALUE}).")
    private int maxNumBatchedTokens;

    @Option(names = "--kv-cache-mb", paramLabel = "MB", defaultValue = "1024",
            description = "Memory for the KV pool, in MiB; it must hold at least one sequence of the model's full "
                    + "context (default: ${DEFAULT-VALUE}).")
    private int kvCacheMb;

    @Option(names = "--block-size", paramLabel = "N", defaultValue = "16",
            description = "Tokens per KV block of the paged allocators (default: ${DEFAULT-VALUE}).")
    private int blockSize;

    @Option(names = "--request-timeout", paramLabel = "SECONDS", defaultValue = "600",
            description = "Longest a request may take; it then counts as failed (default: ${DEFAULT-VALUE}).")
    private int requestTimeout;

    @Mixin
    private KvCacheTypeOption kvCacheType;

    @Mixin
    private ThreadsOption threads;

    /**
     * @return the settings
     * @throws IllegalArgumentException naming an option whose value is wrong
     */
    EngineSettings settings() {
        return new EngineSettings(maxNumSeqs, maxNumBatchedTokens, kvCacheMb, kvCacheType.kvCacheType(), blockSize,
                threads.threads(), requestTimeout);
    }
}
