package io.gantry.api.scheduler;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link SchedulerView} for scheduler unit tests: sequences with given token counts and a KV pool of
 * given size, where a sequence holding {@code c} computed tokens holds {@code ceil(c / blockSize)}
 * blocks; sequences may be given a common prompt prefix ({@link #sharePrefix}) and prefix-cache hits
 * ({@link #cached}). Shipped in plugin-api's test-jar so every scheduler (the samples' too) tests against one fake.
 */
public final class SimulatedView implements SchedulerView, KvBudget {

    /** A sequence of the simulated view. */
    public record Seq(long id, SequenceState state, int promptTokens, int generatedTokens, int computedTokens,
            int maxTokens, int priority, long arrivalNanos, int preemptions) implements SequenceView {
    }

    private final List<SequenceView> waiting = new ArrayList<>();
    private final List<SequenceView> running = new ArrayList<>();
    private final SchedulerLimits limits;
    private final int totalBlocks;
    private final int blockSize;
    private final Map<Long, Integer> sharedPrefix = new HashMap<>();
    private final Map<Long, Integer> cachedPrefix = new HashMap<>();
    private int heldBlocks;
    private long clock;

    /**
     * @param maxNumSeqs          the step's sequence limit
     * @param maxNumBatchedTokens the step's token budget
     * @param totalBlocks         blocks in the simulated pool
     * @param blockSize           tokens per block
     */
    public SimulatedView(int maxNumSeqs, int maxNumBatchedTokens, int totalBlocks, int blockSize) {
        this.limits = new SchedulerLimits(maxNumSeqs, maxNumBatchedTokens);
        this.totalBlocks = totalBlocks;
        this.blockSize = blockSize;
    }

    /** Adds a new waiting request with the given prompt length; returns this view. */
    public SimulatedView waiting(long id, int promptTokens) {
        return waiting(id, promptTokens, 0);
    }

    /** Adds a new waiting request with the given prompt length and priority; returns this view. */
    public SimulatedView waiting(long id, int promptTokens, int priority) {
        waiting.add(new Seq(id, SequenceState.WAITING, promptTokens, 0, 0, 64, priority, clock++, 0));
        return this;
    }

    /** Adds a running, decoding sequence that has generated {@code generated} tokens; returns this view. */
    public SimulatedView decoding(long id, int promptTokens, int generated) {
        return running(new Seq(id, SequenceState.RUNNING, promptTokens, generated, promptTokens + generated - 1, 64, 0,
                clock++, 0));
    }

    /** Adds a running sequence still prefilling, with {@code computed} prompt tokens done; returns this view. */
    public SimulatedView prefilling(long id, int promptTokens, int computed) {
        return running(new Seq(id, SequenceState.RUNNING, promptTokens, 0, computed, 64, 0, clock++, 0));
    }

    /**
     * Sets the clock: the view's {@link #nowNanos()} and the arrival time the helpers above give the
     * sequences added next; returns this view.
     */
    public SimulatedView atNanos(long nanos) {
        clock = nanos;
        return this;
    }

    /**
     * Adds a sequence exactly as given (any state, priority and arrival time); a running one holds
     * {@code ceil(computedTokens / blockSize)} blocks. Returns this view.
     */
    public SimulatedView add(Seq seq) {
        if (seq.state() == SequenceState.RUNNING) {
            return running(seq);
        }
        waiting.add(seq);
        return this;
    }

    /**
     * Makes the prompts of the given sequences start with the same {@code tokens} tokens; returns this view.
     * A sequence belongs to one such group at most.
     */
    public SimulatedView sharePrefix(int tokens, long... ids) {
        for (long id : ids) {
            sharedPrefix.put(id, tokens);
        }
        return this;
    }

    /** Says the prefix cache holds the first {@code tokens} tokens of a waiting sequence; returns this view. */
    public SimulatedView cached(long id, int tokens) {
        cachedPrefix.put(id, tokens);
        return this;
    }

    private SimulatedView running(Seq seq) {
        running.add(seq);
        heldBlocks += blocksFor(seq.computedTokens());
        if (heldBlocks > totalBlocks) {
            throw new IllegalArgumentException("Simulated pool over-committed: " + heldBlocks + " > " + totalBlocks);
        }
        return this;
    }

    private int blocksFor(int tokens) {
        return (tokens + blockSize - 1) / blockSize;
    }

    @Override
    public List<SequenceView> waiting() {
        return List.copyOf(waiting);
    }

    @Override
    public List<SequenceView> running() {
        return List.copyOf(running);
    }

    @Override
    public KvBudget kv() {
        return this;
    }

    @Override
    public SchedulerLimits limits() {
        return limits;
    }

    @Override
    public long nowNanos() {
        return clock;
    }

    @Override
    public int freeBlocks() {
        return totalBlocks - heldBlocks;
    }

    @Override
    public int totalBlocks() {
        return totalBlocks;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public int blocksNeeded(SequenceView sequence, int tokens) {
        int held = sequence.state() == SequenceState.RUNNING ? blocksFor(sequence.computedTokens()) : 0;
        int computed = sequence.state() == SequenceState.RUNNING ? sequence.computedTokens() : 0;
        return Math.max(0, blocksFor(computed + tokens) - held);
    }

    @Override
    public int sharedPrefixTokens(SequenceView first, SequenceView second) {
        Integer one = sharedPrefix.get(first.id());
        Integer other = sharedPrefix.get(second.id());
        if (one == null || !one.equals(other)) {
            return 0;
        }
        int reusable = Math.min(one, second.promptTokens() - 1);
        return reusable - reusable % blockSize;
    }

    @Override
    public int cachedPrefixTokens(SequenceView sequence) {
        return sequence.state() == SequenceState.WAITING ? cachedPrefix.getOrDefault(sequence.id(), 0) : 0;
    }

    @Override
    public int blocksFreedByPreempting(SequenceView sequence) {
        return sequence.state() == SequenceState.RUNNING ? blocksFor(sequence.computedTokens()) : 0;
    }
}
