package io.gantry.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The worker pool runs every task once, reports failures, and stops its threads. */
class WorkerPoolTest {

    @Test
    void runsEveryTaskExactlyOnceOnValidWorkers() {
        try (WorkerPool pool = new WorkerPool(3, "test-pool-")) {
            for (int round = 0; round < 200; round++) {
                int count = 1 + round % 37;
                AtomicIntegerArray runs = new AtomicIntegerArray(count);
                pool.run(count, (index, worker) -> {
                    if (worker < 0 || worker >= 3) {
                        throw new AssertionError("worker " + worker);
                    }
                    runs.incrementAndGet(index);
                });
                for (int i = 0; i < count; i++) {
                    assertEquals(1, runs.get(i), "round " + round + " task " + i);
                }
            }
        }
    }

    /**
     * The first task of the second worker's share waits until the rest of that share has run: the loop ends only if
     * another worker takes those tasks over while their owner is held up (when the owner claimed it; else the owner
     * runs them). Over 20 loops the second worker claims it at least once in practice.
     */
    @Test
    void otherWorkersTakeOverTheTasksOfAWorkerHeldUp() {
        try (WorkerPool pool = new WorkerPool(2, "test-pool-")) {
            for (int round = 0; round < 20; round++) {
                CountDownLatch restOfSecondShare = new CountDownLatch(4);
                AtomicIntegerArray runs = new AtomicIntegerArray(10);
                pool.run(10, (index, worker) -> {
                    if (index == 5) {
                        try {
                            assertTrue(restOfSecondShare.await(10, TimeUnit.SECONDS), "tasks 6 to 9 never ran");
                        } catch (InterruptedException e) {
                            throw new AssertionError(e);
                        }
                    } else if (index > 5) {
                        restOfSecondShare.countDown();
                    }
                    runs.incrementAndGet(index);
                });
                assertEquals("[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]", runs.toString());
            }
        }
    }

    @Test
    void rethrowsATaskFailureAndStaysUsable() {
        try (WorkerPool pool = new WorkerPool(2, "test-pool-")) {
            IllegalStateException failure = new IllegalStateException("task failed");
            assertSame(failure, assertThrows(IllegalStateException.class, () -> pool.run(10, (index, worker) -> {
                if (index == 7) {
                    throw failure;
                }
            })));
            AtomicIntegerArray runs = new AtomicIntegerArray(4);
            pool.run(4, (index, worker) -> runs.incrementAndGet(index));
            assertEquals("[1, 1, 1, 1]", runs.toString());
        }
    }

    @Test
    void closeStopsTheWorkerThreads() {
        WorkerPool pool = new WorkerPool(3, "closing-pool-");
        pool.run(8, (index, worker) -> { });
        pool.close();
        assertFalse(Thread.getAllStackTraces().keySet().stream()
                .anyMatch(thread -> thread.getName().startsWith("closing-pool-") && thread.isAlive()));
        assertThrows(IllegalStateException.class, () -> pool.run(2, (index, worker) -> { }));
    }
}
