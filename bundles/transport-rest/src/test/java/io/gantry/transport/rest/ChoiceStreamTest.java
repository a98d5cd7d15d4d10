package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.inference.Completion;
import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GeneratedToken;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The hand-over from the engine's thread: bounded, never blocking, and complete once the end is seen. */
class ChoiceStreamTest {

    private static GeneratedToken token(int id) {
        return new GeneratedToken(id, "t" + id, Float.NaN, List.of());
    }

    @Test
    void aReaderThatSeesTheEndDrainsEveryToken() {
        ChoiceStream stream = new ChoiceStream(10, null);
        for (int i = 0; i < 5; i++) {
            stream.onToken(token(i));
        }
        Completion completion = new Completion(FinishReason.STOP, 3, 5, 0);
        stream.onComplete(completion);
        assertSame(completion, stream.end());
        List<GeneratedToken> drained = new ArrayList<>();
        stream.drainTo(drained);
        assertEquals(5, drained.size());
        assertEquals("t4", drained.getLast().text());
        assertFalse(stream.overflowed());
    }

    @Test
    void aReaderThatFallsBehindOverflowsInsteadOfBlockingTheEngine() {
        ChoiceStream stream = new ChoiceStream(3, Thread.currentThread());
        for (int i = 0; i < 3; i++) {
            stream.onToken(token(i));
        }
        assertFalse(stream.overflowed());
        List<GeneratedToken> drained = new ArrayList<>();
        stream.drainTo(drained);
        for (int i = 3; i < 6; i++) {
            stream.onToken(token(i));
        }
        assertFalse(stream.overflowed(), "draining made room again");
        stream.onToken(token(6));
        assertTrue(stream.overflowed());
        stream.onToken(token(7));
        stream.drainTo(drained);
        assertEquals(6, drained.size(), "tokens past the bound are dropped");
        assertNull(stream.end());
        assertTrue(stream.started());
    }
}
