package io.gantry.cli;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When requests are sent, with a sender that only takes time. */
class ServingLoadTest {

    /** A sender whose requests take {@code millis}, recording when each was sent and the most in flight. */
    private static final class TimedSender implements ServingLoad.Sender {
        final List<Double> starts = new CopyOnWriteArrayList<>();
        final List<String> prompts = new CopyOnWriteArrayList<>();
        final AtomicInteger inFlight = new AtomicInteger();
        final AtomicInteger maxInFlight = new AtomicInteger();
        private final long millis;

        TimedSender(long millis) {
            this.millis = millis;
        }

        @Override
        public CompletableFuture<RequestRecord> send(int index, String prompt, long runStart) {
            double start = (System.nanoTime() - runStart) / 1e9;
            starts.add(start);
            prompts.add(prompt);
            maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
            return CompletableFuture.supplyAsync(() -> {
                inFlight.decrementAndGet();
                return new RequestRecord(index, start, null, 200, 1, 1, RequestRecord.TokenCount.CHUNKS, 1, 0, 0,
                        new double[0]);
            }, CompletableFuture.delayedExecutor(millis, TimeUnit.MILLISECONDS));
        }
    }

    /** Prompts p0, p1, ... */
    private static final class Counter implements Supplier<String> {
        private int next;

        @Override
        public String get() {
            return "p" + next++;
        }
    }

    @Test
    void aClosedLoopKeepsTheConcurrencyInFlight() throws Exception {
        TimedSender sender = new TimedSender(30);
        ServingLoad.Result result = new ServingLoad(9, null, 3, null, 1).run(new Counter(), sender);
        assertEquals(9, result.records().size());
        assertEquals(List.of("p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"), sender.prompts);
        assertEquals(3, sender.maxInFlight.get());
        assertTrue(result.duration() >= 0.09, "three waves of 30 ms: " + result.duration());
        for (int i = 0; i < 9; i++) {
            assertEquals(i, result.records().get(i).index(), "records in the order sent");
        }
    }

    @Test
    void anOpenLoopSendsAtSeededPoissonArrivals() throws Exception {
        TimedSender sender = new TimedSender(50);
        ServingLoad.Result result = new ServingLoad(40, null, null, 200.0, 7).run(new Counter(), sender);
        assertEquals(40, result.records().size());
        assertTrue(sender.maxInFlight.get() > 2, "no cap: arrivals do not wait for earlier requests");
        double[] gaps = new double[39];
        for (int i = 1; i < 40; i++) {
            gaps[i - 1] = sender.starts.get(i) - sender.starts.get(i - 1);
            assertTrue(gaps[i - 1] >= 0, "in order");
        }
        double span = sender.starts.get(39) - sender.starts.getFirst();
        // 39 exponential gaps of mean 5 ms: about 0.2 s; a fixed interval would make every gap the same.
        assertTrue(span > 0.1 && span < 0.6, "span " + span);
        double mean = span / 39;
        double variance = Arrays.stream(gaps).map(g -> (g - mean) * (g - mean)).average().orElseThrow();
        assertTrue(Math.sqrt(variance) > 0.5 * mean, "exponential gaps vary about as much as their mean");

        TimedSender capped = new TimedSender(30);
        new ServingLoad(12, null, 2, 1e6, 7).run(new Counter(), capped);
        assertEquals(2, capped.maxInFlight.get(), "the cap holds back arrivals");
    }

    @Test
    void aDurationStopsSendingButLetsTheRequestsInFlightFinish() throws Exception {
        TimedSender sender = new TimedSender(40);
        ServingLoad.Result result = new ServingLoad(Integer.MAX_VALUE, 0.2, 2, null, 1).run(new Counter(), sender);
        int sent = result.records().size();
        assertTrue(sent >= 4 && sent <= 12, "about five waves of two in 0.2 s: " + sent);
        // Checked against the deadline just before sending; the sender reads the clock a moment later.
        assertTrue(sender.starts.stream().allMatch(start -> start < 0.25), sender.starts.toString());
        assertTrue(result.duration() >= 0.2, "waits for the last requests: " + result.duration());

        assertThrows(IllegalArgumentException.class, () -> new ServingLoad(0, null, 1, null, 1));
        assertThrows(IllegalArgumentException.class, () -> new ServingLoad(1, null, null, null, 1));
    }
}
