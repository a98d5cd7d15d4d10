package io.gantry.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * When the serving benchmark sends its requests. Closed loop: at most {@code concurrency} requests in flight, the
 * next sent as soon as one finishes. Open loop: requests arrive as a Poisson process of {@code requestRate} per
 * second (exponential gaps drawn from {@code seed}, the first at time 0), optionally still capped at
 * {@code concurrency} in flight, a late arrival waiting for a slot. The run ends when {@code requests} have been
 * sent, or when {@code durationSeconds} have passed (no request is sent after that), and the requests in flight
 * have finished.
 *
 * @param requests        the most requests to send, at least 1
 * @param durationSeconds no request is sent after this many seconds from the start, or {@code null} for no limit
 * @param concurrency     the most requests in flight, or {@code null} for no limit (open loop only)
 * @param requestRate     mean arrivals per second for an open loop, or {@code null} for a closed loop
 * @param seed            the seed of the arrival times
 */
record ServingLoad(int requests, Double durationSeconds, Integer concurrency, Double requestRate, long seed) {

    ServingLoad {
        if (requests < 1) {
            throw new IllegalArgumentException("requests must be at least 1, got " + requests);
        }
        if (concurrency == null && requestRate == null) {
            throw new IllegalArgumentException("a closed loop needs a concurrency");
        }
    }

    /** Sends one request; the future never completes exceptionally. */
    @FunctionalInterface
    interface Sender {
        /**
         * @param index    the request's number in the run
         * @param prompt   its prompt
         * @param runStart {@link System#nanoTime()} at the start of the run
         * @return its record, once it has finished
         */
        CompletableFuture<RequestRecord> send(int index, String prompt, long runStart);
    }

    /**
     * @param records  every request sent, in the order sent
     * @param duration seconds from the start of the run to the end of its last request
     */
    record Result(List<RequestRecord> records, double duration) {
    }

    /**
     * Runs the load, blocking until every request sent has finished.
     *
     * @param prompts the prompts, one per request in order
     * @param sender  sends a request
     * @return what was measured
     * @throws InterruptedException when interrupted while waiting to send
     */
    Result run(Supplier<String> prompts, Sender sender) throws InterruptedException {
        Semaphore slots = concurrency == null ? null : new Semaphore(concurrency);
        SplittableRandom arrivals = new SplittableRandom(seed);
        List<CompletableFuture<RequestRecord>> sentRequests = new ArrayList<>();
        long start = System.nanoTime();
        long deadline = durationSeconds == null ? Long.MAX_VALUE : start + (long) (durationSeconds * 1e9);
        double nextArrival = 0;
        for (int index = 0; index < requests; index++) {
            if (requestRate != null) {
                long arrival = start + (long) (nextArrival * 1e9);
                if (arrival - deadline >= 0) {
                    break;
                }
                waitUntil(arrival);
                nextArrival += -Math.log(1 - arrivals.nextDouble()) / requestRate;
            }
            if (slots != null) {
                slots.acquire();
            }
            if (System.nanoTime() - deadline >= 0) {
                break;
            }
            CompletableFuture<RequestRecord> request = sender.send(index, prompts.get(), start);
            if (slots != null) {
                request.whenComplete((record, failure) -> slots.release());
            }
            sentRequests.add(request);
        }
        CompletableFuture.allOf(sentRequests.toArray(CompletableFuture[]::new)).join();
        double duration = (System.nanoTime() - start) / 1e9;
        return new Result(sentRequests.stream().map(CompletableFuture::join).toList(), duration);
    }

    private static void waitUntil(long nanoTime) throws InterruptedException {
        for (long left = nanoTime - System.nanoTime(); left > 0; left = nanoTime - System.nanoTime()) {
            LockSupport.parkNanos(left);
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
        }
    }
}
