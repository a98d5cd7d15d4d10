package io.gantry.kv.paged;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.kv.KvStats;
import io.gantry.api.kv.SimulatedKvWorkload;
import io.gantry.api.kv.SimulatedKvWorkload.Report;
import io.gantry.api.kv.SimulatedKvWorkload.Settings;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Thousands of random requests through the fake engine: contract checks after every call, no block leaked. */
class PagedKvAllocatorWorkloadTest {

    private static final int REQUESTS = 2000;

    @ParameterizedTest(name = "block size {0}, prefix caching {1}")
    @CsvSource({ "16, true", "16, false", "1, true", "7, true", "64, true" })
    void runsThousandsOfRandomRequestsWithoutBreakingTheContractOrLeakingABlock(int blockSize, boolean prefixCaching) {
        Settings settings = new Settings(1024, 256, REQUESTS, 12, 48, 20_260_421L + blockSize);
        Report report = SimulatedKvWorkload.run(new PagedKvAllocator(blockSize, prefixCaching), settings);
        assertEquals(REQUESTS, report.finished());
        assertTrue(report.preemptions() > 100, "the pool must be under pressure: " + report);
        assertTrue(report.peakUsedBlocks() > 1024 / blockSize * 9 / 10, "the pool must fill up: " + report);
        if (prefixCaching) {
            assertTrue(report.reusedTokens() > 10_000, "shared prompts must hit the prefix cache: " + report);
            assertTrue(report.finalStats().prefixHitRate() > 0.05, "hit rate: " + report.finalStats());
            assertTrue(report.finalStats().cachedBlocks() > 0, "freed prefixes stay cached: " + report.finalStats());
        } else {
            assertEquals(0, report.reusedTokens());
        }
    }

    @Test
    void statsReadFromAnotherThreadAreNeverTorn() throws InterruptedException {
        PagedKvAllocator allocator = new PagedKvAllocator(16, true);
        AtomicBoolean done = new AtomicBoolean();
        List<String> torn = Collections.synchronizedList(new ArrayList<>());
        Thread reader = Thread.ofPlatform().name("stats-reader").start(() -> {
            while (!done.get()) {
                KvStats stats = allocator.stats();
                if (stats.usedBlocks() + stats.cachedBlocks() > stats.totalBlocks()
                        || stats.reservedSlots() != (long) stats.usedBlocks() * stats.blockSize()
                        || stats.filledSlots() > stats.reservedSlots() || stats.prefixHits() > stats.prefixQueries()) {
                    torn.add(stats.toString());
                }
            }
        });
        try {
            SimulatedKvWorkload.run(allocator, new Settings(512, 128, 1500, 8, 32, 7L));
        } finally {
            done.set(true);
            reader.join();
        }
        assertEquals(List.of(), torn);
    }
}
