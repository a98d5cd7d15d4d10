package io.gantry.kv.paged;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.kv.KvStats;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class PagedKvAllocatorTest {

    private static final int BLOCK = 16;

    private final PagedKvAllocator allocator = new PagedKvAllocator(BLOCK, true);

    @Test
    void refusesABlockSizeBelowOneWithAMessageNamingTheSetting() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> new PagedKvAllocator(0, true));
        assertTrue(error.getMessage().contains("io.gantry.kv.paged blockSize"), error.getMessage());
    }

    @Test
    void refusesAPoolThatCannotHoldOneLongestSequence() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> allocator.attach(100, 128));
        assertEquals("A KV pool of 100 slots holds 6 blocks of 16 tokens, but one sequence of 128 tokens needs 8",
                error.getMessage());
    }

    @Test
    void everyCallButStatsNeedsAnAttachedPool() {
        assertThrows(IllegalStateException.class, allocator::freeBlocks);
        assertThrows(IllegalStateException.class, () -> allocator.allocate(1, tokens(0, 4), 4));
        assertEquals(0, allocator.stats().totalBlocks());
        allocator.attach(256, 64);
        allocator.detach();
        assertThrows(IllegalStateException.class, allocator::blockSize);
    }

    @Test
    void growsABlockTableOneBlockAtATimeWithoutMovingWrittenBlocks() {
        allocator.attach(1024, 256);
        assertEquals(64, allocator.totalBlocks());
        int[] prompt = tokens(0, 20);
        assertEquals(2, allocator.blocksNeeded(1, prompt, 20));
        assertEquals(0, allocator.allocate(1, prompt, 20));
        int[] before = table(1);
        assertEquals(2, before.length);
        assertEquals(0, allocator.blocksNeeded(1, prompt, 32), "32 positions still fit in 2 blocks");
        assertEquals(1, allocator.blocksNeeded(1, prompt, 33));
        assertEquals(0, allocator.allocate(1, prompt, 33));
        int[] after = table(1);
        assertEquals(3, after.length);
        assertArrayEquals(before, Arrays.copyOf(after, 2));
        assertEquals(61, allocator.freeBlocks());
    }

    @Test
    void refusesAnAllocationThatDoesNotFitAndChangesNothing() {
        allocator.attach(64, 64);
        assertEquals(0, allocator.allocate(1, tokens(0, 40), 40));
        KvStats before = allocator.stats();
        assertEquals(-1, allocator.allocate(2, tokens(100, 30), 30), "needs 2 blocks, 1 is free");
        assertEquals(before, allocator.stats());
        assertThrows(IllegalArgumentException.class, () -> allocator.copyBlockTable(2, new int[4]));
        assertEquals(0, allocator.allocate(3, tokens(200, 16), 16));
        assertEquals(-1, allocator.allocate(1, tokens(0, 40), 64), "growing to 4 blocks needs 1, none is free");
        assertEquals(3, table(1).length);
    }

    @Test
    void refusesMorePositionsThanTheMaximumSequenceLength() {
        allocator.attach(1024, 64);
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> allocator.allocate(1, tokens(0, 8), 65));
        assertTrue(error.getMessage().contains("between 0 and 64"), error.getMessage());
    }

    @Test
    void sharesTheFullBlocksOfACommonPrefixByReference() {
        allocator.attach(1024, 256);
        int[] first = tokens(0, 40);
        allocator.allocate(1, first, 40);
        allocator.commit(1, first, 40);
        int[] second = concat(Arrays.copyOf(first, 32), tokens(500, 10));
        assertEquals(32, allocator.cachedPrefixLength(second));
        assertEquals(1, allocator.blocksNeeded(2, second, 42), "2 blocks are reused, 1 is new");
        assertEquals(32, allocator.allocate(2, second, 42));
        int[] firstTable = table(1);
        int[] secondTable = table(2);
        assertArrayEquals(Arrays.copyOf(firstTable, 2), Arrays.copyOf(secondTable, 2));
        assertNotEquals(firstTable[2], secondTable[2], "the partly filled blocks stay private");
        assertEquals(1, allocator.freeableBlocks(1), "only its last block is held by sequence 1 alone");
        KvStats stats = allocator.stats();
        assertEquals(4, stats.usedBlocks(), "shared blocks count once");
        assertEquals(32, stats.prefixHits());
        assertEquals(40 + 42, stats.prefixQueries());
    }

    @Test
    void stopsTheReusedPrefixShortOfTheLastTokenSoItsLogitsAreComputed() {
        allocator.attach(1024, 256);
        int[] prompt = tokens(0, 32);
        allocator.allocate(1, prompt, 32);
        allocator.commit(1, prompt, 32);
        assertEquals(16, allocator.cachedPrefixLength(prompt), "the same 32 tokens reuse 1 block, not 2");
        assertEquals(32, allocator.cachedPrefixLength(tokens(0, 33)));
    }

    @Test
    void matchesWholePrefixesNotSingleBlocks() {
        allocator.attach(1024, 256);
        int[] first = concat(tokens(0, 16), tokens(100, 17));
        allocator.allocate(1, first, first.length);
        allocator.commit(1, first, first.length);
        int[] sameSecondBlock = concat(tokens(50, 16), tokens(100, 17));
        assertEquals(0, allocator.cachedPrefixLength(sameSecondBlock), "block 2 alone must not match");
    }

    @Test
    void offersOnlyCommittedFullBlocks() {
        allocator.attach(1024, 256);
        int[] prompt = tokens(0, 40);
        allocator.allocate(1, prompt, 40);
        assertEquals(0, allocator.cachedPrefixLength(prompt), "nothing is computed yet");
        allocator.commit(1, prompt, 20);
        assertEquals(16, allocator.cachedPrefixLength(prompt));
        allocator.commit(1, prompt, 40);
        assertEquals(32, allocator.cachedPrefixLength(prompt));
    }

    @Test
    void keepsFreedPrefixesCachedAndCountsThemAsFree() {
        allocator.attach(64 * BLOCK, 256);
        int[] prompt = tokens(0, 40);
        allocator.allocate(1, prompt, 40);
        allocator.commit(1, prompt, 40);
        allocator.free(1);
        KvStats stats = allocator.stats();
        assertEquals(0, stats.usedBlocks());
        assertEquals(2, stats.cachedBlocks(), "the 2 full blocks stay cached, the partial one is free");
        assertEquals(64, allocator.freeBlocks());
        assertEquals(32, allocator.cachedPrefixLength(prompt));
        assertEquals(3, allocator.blocksNeeded(2, prompt, 40),
                "reviving 2 cached blocks lowers the free count as much as 2 fresh ones");
        assertEquals(32, allocator.allocate(2, prompt, 40));
        assertEquals(61, allocator.freeBlocks());
    }

    @Test
    void evictsTheLeastRecentlyUsedCachedPrefixFirst() {
        allocator.attach(8 * BLOCK, 128);
        int[] older = tokens(0, 33);
        int[] newer = tokens(1000, 33);
        for (int[] prompt : new int[][] {older, newer}) {
            allocator.allocate(1, prompt, 33);
            allocator.commit(1, prompt, 33);
            allocator.free(1);
        }
        assertEquals(4, allocator.stats().cachedBlocks());
        // 6 fresh blocks: the 4 free ones, then the 2 cached blocks of the older prefix.
        assertEquals(0, allocator.allocate(2, tokens(5000, 96), 96));
        assertEquals(0, allocator.cachedPrefixLength(older));
        assertEquals(32, allocator.cachedPrefixLength(newer));
        assertEquals(2, allocator.stats().cachedBlocks());
    }

    @Test
    void aPrefixHitMakesTheCachedBlocksRecentlyUsedAgain() {
        allocator.attach(8 * BLOCK, 128);
        int[] older = tokens(0, 33);
        int[] newer = tokens(1000, 33);
        for (int[] prompt : new int[][] {older, newer, older}) {
            allocator.allocate(1, prompt, 33);
            allocator.commit(1, prompt, 33);
            allocator.free(1);
        }
        assertEquals(0, allocator.allocate(2, tokens(5000, 96), 96));
        assertEquals(32, allocator.cachedPrefixLength(older));
        assertEquals(0, allocator.cachedPrefixLength(newer));
    }

    @Test
    void evictsAPrefixFromItsEndSoWhatIsLeftStillMatches() {
        allocator.attach(4 * BLOCK, 64);
        int[] prompt = tokens(0, 49);
        allocator.allocate(1, prompt, 49);
        allocator.commit(1, prompt, 49);
        allocator.free(1);
        assertEquals(3, allocator.stats().cachedBlocks());
        assertEquals(0, allocator.allocate(2, tokens(7000, 32), 32), "1 free block, then 1 evicted");
        assertEquals(32, allocator.cachedPrefixLength(prompt), "the prefix lost its last block, not its first");
    }

    @Test
    void aBlockComputedTwiceIsCachedOnceAndTheCopyFreed() {
        allocator.attach(1024, 256);
        int[] prompt = tokens(0, 33);
        allocator.allocate(1, prompt, 33);
        allocator.allocate(2, prompt, 33);
        allocator.commit(1, prompt, 33);
        allocator.commit(2, prompt, 33);
        allocator.free(2);
        assertEquals(0, allocator.stats().cachedBlocks(), "sequence 2's copies are not the cached ones");
        allocator.free(1);
        assertEquals(2, allocator.stats().cachedBlocks());
        assertEquals(32, allocator.allocate(3, prompt, 33));
    }

    @Test
    void withPrefixCachingOffNothingIsSharedOrKept() {
        PagedKvAllocator plain = new PagedKvAllocator(BLOCK, false);
        plain.attach(1024, 256);
        int[] prompt = tokens(0, 40);
        plain.allocate(1, prompt, 40);
        plain.commit(1, prompt, 40);
        assertEquals(0, plain.cachedPrefixLength(prompt));
        assertEquals(0, plain.allocate(2, prompt, 40));
        plain.free(1);
        plain.free(2);
        assertEquals(0, plain.stats().cachedBlocks());
        assertEquals(0, plain.stats().prefixQueries());
    }

    @Test
    void reportsUsageWasteAndHitRate() {
        allocator.attach(10 * BLOCK, 64);
        int[] prompt = tokens(0, 20);
        allocator.allocate(1, prompt, 20);
        allocator.commit(1, prompt, 20);
        allocator.allocate(2, prompt, 20);
        KvStats stats = allocator.stats();
        assertEquals(3, stats.usedBlocks(), "1 shared full block + 2 private partial ones");
        assertEquals(0.3, stats.usage(), 1e-9);
        assertEquals(48, stats.reservedSlots());
        assertEquals(16 + 4 + 4, stats.filledSlots());
        assertEquals(24.0 / 48, stats.waste(), 1e-9);
        assertEquals(16.0 / 40, stats.prefixHitRate(), 1e-9);
        assertEquals(2, stats.sequences());
    }

    @Test
    void validatesCommits() {
        allocator.attach(1024, 256);
        int[] prompt = tokens(0, 20);
        assertThrows(IllegalArgumentException.class, () -> allocator.commit(9, prompt, 4));
        allocator.allocate(1, prompt, 10);
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> allocator.commit(1, prompt, 12));
        assertTrue(error.getMessage().contains("holds 10 positions"), error.getMessage());
    }

    @Test
    void attachStartsOverAndDetachForgetsEverything() {
        allocator.attach(1024, 256);
        int[] prompt = tokens(0, 40);
        allocator.allocate(1, prompt, 40);
        allocator.commit(1, prompt, 40);
        allocator.attach(512, 128);
        assertEquals(32, allocator.freeBlocks());
        assertEquals(0, allocator.cachedPrefixLength(prompt));
        assertThrows(IllegalArgumentException.class, () -> allocator.copyBlockTable(1, new int[8]));
        allocator.detach();
        assertEquals(0, allocator.stats().totalBlocks());
    }

    private int[] table(long sequence) {
        int[] table = new int[allocator.totalBlocks()];
        return Arrays.copyOf(table, allocator.copyBlockTable(sequence, table));
    }

    /** @return {@code count} distinct tokens starting at {@code first} */
    static int[] tokens(int first, int count) {
        return IntStream.range(first, first + count).toArray();
    }

    static int[] concat(int[] head, int[] tail) {
        int[] joined = Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, joined, head.length, tail.length);
        return joined;
    }
}
