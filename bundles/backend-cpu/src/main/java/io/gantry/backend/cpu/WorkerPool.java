package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads, created once, that run the tasks of one parallel loop at a time. The
 * calling thread takes part as worker 0, so {@code threads} threads compute and only
 * {@code threads - 1} are started.
 *
 * <p>Made for the many short loops of a decode step (a matmul takes tens of microseconds): tasks are
 * claimed with one atomic increment each, and workers spin briefly after a loop before they park, so
 * the next loop of the same step finds them awake without a wake-up system call. Idle workers park
 * and cost nothing.
 *
 * <p>Each worker first claims the tasks of its own share of the loop, a contiguous range of indices, in order;
 * then it helps with the others' ranges, so that a worker the OS runs late is made up for. Done for speed: tasks
 * are mostly consecutive pieces of one weight or KV run, and one thread streaming its consecutive pieces keeps the
 * hardware prefetchers running, where threads taking turns broke every thread's stream at each task (in JMH on
 * Zen 4, bench-110m-sized Q8_0 and Q4_0 matmuls of one row, weights coming from memory, ran 8% to 24% faster).
 *
 * <p>Each worker also owns a scratch array that kernels may use inside a task.
 */
final class WorkerPool implements AutoCloseable {

    /** One task of a parallel loop. */
    @FunctionalInterface
    interface Task {
        /**
         * @param index  the task's index in the loop
         * @param worker the index of the worker running it, {@code 0 <= worker < threads}
         */
        void run(int index, int worker);
    }

    /** How long a worker (or the caller) spins before it parks: longer than the gap between two kernels of a step. */
    private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(100);
    private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(10);

    private final Worker[] workers;
    private final float[][] scratch;
    private volatile Loop current;
    private volatile boolean closed;

    /**
     * @param threads    threads that compute, the caller included; at least 1
     * @param namePrefix prefix of the worker threads' names
     */
    WorkerPool(int threads, String namePrefix) {
        if (threads < 1) {
            throw new IllegalArgumentException("A worker pool needs at least 1 thread, got " + threads);
        }
        scratch = new float[threads][0];
        workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1, namePrefix + (i + 1));
            workers[i].thread.start();
        }
    }

    /** @return the number of threads that compute, the caller included */
    int threads() {
        return workers.length + 1;
    }

    /**
     * Runs {@code task} for every index below {@code count} and returns when all have finished. Tasks run in
     * no particular order, on any worker. If tasks throw, the first exception is rethrown here after
     * every task has finished. Not reentrant: a task must not call {@code run}.
     */
    synchronized void run(int count, Task task) {
        if (closed) {
            throw new IllegalStateException("The worker pool is closed");
        }
        if (count <= 1 || workers.length == 0) {
            for (int i = 0; i < count; i++) {
                task.run(i, 0);
            }
            return;
        }
        // A new Loop per call: a worker still finishing the previous loop claims from its own exhausted counter.
        Loop loop = new Loop(task, count, workers.length + 1, Thread.currentThread());
        current = loop;
        for (Worker worker : workers) {
            if (worker.parked) {
                LockSupport.unpark(worker.thread);
            }
        }
        loop.work(0);
        loop.awaitDone();
        Throwable failure = loop.failure.get();
        if (failure instanceof RuntimeException e) {
            throw e;
        }
        if (failure instanceof Error e) {
            throw e;
        }
    }

    /** @return whether every worker thread may read {@code segment} (it is not confined to another thread) */
    boolean canAccess(MemorySegment segment) {
        for (Worker worker : workers) {
            if (!segment.isAccessibleBy(worker.thread)) {
                return false;
            }
        }
        return true;
    }

    /**
     * @param worker the worker running the current task
     * @param size   floats needed
     * @return that worker's scratch array, at least {@code size} long; its contents are undefined
     */
    float[] scratch(int worker, int size) {
        float[] array = scratch[worker];
        if (array.length < size) {
            array = new float[size];
            scratch[worker] = array;
        }
        return array;
    }

    /** Stops the workers and waits for them to end. Idempotent. */
    @Override
    public void close() {
        closed = true;
        for (Worker worker : workers) {
            LockSupport.unpark(worker.thread);
        }
        for (Worker worker : workers) {
            try {
                worker.thread.join(JOIN_TIMEOUT);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** The state of one parallel loop. */
    private static final class Loop {
        /** Ints per cache line: each range's counter on a line of its own, so claims in one do not slow the others. */
        private static final int PAD = 16;

        final Task task;
        final int count;
        final Thread caller;
        /** Per range {@code r}, at {@code r * PAD}: the next index to claim; claimed by atomic increment. */
        final AtomicIntegerArray next;
        /** Per range: the index that ends it. */
        final int[] ends;
        final AtomicInteger done = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        volatile boolean callerParked;

        /** @param ranges one per worker: worker {@code w}'s share is range {@code w} */
        Loop(Task task, int count, int ranges, Thread caller) {
            this.task = task;
            this.count = count;
            this.caller = caller;
            this.next = new AtomicIntegerArray(ranges * PAD);
            this.ends = new int[ranges];
            for (int r = 0; r < ranges; r++) {
                // Plain writes: the volatile write of the pool's current loop publishes them to the workers.
                next.setPlain(r * PAD, (int) ((long) count * r / ranges));
                ends[r] = (int) ((long) count * (r + 1) / ranges);
            }
        }

        /** Runs the tasks left in worker {@code worker}'s range, then those left in the others'. */
        void work(int worker) {
            for (int k = 0; k < ends.length; k++) {
                int range = (worker + k) % ends.length;
                int end = ends[range];
                for (int i = next.getAndIncrement(range * PAD); i < end; i = next.getAndIncrement(range * PAD)) {
                    try {
                        task.run(i, worker);
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                    // Volatile increment, then volatile read: pairs with awaitDone's write-then-read of callerParked.
                    if (done.incrementAndGet() == count && callerParked) {
                        LockSupport.unpark(caller);
                    }
                }
            }
        }

        void awaitDone() {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (done.get() < count) {
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    callerParked = true;
                    if (done.get() < count) {
                        LockSupport.park(this);
                    }
                    callerParked = false;
                }
            }
        }
    }

    /** A started worker thread. */
    private final class Worker implements Runnable {
        final int index;
        final Thread thread;
        volatile boolean parked;

        Worker(int index, String name) {
            this.index = index;
            this.thread = new Thread(this, name);
            thread.setDaemon(true);
        }

        @Override
        public void run() {
            Loop seen = null;
            long spinUntil = 0;
            while (!closed) {
                Loop loop = current;
                if (loop != seen) {
                    seen = loop;
                    loop.work(index);
                    spinUntil = System.nanoTime() + SPIN_NANOS;
                } else if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    // Volatile write, then volatile read of current: pairs with run()'s publish-then-check of parked.
                    parked = true;
                    if (current == seen && !closed) {
                        LockSupport.park(this);
                    }
                    parked = false;
                }
            }
        }
    }
}
