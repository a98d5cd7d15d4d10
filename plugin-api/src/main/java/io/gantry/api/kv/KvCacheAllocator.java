package io.gantry.api.kv;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Maps sequences' token positions onto a KV pool of {@code capacitySlots} token slots, in blocks of
 * {@link #blockSize()} slots. Position {@code p} of a sequence lives in slot
 * {@code table[p / blockSize] * blockSize + p % blockSize}, where {@code table} is its block table.
 *
 * <p>A paged allocator uses small blocks and may share full blocks between sequences with the same
 * token prefix; a contiguous allocator reserves one block of the maximum sequence length per sequence.
 * Both use the same block-table path, so they can be compared on equal terms.
 *
 * <p><b>Who calls it:</b> the engine's step loop only, from one thread at a time. Implementations need
 * no internal locking for the engine's calls, but {@link #stats()} may be called from any thread (for
 * metrics) and must be safe to call concurrently with the others.
 *
 * <p><b>Lifecycle:</b> the engine calls {@link #attach} before any other call and {@link #detach} when
 * it stops using the allocator (on a swap, the running sequences are preempted first). One instance
 * serves one pool at a time.
 *
 * <p><b>Invariant:</b> a block shared by several sequences (a prefix-cache hit) is never handed out for
 * writing: positions a sequence will write always map to blocks only it holds.
 */
@ConsumerType
public interface KvCacheAllocator {

    /**
     * Starts bookkeeping for a pool. Drops any state from an earlier pool.
     *
     * @param capacitySlots the pool's size in token slots
     * @param maxSequenceLength the longest sequence (prompt plus output) the engine will ask for
     * @throws IllegalArgumentException if the pool cannot hold even one sequence of that length in the
     *         allocator's scheme
     */
    void attach(int capacitySlots, int maxSequenceLength);

    /** @return tokens per block; fixed between {@link #attach} and {@link #detach} */
    int blockSize();

    /** @return blocks in the pool ({@code capacitySlots / blockSize()}) */
    int totalBlocks();

    /** @return blocks that can be handed out now, counting cached blocks no sequence holds (evictable) */
    int freeBlocks();

    /**
     * How many prompt tokens of a new sequence already have KV in the pool (a prefix-cache hit), without
     * taking anything. Always a multiple of {@link #blockSize()} and less than the prompt length, since the
     * last prompt token must be run to produce logits.
     *
     * @param tokens the sequence's tokens so far (prompt, plus generated tokens for a preempted sequence)
     * @return the number of leading tokens that can be reused; 0 for allocators without prefix reuse
     */
    int cachedPrefixLength(int[] tokens);

    /**
     * How many more blocks {@code sequenceId} would need to hold {@code totalTokens} positions; for an
     * unknown sequence, how many a new one would need (net of its prefix-cache hit for {@code tokens}).
     * Put exactly: by how much {@link #allocate} with the same arguments would lower {@link #freeBlocks()}.
     * A cached block that a new sequence would reuse counts too when no sequence holds it, because it
     * stops being free (evictable) once reused; so a sum of these figures can be compared with
     * {@code freeBlocks()}.
     *
     * @param sequenceId  the sequence
     * @param tokens      its tokens so far (used for the prefix lookup of a new sequence)
     * @param totalTokens the number of positions it must hold
     * @return blocks to add; 0 if it already holds enough
     */
    int blocksNeeded(long sequenceId, int[] tokens, int totalTokens);

    /**
     * Makes {@code sequenceId} hold at least {@code totalTokens} positions, registering it if new. A new
     * sequence reuses its cached prefix (see {@link #cachedPrefixLength}).
     *
     * @param sequenceId  the sequence
     * @param tokens      its tokens so far
     * @param totalTokens the number of positions it must hold after this call
     * @return for a new sequence, the number of leading tokens whose KV is reused (0 if none); for a known
     *         sequence, 0; or -1 if there is not enough free space (nothing changed in that case)
     */
    int allocate(long sequenceId, int[] tokens, int totalTokens);

    /**
     * Tells the allocator that the KV of positions {@code [0, computedTokens)} of the sequence has been
     * written, so that full blocks can be offered for prefix reuse.
     *
     * @param sequenceId     the sequence
     * @param tokens         its tokens; at least {@code computedTokens} long
     * @param computedTokens how many leading positions now hold valid KV
     */
    void commit(long sequenceId, int[] tokens, int computedTokens);

    /**
     * Copies the sequence's block table into {@code destination}.
     *
     * @param sequenceId  the sequence
     * @param destination where to copy; must be at least as long as the table
     * @return the number of blocks in the table
     * @throws IllegalArgumentException if the sequence is unknown or the destination is too short
     */
    int copyBlockTable(long sequenceId, int[] destination);

    /**
     * How many blocks {@link #free} would give back to {@link #freeBlocks()} now: the blocks of the
     * sequence's table that no other sequence holds. The engine answers
     * {@link io.gantry.api.scheduler.KvBudget#blocksFreedByPreempting} with it.
     *
     * <p>The default counts the whole block table, which is right for an allocator that never shares a
     * block between sequences; an allocator that shares blocks (prefix reuse) must override it.
     *
     * @param sequenceId the sequence
     * @return blocks that freeing the sequence would make free or evictable
     * @throws IllegalArgumentException if the sequence is unknown
     * @since 1.1
     */
    default int freeableBlocks(long sequenceId) {
        return copyBlockTable(sequenceId, new int[totalBlocks()]);
    }

    /**
     * Whether this allocator shares the blocks of a common token prefix between sequences, so that a
     * sequence may wait for another's prefill of the same prefix instead of computing it again.
     *
     * @return whether {@link #cachedPrefixLength} can ever be above 0; the default says no
     * @since 1.2
     */
    default boolean reusesPrefixes() {
        return false;
    }

    /**
     * Frees what the sequence holds. Blocks shared with others stay until their last holder frees them;
     * full blocks may stay cached for prefix reuse until evicted. Unknown ids are ignored.
     *
     * @param sequenceId the sequence
     */
    void free(long sequenceId);

    /** Forgets all sequences and cached blocks; the engine stops using this allocator for its pool. */
    void detach();

    /** @return usage figures; callable from any thread */
    KvStats stats();
}
