package io.gantry.transport.rest;

import io.gantry.api.inference.Completion;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.TokenSink;

import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Hands one choice's tokens from the engine's thread to the HTTP thread that writes them. The engine side never
 * blocks and takes no lock: tokens go into a lock-free queue and the reader is unparked. The queue is bounded: a
 * reader that falls more than {@code capacity} tokens behind (a client that does not read) marks the stream
 * {@link #overflowed()}, later tokens are dropped, and the reader cancels the request.
 *
 * <p>A reader reads {@link #end()} first and drains the tokens after it: every token arrives before the end, so a
 * non-null end read first means the drain gets them all.
 */
final class ChoiceStream implements TokenSink {

    private final Queue<GeneratedToken> tokens = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final int capacity;
    private final Thread reader;
    private volatile boolean started;
    private volatile boolean overflowed;
    /** The {@link Completion} or {@link InferenceException} that ended the request; set once. */
    private volatile Object end;

    /**
     * @param capacity the most tokens that may wait for the reader
     * @param reader   the thread to wake when something arrives, or {@code null} for a stream that is only polled
     */
    ChoiceStream(int capacity, Thread reader) {
        this.capacity = capacity;
        this.reader = reader;
    }

    @Override
    public void onToken(GeneratedToken token) {
        started = true;
        if (overflowed) {
            return;
        }
        if (queued.incrementAndGet() > capacity) {
            overflowed = true;
        } else {
            tokens.add(token);
        }
        wake();
    }

    @Override
    public void onComplete(Completion completion) {
        end = completion;
        wake();
    }

    @Override
    public void onError(InferenceException error) {
        end = error;
        wake();
    }

    private void wake() {
        if (reader != null) {
            LockSupport.unpark(reader);
        }
    }

    /** @return the {@link Completion} or {@link InferenceException} that ended the request, or {@code null} */
    Object end() {
        return end;
    }

    /** Moves the tokens that arrived so far into {@code into}. */
    void drainTo(List<GeneratedToken> into) {
        int drained = 0;
        for (GeneratedToken token = tokens.poll(); token != null; token = tokens.poll()) {
            into.add(token);
            drained++;
        }
        queued.addAndGet(-drained);
    }

    /** @return whether a token has arrived: the engine is generating this choice */
    boolean started() {
        return started;
    }

    /** @return whether the reader fell too far behind and tokens were dropped */
    boolean overflowed() {
        return overflowed;
    }
}
