package io.gantry.kv.contiguous;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.kv.KvCacheAllocator;
import io.gantry.api.kv.KvStats;
import io.gantry.api.kv.SimulatedKvWorkload;
import io.gantry.api.kv.SimulatedKvWorkload.Report;
import io.gantry.api.kv.SimulatedKvWorkload.Settings;
import io.gantry.kv.paged.PagedKvAllocator;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ContiguousKvAllocatorTest {

    private final ContiguousKvAllocator allocator = new ContiguousKvAllocator();

    @Test
    void reservesTheMaximumLengthAsOneBlockUpFront() {
        allocator.attach(1000, 256);
        assertEquals(256, allocator.blockSize());
        assertEquals(3, allocator.totalBlocks(), "1000 slots hold 3 reservations of 256");
        int[] prompt = tokens(10);
        assertEquals(1, allocator.blocksNeeded(1, prompt, 10));
        assertEquals(0, allocator.allocate(1, prompt, 10));
        assertEquals(0, allocator.blocksNeeded(1, prompt, 256), "it never has to grow");
        assertEquals(0, allocator.allocate(1, prompt, 256));
        int[] table = new int[4];
        assertEquals(1, allocator.copyBlockTable(1, table));
        assertEquals(2, allocator.freeBlocks());
    }

    @Test
    void admitsOnlyAsManySequencesAsReservationsFit() {
        allocator.attach(4 * 256, 256);
        for (long id = 1; id <= 4; id++) {
            assertEquals(0, allocator.allocate(id, tokens(8), 8));
        }
        assertEquals(-1, allocator.allocate(5, tokens(8), 8));
        allocator.free(2);
        assertEquals(0, allocator.allocate(5, tokens(8), 8));
    }

    @Test
    void refusesAPoolSmallerThanOneReservation() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> allocator.attach(255, 256));
        assertTrue(error.getMessage().contains("holds 0 blocks of 256 tokens"), error.getMessage());
    }

    @Test
    void reportsTheUnusedPartOfEachReservationAsWasteAndNeverReusesAPrefix() {
        allocator.attach(4 * 128, 128);
        int[] prompt = tokens(40);
        allocator.allocate(1, prompt, 40);
        allocator.commit(1, prompt, 40);
        assertEquals(0, allocator.cachedPrefixLength(prompt));
        assertEquals(0, allocator.allocate(2, prompt, 24));
        KvStats stats = allocator.stats();
        assertEquals(2, stats.usedBlocks());
        assertEquals(256, stats.reservedSlots());
        assertEquals(64, stats.filledSlots());
        assertEquals(192.0 / 256, stats.waste(), 1e-9);
        assertEquals(0, stats.prefixHitRate());
        allocator.free(1);
        assertEquals(0, allocator.stats().cachedBlocks());
    }

    @Test
    void fitsFarFewerShortSequencesThanPagedBlocksInTheSamePool() {
        assertEquals(4, admittedShortSequences(allocator));
        assertEquals(32, admittedShortSequences(new PagedKvAllocator(16, true)), "2 blocks of 16 per sequence");
    }

    @Test
    void runsThousandsOfRandomRequestsWithoutBreakingTheContractOrLeakingABlock() {
        Report report = SimulatedKvWorkload.run(allocator, new Settings(1024, 256, 2000, 12, 48, 20_260_421L));
        assertEquals(2000, report.finished());
        assertEquals(4, report.peakUsedBlocks());
        assertTrue(report.preemptions() > 0, report.toString());
        assertEquals(0, report.reusedTokens());
    }

    private static int admittedShortSequences(KvCacheAllocator allocator) {
        allocator.attach(1024, 256);
        int admitted = 0;
        while (allocator.allocate(admitted + 1, tokens(20), 20) >= 0) {
            admitted++;
        }
        return admitted;
    }

    private static int[] tokens(int count) {
        return IntStream.range(0, count).toArray();
    }
}
