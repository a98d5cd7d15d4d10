package io.gantry.engine.serving;

import io.gantry.api.inference.Completion;
import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GenerationHandle;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.TokenSink;
import io.gantry.api.scheduler.SequenceState;
import io.gantry.api.scheduler.SequenceView;
import io.gantry.engine.model.SequenceOutput;

import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * One request inside the step loop: its output, where it stands (waiting, running, preempted), how much of it
 * the KV pool holds, and its sink. The step loop's thread owns every field but {@link #cancelled}; schedulers
 * see it as a read-only {@link SequenceView} during their plan call.
 */
final class EngineSequence implements SequenceView, GenerationHandle {

    private final long id;
    private final GenerationRequest request;
    private final TokenSink sink;
    private final SequenceOutput output;
    private final long arrivalNanos;
    private final long deadlineNanos;
    private final CompletableFuture<Completion> completion = new CompletableFuture<>();
    private final StepLoop loop;
    /** Set by any thread through {@link #cancel()}; the step loop acts on it at its next step. */
    private volatile boolean cancelled;
    private SequenceState state = SequenceState.WAITING;
    private int computed;
    private int preemptions;
    private int cachedPromptTokens = -1;
    private boolean admitted;
    private boolean streamed;
    private long lastTokenNanos;
    /** The block table, as the allocator last copied it; sized for the longest sequence. */
    private int[] blockTable = new int[0];

    EngineSequence(long id, GenerationRequest request, TokenSink sink, SequenceOutput output, long arrivalNanos,
            long deadlineNanos, StepLoop loop) {
        this.id = id;
        this.request = request;
        this.sink = sink;
        this.output = output;
        this.arrivalNanos = arrivalNanos;
        this.deadlineNanos = deadlineNanos;
        this.loop = loop;
    }

    @Override
    public long id() {
        return id;
    }

    @Override
    public long requestId() {
        return id;
    }

    @Override
    public SequenceState state() {
        return state;
    }

    @Override
    public int promptTokens() {
        return output.promptLength();
    }

    @Override
    public int generatedTokens() {
        return output.generatedLength();
    }

    @Override
    public int computedTokens() {
        return computed;
    }

    @Override
    public int maxTokens() {
        // The output holds the prompt and at most max_tokens more: this is the limit the request resolved to.
        return output.capacity() - output.promptLength();
    }

    @Override
    public int priority() {
        return request.priority();
    }

    @Override
    public long arrivalNanos() {
        return arrivalNanos;
    }

    @Override
    public int preemptions() {
        return preemptions;
    }

    @Override
    public void cancel() {
        if (!completion.isDone()) {
            cancelled = true;
            loop.wake();
        }
    }

    @Override
    public CompletionStage<Completion> completion() {
        return completion.minimalCompletionStage();
    }

    GenerationRequest request() {
        return request;
    }

    TokenSink sink() {
        return sink;
    }

    SequenceOutput output() {
        return output;
    }

    boolean isCancelled() {
        return cancelled;
    }

    boolean isPastDeadline(long now) {
        return now - deadlineNanos > 0;
    }

    /** @return the tokens so far, exactly: the allocator's view of the sequence */
    int[] tokens() {
        return Arrays.copyOf(output.tokenArray(), output.length());
    }

    int length() {
        return output.length();
    }

    /**
     * @param other another sequence
     * @return how many leading tokens the two have in common; compared in place, since schedulers ask this
     *         for many pairs each step
     */
    int commonPrefixLength(EngineSequence other) {
        int length = Math.min(length(), other.length());
        int mismatch = Arrays.mismatch(output.tokenArray(), 0, length, other.output.tokenArray(), 0, length);
        return mismatch < 0 ? length : mismatch;
    }

    int[] blockTable() {
        return blockTable;
    }

    void ensureBlockTableCapacity(int blocks) {
        if (blockTable.length < blocks) {
            blockTable = new int[blocks];
        }
    }

    /** Now holds KV space for its first {@code reusedTokens} positions (a prefix-cache hit) or none. */
    void run(int reusedTokens) {
        state = SequenceState.RUNNING;
        computed = reusedTokens;
        if (!admitted) {
            admitted = true;
            cachedPromptTokens = reusedTokens;
        }
    }


    boolean wasAdmitted() {
        return admitted;
    }

    void computed(int tokens) {
        computed += tokens;
    }

    /** Lost its KV space: keeps its tokens, must re-prefill them. */
    void preempt() {
        state = SequenceState.PREEMPTED;
        computed = 0;
        preemptions++;
    }

    /** Records that a token was streamed now. @return the gap since the previous one, or -1 for the first */
    long tokenStreamed(long now) {
        long gap = streamed ? now - lastTokenNanos : -1;
        streamed = true;
        lastTokenNanos = now;
        return gap;
    }

    /** Ends the request: the sink's last call and the handle's completion. */
    void complete(FinishReason reason) {
        Completion result = new Completion(reason, output.promptLength(), output.generatedLength(),
                Math.max(0, cachedPromptTokens));
        try {
            sink.onComplete(result);
        } finally {
            completion.complete(result);
        }
    }

    /** Ends the request with an error. */
    void fail(InferenceException error) {
        try {
            sink.onError(error);
        } finally {
            completion.completeExceptionally(error);
        }
    }

    boolean isDone() {
        return completion.isDone();
    }

    @Override
    public String toString() {
        return "sequence " + id + " (" + state + ", " + computed + "/" + output.length() + " computed)";
    }
}
