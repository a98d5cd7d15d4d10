package io.gantry.engine.serving;

import io.gantry.api.backend.DeviceBackend;
import io.gantry.api.backend.TensorType;
import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.GenerationHandle;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.TokenSink;
import io.gantry.api.kv.KvCacheAllocator;
import io.gantry.api.plugin.PluginRegistry;
import io.gantry.api.scheduler.KvBudget;
import io.gantry.api.scheduler.Scheduler;
import io.gantry.api.scheduler.SchedulerLimits;
import io.gantry.api.scheduler.SchedulerView;
import io.gantry.api.scheduler.SequenceState;
import io.gantry.api.scheduler.SequenceView;
import io.gantry.api.scheduler.StepPlan;
import io.gantry.engine.model.ModelWeights;
import io.gantry.engine.model.SequenceOutput;
import io.gantry.engine.model.StepBatch;
import io.gantry.engine.model.Transformer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Serves one model: owns every request's state and runs engine steps one after the other on its own thread.
 * Each step takes in new requests, ends cancelled and expired ones (freeing their KV blocks at once), asks the
 * active {@link Scheduler} for a plan over a read-only view, checks and trims the plan against the limits and
 * the KV space the active {@link KvCacheAllocator} can give, runs the batch through the model on the active
 * {@link DeviceBackend}, and streams each sampled token to its request's sink.
 *
 * <p><b>Hot swap.</b> All three plugins are leased from the {@link PluginRegistry} for the length of a step, so a
 * swap takes effect between steps. A new scheduler needs nothing: the state lives here. A new allocator or
 * backend means a new KV pool: the running sequences are preempted (they keep their tokens), the new plugin is
 * set up, and they are admitted again and re-prefill. No request fails; its latency grows.
 *
 * <p><b>Threading.</b> {@link #submit} and {@link EngineSequence#cancel} are called from any thread and only
 * hand work to the loop through a concurrent queue and a volatile flag; everything else runs on the loop's
 * thread.
 */
final class StepLoop implements Runnable {

    private static final System.Logger LOG = System.getLogger(StepLoop.class.getName());
    /** How long a step waits for a plugin kind that is being swapped, or not yet there. */
    private static final Duration PLUGIN_WAIT = Duration.ofSeconds(5);
    /** How long the loop sleeps when requests wait but none could run (no KV space, an idle plan). */
    private static final long STALLED_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(2);
    private static final Comparator<EngineSequence> ARRIVAL = Comparator.comparingLong(EngineSequence::arrivalNanos)
            .thenComparingLong(EngineSequence::id);

    private final ServingModel model;
    private final PluginRegistry plugins;
    private final ServingLimits limits;
    private final SchedulerLimits schedulerLimits;
    private final Queue<EngineSequence> submitted = new ConcurrentLinkedQueue<>();
    /** Requests accepted but not admitted yet: what the admission limit bounds. */
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicLong nextId;
    private final ServingMetrics metrics;
    private final Thread thread;
    private volatile boolean stopping;

    // The loop thread's own state.
    private final List<EngineSequence> waiting = new ArrayList<>();
    private final List<EngineSequence> running = new ArrayList<>();
    private final StepView view = new StepView();
    private DeviceBackend backend;
    private ModelWeights weights;
    private Transformer transformer;
    private KvCacheAllocator allocator;
    private StepBatch batch;

    /**
     * @param model   the model to serve
     * @param plugins where the scheduler, KV allocator and backend come from
     * @param limits  admission and step limits
     * @param ids     request ids, shared by the loops of all models so ids stay unique
     * @param variant the A/B variant this loop serves, for the metrics' labels
     */
    StepLoop(ServingModel model, PluginRegistry plugins, ServingLimits limits, AtomicLong ids, String variant) {
        this.model = model;
        this.plugins = plugins;
        this.limits = limits;
        this.schedulerLimits = new SchedulerLimits(limits.maxNumSeqs(), limits.maxNumBatchedTokens());
        this.nextId = ids;
        this.metrics = new ServingMetrics(model.id(), variant);
        this.thread = new Thread(this, "gantry-engine-" + model.id() + "-" + variant);
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /**
     * Queues a request; never blocks on generation.
     *
     * @param prompt the prompt's token ids
     * @throws InferenceException if the loop is stopping, the prompt is empty or does not fit the context with
     *                            {@code max_tokens}, or the admission queue is full
     */
    GenerationHandle submit(GenerationRequest request, int[] prompt, TokenSink sink) throws InferenceException {
        if (stopping) {
            throw new InferenceException(InferenceException.Kind.UNAVAILABLE, "The model " + model.id()
                    + " is being unloaded");
        }
        int context = limits.sequenceLimit(model.config().contextLength());
        if (prompt.length == 0) {
            throw new InferenceException(InferenceException.Kind.INVALID_REQUEST, "The prompt is empty");
        }
        boolean untilFull = request.maxTokens() == GenerationRequest.UNTIL_CONTEXT_FULL;
        int maxTokens = untilFull ? context - prompt.length : request.maxTokens();
        if (maxTokens < 1 || (long) prompt.length + maxTokens > context) {
            throw new InferenceException(InferenceException.Kind.CONTEXT_LENGTH_EXCEEDED, "This model's maximum "
                    + "context length is " + context + " tokens, but " + (untilFull
                    ? "the prompt has " + prompt.length + ", which leaves no room for the completion"
                    : (prompt.length + (long) maxTokens) + " were requested (" + prompt.length + " in the prompt, "
                    + maxTokens + " for the completion)"));
        }
        int vocabulary = model.config().vocabularySize();
        for (int token : prompt) {
            if (token < 0 || token >= vocabulary) {
                throw new InferenceException(InferenceException.Kind.INVALID_REQUEST, "Token id " + token
                        + " is outside the vocabulary of " + vocabulary);
            }
        }
        SequenceOutput output = new SequenceOutput(model.tokenizer(), prompt, prompt.length + maxTokens,
                request.sampling(), maxTokens, request.ignoreEos(), request.stopTokenIds(), request.stop(),
                request.topLogprobs());
        if (queued.incrementAndGet() > limits.maxWaiting()) {
            queued.decrementAndGet();
            throw new InferenceException(InferenceException.Kind.OVERLOADED, "The server is overloaded: "
                    + limits.maxWaiting() + " requests are already waiting; retry later");
        }
        long now = System.nanoTime();
        Duration timeout = request.timeout() != null ? request.timeout() : limits.defaultTimeout();
        EngineSequence sequence = new EngineSequence(nextId.incrementAndGet(), request, sink, output, now,
                now + timeout.toNanos(), this);
        submitted.add(sequence);
        wake();
        if (stopping && submitted.remove(sequence)) {
            // The loop may have drained the queue for the last time before the add.
            queued.decrementAndGet();
            throw new InferenceException(InferenceException.Kind.UNAVAILABLE, "The model " + model.id()
                    + " is being unloaded");
        }
        return sequence;
    }

    /** Wakes the loop if it sleeps: a request arrived or was cancelled. */
    void wake() {
        LockSupport.unpark(thread);
    }

    /** Stops the loop: requests still inside end with an {@code UNAVAILABLE} error; waits for the thread. */
    void stop(Duration timeout) throws InterruptedException {
        stopping = true;
        wake();
        thread.join(timeout.toMillis());
    }

    /** @return what this loop records; safe to read from any thread */
    ServingMetrics metrics() {
        return metrics;
    }

    @Override
    public void run() {
        try {
            while (!stopping) {
                boolean worked;
                try {
                    worked = step();
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.ERROR, "Step of model " + model.id() + " failed; failing the "
                            + running.size() + " running requests", e);
                    failRunning(new InferenceException(InferenceException.Kind.INTERNAL,
                            "The engine failed while running this request", e));
                    worked = false;
                }
                if (!worked && !stopping) {
                    // An empty queue sleeps until wake(); a stalled one (nothing could run) polls.
                    LockSupport.parkNanos(this, waiting.isEmpty() && running.isEmpty() && submitted.isEmpty()
                            ? TimeUnit.SECONDS.toNanos(1) : STALLED_PARK_NANOS);
                }
            }
        } finally {
            shutDown();
        }
    }

    /** @return whether the step ran tokens through the model */
    private boolean step() {
        long now = System.nanoTime();
        takeSubmitted();
        endCancelledAndExpired(now);
        if (waiting.isEmpty() && running.isEmpty()) {
            return false;
        }
        return plugins.call(DeviceBackend.class, device -> {
            useBackend(device);
            return plugins.call(KvCacheAllocator.class, kv -> {
                useAllocator(kv);
                return runStep(now);
            }, PLUGIN_WAIT);
        }, PLUGIN_WAIT);
    }

    private void takeSubmitted() {
        for (EngineSequence sequence = submitted.poll(); sequence != null; sequence = submitted.poll()) {
            waiting.add(sequence);
        }
    }

    private void endCancelledAndExpired(long now) {
        for (List<EngineSequence> list : List.of(running, waiting)) {
            for (EngineSequence sequence : List.copyOf(list)) {
                if (sequence.isCancelled()) {
                    finish(sequence, FinishReason.CANCELLED);
                } else if (sequence.isPastDeadline(now)) {
                    finish(sequence, FinishReason.TIMEOUT);
                }
            }
        }
    }

    /** Moves the model onto {@code device} if it is not the one it runs on: a new KV pool, so preempt all. */
    private void useBackend(DeviceBackend device) {
        if (device == backend) {
            return;
        }
        preemptAll();
        releaseModel();
        detachAllocator();
        LOG.log(System.Logger.Level.INFO, "Model {0}: loading onto backend {1}", model.id(), device.description());
        weights = ModelWeights.upload(model.file(), model.config(), device);
        try {
            // A backend without pools of the configured type gets F32 ones, as many slots as the budget holds.
            TensorType kvType = Transformer.kvType(device, limits.kvCacheType());
            transformer = new Transformer(weights, limits.maxNumBatchedTokens(), limits.maxNumSeqs(),
                    model.kvSlots(limits.kvCacheBytes(), limits.maxNumSeqs(), kvType), kvType);
        } catch (RuntimeException | Error e) {
            weights.close();
            weights = null;
            throw e;
        }
        backend = device;
    }

    /** Starts bookkeeping with {@code kv} if it is not the allocator in use: its pool state starts empty. */
    private void useAllocator(KvCacheAllocator kv) {
        if (kv == allocator) {
            return;
        }
        preemptAll();
        detachAllocator();
        kv.attach(transformer.kvSlots(), limits.sequenceLimit(model.config().contextLength()));
        allocator = kv;
        batch = new StepBatch(limits.maxNumSeqs(), limits.maxNumBatchedTokens(), kv.blockSize());
        LOG.log(System.Logger.Level.INFO, "Model {0}: KV pool of {1} slots ({2}) in {3} blocks of {4}", model.id(),
                transformer.kvSlots(), transformer.kvPoolSpec().elementType(), kv.totalBlocks(), kv.blockSize());
    }

    private boolean runStep(long now) {
        view.now = now;
        StepPlan plan;
        try {
            plan = plugins.call(Scheduler.class, scheduler -> scheduler.plan(view), PLUGIN_WAIT);
        } catch (RuntimeException e) {
            // The contract says a scheduler never throws; one that does loses this step, not the requests.
            LOG.log(System.Logger.Level.WARNING, "The scheduler failed to plan a step; skipping it", e);
            return false;
        }
        for (Long id : plan.preempt()) {
            EngineSequence sequence = find(running, id);
            if (sequence != null) {
                preempt(sequence);
            }
        }
        batch.clear();
        List<EngineSequence> stepped = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        List<Integer> logitRows = new ArrayList<>();
        int budget = limits.maxNumBatchedTokens();
        for (StepPlan.Chunk chunk : plan.run()) {
            if (stepped.size() == limits.maxNumSeqs() || budget == 0) {
                break;
            }
            EngineSequence sequence = find(running, chunk.sequenceId());
            if (sequence == null) {
                sequence = find(waiting, chunk.sequenceId());
            }
            if (sequence == null || stepped.contains(sequence)) {
                continue;
            }
            int count = admit(sequence, Math.min(chunk.tokens(), budget));
            if (count == 0) {
                continue;
            }
            int blocks = allocator.copyBlockTable(sequence.id(), tableFor(sequence));
            int start = sequence.computedTokens();
            int row = batch.add(sequence.output().tokenArray(), start, count, start, sequence.blockTable(),
                    start + count == sequence.length());
            if (blocks * allocator.blockSize() < start + count) {
                throw new IllegalStateException("The KV allocator gave " + sequence + " " + blocks + " blocks for "
                        + (start + count) + " positions");
            }
            stepped.add(sequence);
            counts.add(count);
            logitRows.add(row);
            budget -= count;
        }
        if (stepped.isEmpty()) {
            metrics.state(running.size(), waiting.size(), allocator.stats());
            return false;
        }
        float[] logits = transformer.forward(batch);
        long done = System.nanoTime();
        int vocabulary = model.config().vocabularySize();
        for (int i = 0; i < stepped.size(); i++) {
            EngineSequence sequence = stepped.get(i);
            sequence.computed(counts.get(i));
            allocator.commit(sequence.id(), sequence.tokens(), sequence.computedTokens());
            if (logitRows.get(i) >= 0) {
                emit(sequence, logits, logitRows.get(i) * vocabulary, done);
            }
        }
        metrics.state(running.size(), waiting.size(), allocator.stats());
        return true;
    }

    /**
     * Gets KV space for {@code tokens} more of the sequence's pending tokens, admitting it if it waits.
     *
     * @return how many tokens it runs this step: at most {@code tokens} and its pending ones; 0 if there is no
     *         space for it
     */
    private int admit(EngineSequence sequence, int tokens) {
        int[] sequenceTokens = sequence.tokens();
        if (sequence.state() == SequenceState.RUNNING) {
            int count = Math.min(tokens, sequence.pendingTokens());
            return allocator.allocate(sequence.id(), sequenceTokens, sequence.computedTokens() + count) < 0
                    ? 0 : count;
        }
        int cached = allocator.cachedPrefixLength(sequenceTokens);
        int count = Math.min(tokens, sequence.length() - cached);
        int reused = allocator.allocate(sequence.id(), sequenceTokens, cached + count);
        if (reused < 0) {
            return 0;
        }
        boolean firstTime = !sequence.wasAdmitted();
        sequence.run(Math.min(reused, cached));
        waiting.remove(sequence);
        running.add(sequence);
        if (firstTime) {
            queued.decrementAndGet();
            metrics.admitted(System.nanoTime() - sequence.arrivalNanos(), sequence.promptTokens(),
                    sequence.computedTokens());
        }
        return Math.min(count, sequence.pendingTokens());
    }

    private int[] tableFor(EngineSequence sequence) {
        sequence.ensureBlockTableCapacity(Math.ceilDiv(limits.sequenceLimit(model.config().contextLength()),
                allocator.blockSize()));
        return sequence.blockTable();
    }

    /** Samples the sequence's next token, streams it, and ends the sequence if that was its last. */
    private void emit(EngineSequence sequence, float[] logits, int offset, long now) {
        SequenceOutput output = sequence.output();
        GeneratedToken token = output.next(logits, offset);
        FinishReason finish = output.finishReason();
        if (token != null) {
            metrics.token(sequence.tokenStreamed(now), now - sequence.arrivalNanos());
        } else {
            String rest = output.finish();
            // Text held back for a possible stop string is output after all: it comes with the stop token.
            token = rest.isEmpty() ? null : new GeneratedToken(output.stopToken(), rest, Float.NaN, List.of());
        }
        if (token != null && !deliver(sequence, token)) {
            finish = FinishReason.CANCELLED;
        }
        if (finish != null) {
            finish(sequence, finish);
        }
    }

    /** @return whether the sink took the token; a sink that throws cancels its request only */
    private boolean deliver(EngineSequence sequence, GeneratedToken token) {
        try {
            sequence.sink().onToken(token);
            return true;
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "The sink of request " + sequence.id() + " failed; cancelling it",
                    e);
            return false;
        }
    }

    /** Ends a sequence: frees its KV blocks in this step and completes its request. */
    private void finish(EngineSequence sequence, FinishReason reason) {
        if (sequence.state() == SequenceState.RUNNING) {
            allocator.free(sequence.id());
        }
        if (!sequence.wasAdmitted()) {
            queued.decrementAndGet();
        }
        running.remove(sequence);
        waiting.remove(sequence);
        if (reason == FinishReason.CANCELLED || reason == FinishReason.TIMEOUT) {
            sequence.output().finish();
        }
        metrics.finished(reason, System.nanoTime() - sequence.arrivalNanos());
        // Before the request completes: whoever waits on it then reads gauges that no longer count it.
        metrics.state(running.size(), waiting.size(), allocator == null ? null : allocator.stats());
        try {
            sequence.complete(reason);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "The sink of request " + sequence.id() + " failed at its end", e);
        }
    }

    private void preempt(EngineSequence sequence) {
        allocator.free(sequence.id());
        metrics.preempted();
        sequence.preempt();
        running.remove(sequence);
        int at = Collections.binarySearch(waiting, sequence, ARRIVAL);
        waiting.add(at < 0 ? -at - 1 : at, sequence);
    }

    private void preemptAll() {
        for (EngineSequence sequence : List.copyOf(running)) {
            preempt(sequence);
        }
    }

    /** Hands the old allocator back; it may already be deactivated, which changes nothing here. */
    private void detachAllocator() {
        if (allocator != null) {
            try {
                allocator.detach();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "Detaching the old KV allocator failed", e);
            }
            allocator = null;
        }
    }

    /** Frees the model's buffers, pool and weights on the old backend; a deactivated backend freed them itself. */
    private void releaseModel() {
        try {
            if (transformer != null) {
                transformer.close();
            }
            if (weights != null) {
                weights.close();
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "Releasing the model on the old backend failed", e);
        }
        transformer = null;
        weights = null;
        backend = null;
    }

    private void failRunning(InferenceException error) {
        for (EngineSequence sequence : List.copyOf(running)) {
            try {
                if (allocator != null) {
                    allocator.free(sequence.id());
                }
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "Freeing a failed sequence's KV failed", e);
            }
            running.remove(sequence);
            metrics.failed();
            failQuietly(sequence, error);
        }
    }

    private void shutDown() {
        takeSubmitted();
        InferenceException error = new InferenceException(InferenceException.Kind.UNAVAILABLE,
                "The model " + model.id() + " was unloaded");
        failRunning(error);
        for (EngineSequence sequence : List.copyOf(waiting)) {
            failQuietly(sequence, error);
        }
        waiting.clear();
        detachAllocator();
        releaseModel();
    }

    private static void failQuietly(EngineSequence sequence, InferenceException error) {
        try {
            sequence.fail(error);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "A sink failed while its request was failed", e);
        }
    }

    private static EngineSequence find(List<EngineSequence> sequences, long id) {
        for (EngineSequence sequence : sequences) {
            if (sequence.id() == id) {
                return sequence;
            }
        }
        return null;
    }

    /** The scheduler's view of this loop, reused every step; valid during the plan call only. */
    private final class StepView implements SchedulerView, KvBudget {
        long now;

        @Override
        public List<SequenceView> waiting() {
            return Collections.unmodifiableList(waiting);
        }

        @Override
        public List<SequenceView> running() {
            return Collections.unmodifiableList(running);
        }

        @Override
        public KvBudget kv() {
            return this;
        }

        @Override
        public SchedulerLimits limits() {
            return schedulerLimits;
        }

        @Override
        public long nowNanos() {
            return now;
        }

        @Override
        public int freeBlocks() {
            return allocator.freeBlocks();
        }

        @Override
        public int totalBlocks() {
            return allocator.totalBlocks();
        }

        @Override
        public int blockSize() {
            return allocator.blockSize();
        }

        @Override
        public int blocksNeeded(SequenceView sequence, int tokens) {
            if (!(sequence instanceof EngineSequence own) || tokens < 0) {
                return Integer.MAX_VALUE;
            }
            return allocator.blocksNeeded(own.id(), own.tokens(), own.computedTokens() + tokens);
        }

        @Override
        public int sharedPrefixTokens(SequenceView first, SequenceView second) {
            if (!allocator.reusesPrefixes() || !(first instanceof EngineSequence one)
                    || !(second instanceof EngineSequence other)) {
                return 0;
            }
            int reusable = Math.min(one.commonPrefixLength(other), other.length() - 1);
            return reusable <= 0 ? 0 : reusable - reusable % allocator.blockSize();
        }

        @Override
        public int cachedPrefixTokens(SequenceView sequence) {
            return sequence instanceof EngineSequence own && own.state() == SequenceState.WAITING
                    ? allocator.cachedPrefixLength(own.tokens()) : 0;
        }

        @Override
        public int blocksFreedByPreempting(SequenceView sequence) {
            if (!(sequence instanceof EngineSequence own) || own.state() != SequenceState.RUNNING) {
                return 0;
            }
            return allocator.freeableBlocks(own.id());
        }
    }
}
