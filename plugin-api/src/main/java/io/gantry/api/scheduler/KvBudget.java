package io.gantry.api.scheduler;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The KV space a step may use, as seen by a scheduler. Implemented by the engine from the active KV
 * allocator's state; valid only during the {@link Scheduler#plan} call.
 *
 * <p>A scheduler that admits or grows several sequences adds up {@link #blocksNeeded} for each and
 * compares the sum with {@link #freeBlocks()}: the view does not change while the plan is made.
 */
@ProviderType
public interface KvBudget {

    /** @return blocks free for new allocations at the start of this step (evictable cached blocks count) */
    int freeBlocks();

    /** @return blocks the KV pool holds in all */
    int totalBlocks();

    /** @return tokens per block of the active allocator */
    int blockSize();

    /**
     * @param sequence a sequence from this view
     * @param tokens   how many of its pending tokens the plan would run
     * @return how many more blocks the sequence needs to hold its KV after running them (0 if it fits in
     *         what it holds; for a waiting sequence, net of any prefix-cache hit)
     */
    int blocksNeeded(SequenceView sequence, int tokens);

    /**
     * @param sequence a running sequence from this view
     * @return the blocks it holds only by itself, which preempting it would free (0 for a waiting one)
     */
    int blocksFreedByPreempting(SequenceView sequence);

    /**
     * How many leading tokens two sequences have in common that the active allocator can share: whole blocks
     * only, less than the second sequence's length (its last token must run to give logits), and 0 when the
     * allocator does not reuse prefixes.
     *
     * @param first  a sequence of this view
     * @param second another sequence of this view
     * @return the tokens the second could reuse once the first has computed them
     * @since 1.1
     */
    default int sharedPrefixTokens(SequenceView first, SequenceView second) {
        return 0;
    }

    /**
     * @param sequence a waiting sequence of this view
     * @return how many of its leading tokens the prefix cache holds now (0 for a running one, or when the
     *         allocator does not reuse prefixes)
     * @since 1.1
     */
    default int cachedPrefixTokens(SequenceView sequence) {
        return 0;
    }
}
