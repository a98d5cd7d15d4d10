package io.gantry.api.kv;

/**
 * A KV allocator's usage at one moment, for metrics and the admin API.
 *
 * @param totalBlocks        blocks in the pool
 * @param usedBlocks         blocks held by at least one sequence
 * @param cachedBlocks       blocks held by no sequence but kept for prefix reuse (evictable)
 * @param blockSize          tokens per block
 * @param reservedSlots      token slots inside held blocks
 * @param filledSlots        token slots inside held blocks that hold a sequence's position; the rest of
 *                           {@code reservedSlots} is waste (reserved but unused)
 * @param sequences          sequences holding blocks
 * @param prefixQueries      prompt tokens looked up in the prefix cache since attach
 * @param prefixHits         of those, tokens whose KV was reused
 */
public record KvStats(int totalBlocks, int usedBlocks, int cachedBlocks, int blockSize, long reservedSlots,
        long filledSlots, int sequences, long prefixQueries, long prefixHits) {

    /** @return the fraction of blocks held by sequences, 0..1 */
    public double usage() {
        return totalBlocks == 0 ? 0 : (double) usedBlocks / totalBlocks;
    }

    /** @return the fraction of reserved slots that hold no position, 0..1 */
    public double waste() {
        return reservedSlots == 0 ? 0 : (double) (reservedSlots - filledSlots) / reservedSlots;
    }

    /** @return the fraction of looked-up prompt tokens that hit the prefix cache, 0..1 */
    public double prefixHitRate() {
        return prefixQueries == 0 ? 0 : (double) prefixHits / prefixQueries;
    }
}
