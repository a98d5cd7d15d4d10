package io.gantry.engine.model;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StopStringsTest {

    /** Feeds the pieces and returns everything released, with the flush when no stop string was found. */
    private static String run(StopStrings stops, String... pieces) {
        StringBuilder released = new StringBuilder();
        for (String piece : pieces) {
            released.append(stops.next(piece));
            if (stops.stopped()) {
                return released.toString();
            }
        }
        return released.append(stops.flush()).toString();
    }

    @Test
    void releasesTextUpToTheFirstStopStringHoweverThePiecesSplitIt() {
        String text = "Once upon a time. The end. More";
        for (int cut1 = 0; cut1 <= text.length(); cut1++) {
            for (int cut2 = cut1; cut2 <= text.length(); cut2++) {
                StopStrings stops = new StopStrings(List.of("The end", "time."));
                String released = run(stops, text.substring(0, cut1), text.substring(cut1, cut2), text.substring(cut2));
                assertEquals("Once upon a ", released, "cut at " + cut1 + " and " + cut2);
                assertTrue(stops.stopped());
            }
        }
    }

    @Test
    void holdsBackOnlyWhatCouldStartAStopString() {
        StopStrings stops = new StopStrings(List.of("aab"));
        assertEquals("x", stops.next("xaa"));
        assertEquals("a", stops.next("a"), "'aaa' can only end in the start of 'aab' with its last two");
        assertEquals("", stops.next("b"));
        assertTrue(stops.stopped());
        assertThrows(IllegalStateException.class, () -> stops.next("more"));

        StopStrings none = new StopStrings(List.of("\n\n"));
        assertEquals("line", none.next("line\n"));
        assertEquals("\n", none.flush(), "held text is released at the end");
        assertFalse(none.stopped());
    }

    @Test
    void withoutStopStringsEveryPiecePasses() {
        StopStrings stops = new StopStrings(List.of());
        assertEquals("abc", stops.next("abc"));
        assertEquals("", stops.flush());
        assertThrows(IllegalArgumentException.class, () -> new StopStrings(List.of("")));
    }
}
