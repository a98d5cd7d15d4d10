package io.gantry.kv.blocks;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The state of every block of one KV pool: how many sequences hold it, how many of its slots hold a
 * position, and, for a full block offered for prefix reuse, the prefix it holds. A block is in exactly one
 * of three places: held (reference count above 0), cached (held by none but registered for reuse; kept in
 * least-recently-used order and taken back when fresh blocks run out), or free.
 *
 * <p>A cached block is found by its {@link PrefixKey}: its own tokens plus the identity of the prefix
 * before it. Lookups compare tokens exactly, so two prompts that merely hash alike never share KV.
 *
 * <p>Not thread-safe: the owning allocator confines it to the engine's calls.
 */
final class BlockPool {

    private static final int NONE = -1;

    private final int blockSize;
    private final int[] refCounts;
    private final int[] filledSlots;
    /** The key a block is registered under, or null. */
    private final PrefixKey[] keys;
    /** The identity of the prefix ending with a registered block; never reused, so stale keys cannot match. */
    private final long[] prefixIds;
    private final Map<PrefixKey, Integer> registered = new HashMap<>();
    private long lastPrefixId;

    private final int[] freeStack;
    private int freeCount;

    /** Cached blocks, a doubly linked list through these arrays: head is the least recently used. */
    private final int[] lruPrevious;
    private final int[] lruNext;
    private int lruHead = NONE;
    private int lruTail = NONE;
    private int cachedCount;

    private long heldFilledSlots;

    /**
     * @param totalBlocks blocks in the pool
     * @param blockSize   token slots per block
     */
    BlockPool(int totalBlocks, int blockSize) {
        this.blockSize = blockSize;
        this.refCounts = new int[totalBlocks];
        this.filledSlots = new int[totalBlocks];
        this.keys = new PrefixKey[totalBlocks];
        this.prefixIds = new long[totalBlocks];
        this.lruPrevious = new int[totalBlocks];
        this.lruNext = new int[totalBlocks];
        this.freeStack = new int[totalBlocks];
        // Highest id at the bottom, so blocks are handed out from 0 upwards; the order carries no meaning.
        for (int i = 0; i < totalBlocks; i++) {
            freeStack[i] = totalBlocks - 1 - i;
        }
        this.freeCount = totalBlocks;
    }

    int totalBlocks() {
        return refCounts.length;
    }

    /** @return blocks that can be handed out: free ones and cached ones nobody holds */
    int available() {
        return freeCount + cachedCount;
    }

    int cachedBlocks() {
        return cachedCount;
    }

    int heldBlocks() {
        return refCounts.length - freeCount - cachedCount;
    }

    /** @return slots of held blocks that hold a position, each block counted once however many hold it */
    long heldFilledSlots() {
        return heldFilledSlots;
    }

    int refCount(int block) {
        return refCounts[block];
    }

    /**
     * Hands out a fresh block, held once and empty: a free one, or else the least recently used cached one,
     * which is unregistered first. The caller checks {@link #available()} beforehand.
     */
    int takeFresh() {
        int block;
        if (freeCount > 0) {
            block = freeStack[--freeCount];
        } else if (lruHead != NONE) {
            block = lruHead;
            unlink(block);
            unregister(block);
        } else {
            throw new IllegalStateException("No block available; the caller must check available() first");
        }
        refCounts[block] = 1;
        filledSlots[block] = 0;
        return block;
    }

    /** Adds a holder to a registered block (a prefix hit), taking it out of the cache if nobody held it. */
    void hold(int block) {
        if (refCounts[block]++ == 0) {
            unlink(block);
            heldFilledSlots += filledSlots[block];
        }
    }

    /** Drops a holder; a block nobody holds any more is cached if registered, free otherwise. */
    void release(int block) {
        if (refCounts[block] <= 0) {
            throw new IllegalStateException("Block " + block + " released more often than held");
        }
        if (--refCounts[block] > 0) {
            return;
        }
        heldFilledSlots -= filledSlots[block];
        if (keys[block] != null) {
            append(block);
        } else {
            filledSlots[block] = 0;
            freeStack[freeCount++] = block;
        }
    }

    /** Sets how many slots of a held block hold a position. */
    void setFilled(int block, int slots) {
        heldFilledSlots += slots - filledSlots[block];
        filledSlots[block] = slots;
    }

    /**
     * @param parentPrefixId the prefix id of the block before, or 0 for the first block
     * @param tokens         tokens holding the block's chunk
     * @param from           index of the chunk's first token
     * @return the registered block holding exactly this prefix, or -1
     */
    int lookup(long parentPrefixId, int[] tokens, int from) {
        Integer block = registered.get(PrefixKey.of(parentPrefixId, tokens, from, blockSize));
        return block == null ? NONE : block;
    }

    /** @return the prefix id of a registered block */
    long prefixId(int block) {
        return prefixIds[block];
    }

    /**
     * Offers a full, computed, held block for reuse under its prefix. If another block already holds the
     * same prefix (two sequences computed it independently), that one stays the cached copy and this block
     * stays private to its holder.
     *
     * @return the prefix id of the block's prefix, for the key of the block after it
     */
    long register(int block, long parentPrefixId, int[] tokens, int from) {
        PrefixKey key = PrefixKey.of(parentPrefixId, tokens, from, blockSize);
        Integer existing = registered.get(key);
        if (existing != null) {
            return prefixIds[existing];
        }
        registered.put(key, block);
        keys[block] = key;
        prefixIds[block] = ++lastPrefixId;
        return prefixIds[block];
    }

    private void unregister(int block) {
        registered.remove(keys[block]);
        keys[block] = null;
        prefixIds[block] = 0;
    }

    private void append(int block) {
        lruPrevious[block] = lruTail;
        lruNext[block] = NONE;
        if (lruTail == NONE) {
            lruHead = block;
        } else {
            lruNext[lruTail] = block;
        }
        lruTail = block;
        cachedCount++;
    }

    private void unlink(int block) {
        int previous = lruPrevious[block];
        int next = lruNext[block];
        if (previous == NONE) {
            lruHead = next;
        } else {
            lruNext[previous] = next;
        }
        if (next == NONE) {
            lruTail = previous;
        } else {
            lruPrevious[next] = previous;
        }
        cachedCount--;
    }

    /**
     * A registered block's identity: the id of the prefix before it and its own tokens. The map compares
     * tokens exactly; the hash only picks the bucket.
     */
    record PrefixKey(long parentPrefixId, int[] tokens, int hash) {

        static PrefixKey of(long parentPrefixId, int[] tokens, int from, int length) {
            int[] chunk = Arrays.copyOfRange(tokens, from, from + length);
            return new PrefixKey(parentPrefixId, chunk, 31 * Long.hashCode(parentPrefixId) + Arrays.hashCode(chunk));
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof PrefixKey key && key.hash == hash && key.parentPrefixId == parentPrefixId
                    && Arrays.equals(key.tokens, tokens);
        }

        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public String toString() {
            return "PrefixKey[parent=" + parentPrefixId + ", tokens=" + tokens.length + "]";
        }
    }
}
