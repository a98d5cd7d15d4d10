package io.gantry.api.scheduler;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The bookkeeping every scheduling policy needs while it builds a plan: tokens, sequences and KV blocks
 * left for this step, and what running or preempting a sequence costs or frees. Policies decide the
 * order; this class keeps the sums right, so every plan it builds fits the view's limits.
 *
 * <p>Not thread-safe; make one per {@link Scheduler#plan} call.
 */
public final class StepBudget {

    private final SchedulerView view;
    private final StepPlan.Builder plan = StepPlan.builder();
    private final Set<Long> decided = new HashSet<>();
    private final List<SequenceView> prefillsRun = new ArrayList<>();
    private int tokensLeft;
    private int sequencesLeft;
    private int freeBlocks;
    private boolean preempted;
    private boolean deferSharedPrefills;

    /** @param view the view the plan is for */
    public StepBudget(SchedulerView view) {
        this.view = view;
        this.tokensLeft = view.limits().maxNumBatchedTokens();
        this.sequencesLeft = view.limits().maxNumSeqs();
        this.freeBlocks = view.kv().freeBlocks();
    }

    /** @return tokens the step may still feed */
    public int tokensLeft() {
        return tokensLeft;
    }

    /** @return sequences the step may still run */
    public int sequencesLeft() {
        return sequencesLeft;
    }

    /** @return KV blocks still free for this step */
    public int freeBlocks() {
        return freeBlocks;
    }

    /** @return whether the step has room for another sequence and another token */
    public boolean hasRoom() {
        return tokensLeft > 0 && sequencesLeft > 0;
    }

    /** @return whether this plan preempts any sequence */
    public boolean preemptedAny() {
        return preempted;
    }

    /**
     * @param sequence a sequence of the view
     * @return whether the plan already runs or preempts it
     */
    public boolean isDecided(SequenceView sequence) {
        return decided.contains(sequence.id());
    }

    /**
     * @param sequence a sequence of the view
     * @return how many of its pending tokens this step could feed: {@code min(pending, tokens left)}
     */
    public int chunkFor(SequenceView sequence) {
        return Math.min(sequence.pendingTokens(), tokensLeft);
    }

    /**
     * @param sequence a sequence of the view
     * @return the extra KV blocks running {@link #chunkFor} of it would take beyond what is free (0 if it fits)
     */
    public int shortfall(SequenceView sequence) {
        int tokens = chunkFor(sequence);
        return tokens <= 0 ? 0 : Math.max(0, view.kv().blocksNeeded(sequence, tokens) - freeBlocks);
    }

    /**
     * Runs as many of the sequence's pending tokens as the step allows, if its KV blocks fit.
     *
     * @param sequence a sequence of the view not yet decided
     * @return whether it was added to the plan
     */
    public boolean tryRun(SequenceView sequence) {
        int tokens = chunkFor(sequence);
        if (tokens <= 0 || sequencesLeft <= 0 || isDecided(sequence)) {
            return false;
        }
        int blocks = view.kv().blocksNeeded(sequence, tokens);
        if (blocks > freeBlocks) {
            return false;
        }
        freeBlocks -= blocks;
        tokensLeft -= tokens;
        sequencesLeft--;
        decided.add(sequence.id());
        if (sequence.isPrefilling()) {
            prefillsRun.add(sequence);
        }
        plan.run(sequence.id(), tokens);
        return true;
    }

    /**
     * Preempts a running sequence: it gives its blocks back and waits to re-prefill.
     *
     * @param sequence a running sequence of the view not yet decided
     * @throws IllegalArgumentException if the sequence is not running or already in the plan
     */
    public void preempt(SequenceView sequence) {
        if (sequence.state() != SequenceState.RUNNING || isDecided(sequence)) {
            throw new IllegalArgumentException("Only a running sequence not yet in the plan can be preempted: "
                    + sequence.id());
        }
        freeBlocks += view.kv().blocksFreedByPreempting(sequence);
        decided.add(sequence.id());
        plan.preempt(sequence.id());
        preempted = true;
    }

    /**
     * Runs sequences in the given order, preempting others when KV space runs short: for each sequence,
     * while its blocks do not fit, the first undecided sequence of {@code victims} (other than itself) is
     * preempted; when no victim is left, the sequence itself is preempted if it is running.
     *
     * @param order   sequences to run, most deserving first
     * @param victims running sequences that may be preempted, first to go first
     */
    public void runPreempting(Iterable<? extends SequenceView> order, Iterable<? extends SequenceView> victims) {
        for (SequenceView sequence : order) {
            if (!hasRoom()) {
                return;
            }
            if (isDecided(sequence)) {
                continue;
            }
            while (shortfall(sequence) > 0) {
                SequenceView victim = firstUndecided(victims, sequence);
                if (victim == null) {
                    if (sequence.state() == SequenceState.RUNNING) {
                        preempt(sequence);
                    }
                    break;
                }
                preempt(victim);
            }
            if (!isDecided(sequence)) {
                tryRun(sequence);
            }
        }
    }

    private SequenceView firstUndecided(Iterable<? extends SequenceView> candidates, SequenceView except) {
        for (SequenceView candidate : candidates) {
            if (candidate.id() != except.id() && candidate.state() == SequenceState.RUNNING && !isDecided(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    /**
     * Makes {@link #admitInOrder} pass over waiting sequences that {@link #waitsForSharedPrefill}: they join a
     * later step and reuse the shared blocks from the prefix cache. Worth it for policies where a sequence
     * can join at any step; a policy that admits a batch only once should not wait.
     *
     * @return this budget
     * @since 1.1
     */
    public StepBudget deferSharedPrefills() {
        deferSharedPrefills = true;
        return this;
    }

    /**
     * Whether a waiting sequence would compute KV that another sequence is computing now: its prompt shares
     * more whole blocks with a sequence in prefill (one this plan runs, or a running one) than the prefix
     * cache holds for it. Admitted once that prefill has passed the shared part, it reuses those blocks
     * instead; a burst of requests with one long system prompt then computes the prompt once, not once each.
     *
     * @param waiting a waiting sequence of the view
     * @return whether it would repeat work by joining this step
     * @since 1.1
     */
    public boolean waitsForSharedPrefill(SequenceView waiting) {
        KvBudget kv = view.kv();
        int shared = 0;
        for (SequenceView prefill : prefillsRun) {
            if (prefill.id() != waiting.id()) {
                shared = Math.max(shared, kv.sharedPrefixTokens(prefill, waiting));
            }
        }
        for (SequenceView prefill : view.running()) {
            if (prefill.isPrefilling() && !isDecided(prefill)) {
                int tokens = kv.sharedPrefixTokens(prefill, waiting);
                if (tokens > prefill.computedTokens()) {
                    shared = Math.max(shared, tokens);
                }
            }
        }
        // The cache lookup hashes the prompt: made only when some prefill shares whole blocks with it.
        return shared > 0 && shared > kv.cachedPrefixTokens(waiting);
    }

    /**
     * Admits waiting sequences in the given order while they fit, stopping at the first that does not
     * (so a large request is not overtaken forever by smaller ones behind it). After
     * {@link #deferSharedPrefills}, a sequence that {@link #waitsForSharedPrefill} is passed over.
     *
     * @param order waiting sequences, first to admit first
     */
    public void admitInOrder(Iterable<? extends SequenceView> order) {
        for (SequenceView sequence : order) {
            if (!hasRoom()) {
                return;
            }
            if (isDecided(sequence) || (deferSharedPrefills && waitsForSharedPrefill(sequence))) {
                continue;
            }
            if (!tryRun(sequence)) {
                return;
            }
        }
    }

    /** @return the plan built so far */
    public StepPlan build() {
        return plan.build();
    }
}
