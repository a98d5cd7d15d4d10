package io.gantry.engine.plugins;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntUnaryOperator;
import org.junit.jupiter.api.Test;

class PluginSlotTest {

    /** A plugin that fails every call made after it was closed, as a freed plugin would. */
    private static final class ClosablePlugin implements IntUnaryOperator {
        private final int offset;
        private final AtomicBoolean closed = new AtomicBoolean();

        ClosablePlugin(int offset) {
            this.offset = offset;
        }

        @Override
        public int applyAsInt(int operand) {
            if (closed.get()) {
                throw new IllegalStateException("called after close");
            }
            return operand + offset;
        }
    }

    private final PluginSlot<IntUnaryOperator> slot = new PluginSlot<>("test", Duration.ofSeconds(10));

    @Test
    void callsTheActivePlugin() {
        slot.bind(new ClosablePlugin(1), "p", 7);
        assertEquals(3, slot.<Integer>call(p -> p.applyAsInt(2), Duration.ZERO));
        assertEquals(7, slot.activeServiceId());
    }

    @Test
    void failsClearlyWhenNothingIsBound() {
        IllegalStateException error = assertThrows(IllegalStateException.class,
                () -> slot.call(p -> p.applyAsInt(1), Duration.ofMillis(20)));
        assertTrue(error.getMessage().contains("No test plugin is active"), error.getMessage());
    }

    @Test
    void unbindWaitsForTheCallInside() throws Exception {
        ClosablePlugin plugin = new ClosablePlugin(0);
        slot.bind(plugin, "p", 1);
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread caller = Thread.ofPlatform().start(() -> slot.call(p -> {
            inside.countDown();
            awaitQuietly(release);
            return p.applyAsInt(1);
        }, Duration.ZERO));
        assertTrue(inside.await(5, TimeUnit.SECONDS));
        Thread unbinder = Thread.ofPlatform().start(() -> {
            slot.unbind(plugin);
            plugin.closed.set(true);
        });
        unbinder.join(200);
        assertTrue(unbinder.isAlive(), "unbind must wait while a call is inside");
        release.countDown();
        unbinder.join(5000);
        caller.join(5000);
        assertTrue(!unbinder.isAlive() && !caller.isAlive());
    }

    @Test
    void callersSeeNoErrorAcrossManySwaps() throws Exception {
        slot.bind(new ClosablePlugin(0), "p", 0);
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger calls = new AtomicInteger();
        List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> callers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            callers.add(Thread.ofPlatform().start(() -> {
                while (running.get()) {
                    try {
                        slot.call(p -> p.applyAsInt(1), Duration.ofSeconds(5));
                        calls.incrementAndGet();
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                }
            }));
        }
        ClosablePlugin current = new ClosablePlugin(0);
        slot.bind(current, "p", 1);
        for (int swap = 2; swap < 200; swap++) {
            ClosablePlugin next = new ClosablePlugin(0);
            if (swap % 2 == 0) {
                slot.bind(next, "p", swap); // replacement first, as SCR does for greedy references
                slot.unbind(current);
            } else {
                slot.unbind(current); // a gap with nothing bound: callers must wait, not fail
                slot.bind(next, "p", swap);
            }
            current.closed.set(true);
            current = next;
        }
        running.set(false);
        for (Thread caller : callers) {
            caller.join(10_000);
        }
        assertEquals(List.of(), errors);
        assertTrue(calls.get() > 0);
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
