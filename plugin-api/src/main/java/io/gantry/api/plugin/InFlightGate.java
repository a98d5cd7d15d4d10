package io.gantry.api.plugin;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Counts calls that are inside a plugin and lets its owner close the plugin only after they have left:
 * the drain half of Gantry's hot-swap rule.
 *
 * <p>Callers bracket every call with {@link #tryEnter()} and {@link #exit()}. {@code tryEnter} fails once
 * {@link #close(Duration)} has begun, so a caller that read a stale reference learns that the plugin is
 * going away and re-reads its reference instead of calling into freed state. {@code close} stops new
 * entries and then waits until the count of calls inside falls to zero.
 *
 * <p>Thread-safe; lock-free on the call path (one CAS to enter, one atomic decrement to leave). The
 * waiting side of {@code close} parks in short intervals rather than being signalled, because closing
 * is rare and the call path must stay free of locks and wake-ups.
 */
public final class InFlightGate {

    /** Bit 0 marks "closed"; the bits above it count the calls inside (so one call adds {@link #ONE_CALL}). */
    private static final long CLOSED_BIT = 1L;
    private static final long ONE_CALL = 2L;
    private static final long PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(200);

    private final AtomicLong stateVolatile = new AtomicLong();

    /**
     * Enters the gate.
     *
     * @return {@code true} if the caller may go in and must call {@link #exit()} afterwards;
     *         {@code false} if the gate is closed or closing (the caller must not go in)
     */
    public boolean tryEnter() {
        while (true) {
            long state = stateVolatile.get();
            if ((state & CLOSED_BIT) != 0) {
                return false;
            }
            // CAS (volatile write): the increment is visible to close() before the caller touches the plugin.
            if (stateVolatile.compareAndSet(state, state + ONE_CALL)) {
                return true;
            }
        }
    }

    /** Leaves the gate; must follow each successful {@link #tryEnter()} exactly once. */
    public void exit() {
        // Volatile decrement: the caller's work inside happens-before close() observing the count drop.
        long after = stateVolatile.addAndGet(-ONE_CALL);
        if (after < 0) {
            throw new IllegalStateException("InFlightGate.exit() without a matching tryEnter()");
        }
    }

    /** @return the number of calls inside the gate right now */
    public long inFlight() {
        return stateVolatile.get() >> 1;
    }

    /** @return whether {@link #close(Duration)} has begun */
    public boolean isClosed() {
        return (stateVolatile.get() & CLOSED_BIT) != 0;
    }

    /**
     * Refuses new entries, then waits until every call inside has left or the timeout passes.
     * Idempotent: a second call waits again but changes nothing.
     *
     * @param timeout how long to wait for calls inside to leave
     * @return {@code true} if the gate is empty; {@code false} if calls were still inside at the timeout
     */
    public boolean close(Duration timeout) {
        // getAndUpdate (volatile read-modify-write): after this, every tryEnter() sees the closed bit.
        stateVolatile.getAndUpdate(state -> state | CLOSED_BIT);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (inFlight() > 0) {
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            LockSupport.parkNanos(PARK_NANOS);
        }
        return true;
    }
}
