package io.gantry.cli.compare;

import io.gantry.api.kv.KvCacheAllocator;
import io.gantry.api.scheduler.Scheduler;
import io.gantry.kv.contiguous.ContiguousKvAllocator;
import io.gantry.kv.paged.PagedKvAllocator;
import io.gantry.scheduler.continuous.ContinuousScheduler;
import io.gantry.scheduler.fixed.StaticScheduler;
import io.gantry.scheduler.priority.PriorityScheduler;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * One way of serving that a comparison runs: a scheduler and a KV allocator, written {@code scheduler[+allocator]}
 * ({@code continuous}, {@code static+contiguous}, {@code priority+paged-no-prefix}); the allocator defaults to
 * {@code paged}.
 *
 * @param name      the name as written (trimmed, lower case): the report's label
 * @param scheduler the scheduling policy
 * @param allocator the KV allocator
 */
public record Strategy(String name, SchedulerChoice scheduler, AllocatorChoice allocator) {

    /** The scheduler plugins Gantry ships. */
    public enum SchedulerChoice {
        /** Continuous (iteration-level) batching with chunked prefill. */
        CONTINUOUS,
        /** Static batching: a batch of up to max-num-seqs requests runs to completion. */
        STATIC,
        /** Continuous batching by priority, preempting lower priorities. */
        PRIORITY;

        /**
         * @param maxNumSeqs the engine's max-num-seqs: the static scheduler's batch size, so that every scheduler
         *                   may run as many sequences at once
         * @return a new instance
         */
        public Scheduler create(int maxNumSeqs) {
            return switch (this) {
                case CONTINUOUS -> new ContinuousScheduler();
                case STATIC -> new StaticScheduler(maxNumSeqs);
                case PRIORITY -> new PriorityScheduler();
            };
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The KV allocator plugins Gantry ships. */
    public enum AllocatorChoice {
        /** Paged blocks with prefix caching. */
        PAGED,
        /** Paged blocks, prefix caching off. */
        PAGED_NO_PREFIX,
        /** One reservation of the model's context length per sequence. */
        CONTIGUOUS;

        /**
         * @param blockSize tokens per block of the paged allocators
         * @return a new instance, with an empty prefix cache
         */
        public KvCacheAllocator create(int blockSize) {
            return switch (this) {
                case PAGED -> new PagedKvAllocator(blockSize, true);
                case PAGED_NO_PREFIX -> new PagedKvAllocator(blockSize, false);
                case CONTIGUOUS -> new ContiguousKvAllocator();
            };
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    /**
     * @param text {@code scheduler[+allocator]}
     * @return the strategy
     * @throws IllegalArgumentException naming the choices, if a part is unknown
     */
    public static Strategy parse(String text) {
        String name = text.strip().toLowerCase(Locale.ROOT);
        String[] parts = name.split("\\+", -1);
        if (parts.length > 2) {
            throw new IllegalArgumentException("'" + text + "' is not a strategy: expected scheduler[+allocator]");
        }
        return new Strategy(name, choose(SchedulerChoice.values(), parts[0], "scheduler"),
                parts.length == 2 ? choose(AllocatorChoice.values(), parts[1], "KV allocator") : AllocatorChoice.PAGED);
    }

    /**
     * @param text strategies separated by commas
     * @return them, in order
     * @throws IllegalArgumentException if one is unknown or two are the same
     */
    public static List<Strategy> parseList(String text) {
        List<Strategy> strategies = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (String part : text.split(",")) {
            Strategy strategy = parse(part);
            if (!seen.add(strategy.scheduler() + "+" + strategy.allocator())) {
                throw new IllegalArgumentException("'" + strategy.name() + "' is listed twice (as "
                        + strategy.scheduler() + "+" + strategy.allocator() + ")");
            }
            strategies.add(strategy);
        }
        return strategies;
    }

    private static <E extends Enum<E>> E choose(E[] choices, String name, String what) {
        for (E choice : choices) {
            if (choice.toString().equals(name)) {
                return choice;
            }
        }
        throw new IllegalArgumentException("unknown " + what + " '" + name + "' (choose from "
                + Arrays.stream(choices).map(Object::toString).collect(Collectors.joining(", ")) + ")");
    }
}
