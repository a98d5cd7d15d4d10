package io.gantry.kv.blocks;

import io.gantry.api.kv.KvCacheAllocator;
import io.gantry.api.kv.KvStats;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Block-table bookkeeping shared by Gantry's allocators: each sequence holds a table of blocks of
 * {@link #blockSize()} slots, grown on demand. With prefix caching on, every full block whose KV has been
 * {@link #commit committed} is registered under its prefix; a new sequence whose tokens start with
 * registered blocks takes them by reference instead of computing them again, and blocks nobody holds stay
 * cached until fresh blocks run out, the least recently used going first.
 *
 * <p>Only full blocks are ever shared, and a sequence's reused prefix always stops short of its last token,
 * so every position a sequence writes lies in a block it alone holds: no shared block is written in place
 * and no copy-on-write is needed.
 *
 * <p>Subclasses choose the block size: a small fixed one pages the pool; the maximum sequence length
 * gives each sequence one contiguous reservation.
 *
 * <p><b>Threading:</b> the engine makes every call other than {@link #stats()} from one thread at a time,
 * with a happens-before edge between successive callers (its step loop; a swap hands over through the
 * engine's own synchronization), so this state needs no lock. {@code stats()} may be called from any
 * thread: it returns an immutable snapshot that every change publishes through a volatile field, so it
 * never blocks the engine and is never torn. An allocator owns no threads and no device memory (the pool
 * belongs to the backend), so deactivating one needs no drain; the engine detaches it first.
 */
public abstract class BlockTableAllocator implements KvCacheAllocator {

    private static final KvStats DETACHED = new KvStats(0, 0, 0, 0, 0, 0, 0, 0, 0);

    private final boolean prefixCaching;
    private final Map<Long, SequenceBlocks> sequences = new HashMap<>();
    private BlockPool pool;
    private int blockSize;
    private int maxSequenceLength;
    private long prefixQueries;
    private long prefixHits;
    private volatile KvStats publishedStats = DETACHED;

    /** @param prefixCaching whether full blocks are registered and reused across sequences */
    protected BlockTableAllocator(boolean prefixCaching) {
        this.prefixCaching = prefixCaching;
    }

    /**
     * @param maxSequenceLength the longest sequence the engine will ask for
     * @return the block size to use for a pool serving sequences up to that length
     */
    protected abstract int blockSizeFor(int maxSequenceLength);

    /** @return whether full blocks are shared between sequences with the same prefix */
    @Override
    public final boolean reusesPrefixes() {
        return prefixCaching;
    }

    @Override
    public final void attach(int capacitySlots, int maxSequenceLength) {
        if (capacitySlots < 1 || maxSequenceLength < 1) {
            throw new IllegalArgumentException("KV pool capacity and maximum sequence length must be positive: "
                    + capacitySlots + " slots, " + maxSequenceLength + " tokens");
        }
        int size = blockSizeFor(maxSequenceLength);
        int total = capacitySlots / size;
        int perSequence = Math.ceilDiv(maxSequenceLength, size);
        if (total < perSequence) {
            throw new IllegalArgumentException("A KV pool of " + capacitySlots + " slots holds " + total
                    + " blocks of " + size + " tokens, but one sequence of " + maxSequenceLength + " tokens needs "
                    + perSequence);
        }
        this.blockSize = size;
        this.maxSequenceLength = maxSequenceLength;
        this.pool = new BlockPool(total, size);
        sequences.clear();
        prefixQueries = 0;
        prefixHits = 0;
        publish();
    }

    @Override
    public final int blockSize() {
        attached();
        return blockSize;
    }

    @Override
    public final int totalBlocks() {
        return attached().totalBlocks();
    }

    @Override
    public final int freeBlocks() {
        return attached().available();
    }

    @Override
    public final int cachedPrefixLength(int[] tokens) {
        attached();
        return findPrefix(tokens).count() * blockSize;
    }

    @Override
    public final int blocksNeeded(long sequenceId, int[] tokens, int totalTokens) {
        attached();
        int needed = blocksFor(totalTokens);
        SequenceBlocks sequence = sequences.get(sequenceId);
        if (sequence != null) {
            return Math.max(0, needed - sequence.length());
        }
        return findPrefix(tokens).blocksNeeded(needed);
    }

    @Override
    public final int allocate(long sequenceId, int[] tokens, int totalTokens) {
        BlockPool blocks = attached();
        int needed = blocksFor(totalTokens);
        SequenceBlocks sequence = sequences.get(sequenceId);
        if (sequence != null) {
            if (needed - sequence.length() > blocks.available()) {
                return -1;
            }
            grow(sequence, totalTokens);
            publish();
            return 0;
        }
        PrefixMatch prefix = findPrefix(tokens);
        if (prefix.blocksNeeded(needed) > blocks.available()) {
            return -1;
        }
        // Hits first: once held they are no longer cached, so taking fresh blocks cannot evict them.
        sequence = new SequenceBlocks(Math.max(needed, prefix.count()));
        long prefixId = 0;
        for (int i = 0; i < prefix.count(); i++) {
            int block = prefix.blocks()[i];
            blocks.hold(block);
            sequence.append(block);
            prefixId = blocks.prefixId(block);
        }
        int reused = prefix.count() * blockSize;
        sequence.markCommitted(prefix.count(), prefixId);
        sequence.setHeldTokens(reused);
        sequences.put(sequenceId, sequence);
        grow(sequence, totalTokens);
        if (prefixCaching) {
            prefixQueries += tokens.length;
            prefixHits += reused;
        }
        publish();
        return reused;
    }

    @Override
    public final void commit(long sequenceId, int[] tokens, int computedTokens) {
        BlockPool blocks = attached();
        SequenceBlocks sequence = known(sequenceId);
        Objects.requireNonNull(tokens, "tokens");
        if (computedTokens < 0 || computedTokens > tokens.length || computedTokens > sequence.heldTokens()) {
            throw new IllegalArgumentException("Sequence " + sequenceId + " cannot have computed " + computedTokens
                    + " tokens: it has " + tokens.length + " tokens and holds " + sequence.heldTokens() + " positions");
        }
        if (!prefixCaching) {
            return;
        }
        int fullBlocks = computedTokens / blockSize;
        long prefixId = sequence.committedPrefixId();
        for (int i = sequence.committedBlocks(); i < fullBlocks; i++) {
            prefixId = blocks.register(sequence.block(i), prefixId, tokens, i * blockSize);
        }
        if (fullBlocks > sequence.committedBlocks()) {
            sequence.markCommitted(fullBlocks, prefixId);
        }
    }

    @Override
    public final int copyBlockTable(long sequenceId, int[] destination) {
        attached();
        SequenceBlocks sequence = known(sequenceId);
        if (destination.length < sequence.length()) {
            throw new IllegalArgumentException("Block table of sequence " + sequenceId + " has " + sequence.length()
                    + " blocks; the destination holds only " + destination.length);
        }
        sequence.copyTo(destination);
        return sequence.length();
    }

    @Override
    public final int freeableBlocks(long sequenceId) {
        BlockPool blocks = attached();
        SequenceBlocks sequence = known(sequenceId);
        int freeable = 0;
        for (int i = 0; i < sequence.length(); i++) {
            if (blocks.refCount(sequence.block(i)) == 1) {
                freeable++;
            }
        }
        return freeable;
    }

    @Override
    public final void free(long sequenceId) {
        BlockPool blocks = attached();
        SequenceBlocks sequence = sequences.remove(sequenceId);
        if (sequence == null) {
            return;
        }
        // Last block first: a prefix's later blocks become less recently used than its earlier ones, so
        // eviction trims cached prefixes from the end and never strands a block behind an evicted parent.
        for (int i = sequence.length() - 1; i >= 0; i--) {
            blocks.release(sequence.block(i));
        }
        publish();
    }

    @Override
    public final void detach() {
        pool = null;
        sequences.clear();
        publishedStats = DETACHED;
    }

    @Override
    public final KvStats stats() {
        return publishedStats;
    }

    private void grow(SequenceBlocks sequence, int totalTokens) {
        int held = sequence.heldTokens();
        if (totalTokens <= held) {
            return;
        }
        int needed = blocksFor(totalTokens);
        while (sequence.length() < needed) {
            sequence.append(pool.takeFresh());
        }
        // Blocks from the one holding position `held` onwards are this sequence's own (shared blocks are full
        // and lie before it), so their fill can be set without touching anyone else's.
        for (int i = held / blockSize; i < needed; i++) {
            pool.setFilled(sequence.block(i), Math.min(blockSize, totalTokens - i * blockSize));
        }
        sequence.setHeldTokens(totalTokens);
    }

    /** Walks the registered blocks that hold the longest reusable prefix of {@code tokens}. */
    private PrefixMatch findPrefix(int[] tokens) {
        Objects.requireNonNull(tokens, "tokens");
        int maxBlocks = maxPrefixBlocks(tokens);
        if (maxBlocks == 0) {
            return PrefixMatch.NONE;
        }
        int[] found = new int[maxBlocks];
        long prefixId = 0;
        int count = 0;
        int unheld = 0;
        while (count < maxBlocks) {
            int block = pool.lookup(prefixId, tokens, count * blockSize);
            if (block < 0) {
                break;
            }
            found[count++] = block;
            prefixId = pool.prefixId(block);
            if (pool.refCount(block) == 0) {
                unheld++;
            }
        }
        return new PrefixMatch(found, count, unheld);
    }

    /**
     * The registered blocks a new sequence would reuse.
     *
     * @param blocks the blocks, the first {@code count} valid
     * @param count  how many leading blocks matched
     * @param unheld how many of them no sequence holds: reusing those takes them out of the evictable cache
     */
    private record PrefixMatch(int[] blocks, int count, int unheld) {
        static final PrefixMatch NONE = new PrefixMatch(new int[0], 0, 0);

        /** @return how far a new sequence holding {@code neededBlocks} blocks would lower the free count */
        int blocksNeeded(int neededBlocks) {
            return Math.max(0, neededBlocks - count) + unheld;
        }
    }

    /** The last token must always be run to produce logits, so at most {@code (length - 1) / blockSize} blocks. */
    private int maxPrefixBlocks(int[] tokens) {
        return prefixCaching && tokens.length > 0 ? (tokens.length - 1) / blockSize : 0;
    }

    private int blocksFor(int totalTokens) {
        if (totalTokens < 0 || totalTokens > maxSequenceLength) {
            throw new IllegalArgumentException("A sequence must hold between 0 and " + maxSequenceLength
                    + " positions (the maximum sequence length given to attach), not " + totalTokens);
        }
        return Math.ceilDiv(totalTokens, blockSize);
    }

    private SequenceBlocks known(long sequenceId) {
        SequenceBlocks sequence = sequences.get(sequenceId);
        if (sequence == null) {
            throw new IllegalArgumentException("Unknown sequence " + sequenceId + ": it holds no KV blocks");
        }
        return sequence;
    }

    private BlockPool attached() {
        BlockPool current = pool;
        if (current == null) {
            throw new IllegalStateException("The KV allocator is not attached to a pool; call attach first");
        }
        return current;
    }

    private void publish() {
        int held = pool.heldBlocks();
        publishedStats = new KvStats(pool.totalBlocks(), held, pool.cachedBlocks(), blockSize, (long) held * blockSize,
                pool.heldFilledSlots(), sequences.size(), prefixQueries, prefixHits);
    }

    /** One sequence's block table and how far it is filled and registered. */
    private static final class SequenceBlocks {
        private int[] table;
        private int length;
        private int heldTokens;
        private int committedBlocks;
        private long committedPrefixId;

        SequenceBlocks(int expectedBlocks) {
            this.table = new int[Math.max(1, expectedBlocks)];
        }

        int length() {
            return length;
        }

        int block(int index) {
            return table[index];
        }

        void append(int block) {
            if (length == table.length) {
                table = Arrays.copyOf(table, table.length * 2);
            }
            table[length++] = block;
        }

        void copyTo(int[] destination) {
            System.arraycopy(table, 0, destination, 0, length);
        }

        int heldTokens() {
            return heldTokens;
        }

        void setHeldTokens(int tokens) {
            heldTokens = tokens;
        }

        /** @return leading blocks already registered (or found) in the prefix cache */
        int committedBlocks() {
            return committedBlocks;
        }

        /** @return the prefix id of the last committed block, 0 if none */
        long committedPrefixId() {
            return committedPrefixId;
        }

        void markCommitted(int blocks, long prefixId) {
            committedBlocks = blocks;
            committedPrefixId = prefixId;
        }
    }
}
