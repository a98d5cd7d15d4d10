package io.gantry.engine.model;

import java.util.List;

/**
 * Watches one sequence's streamed text for stop strings. Text that could be the start of a stop string is held
 * back until the next piece shows whether it is; when a stop string appears, the text before it is released and
 * the rest (the stop string included) is dropped. So the released text is exactly the output up to the first stop
 * string, whichever way the pieces split it.
 *
 * <p>One instance per sequence; not thread-safe.
 */
public final class StopStrings {

    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    /**
     * @param stops the stop strings, none empty; an empty list releases every piece as it comes
     * @throws IllegalArgumentException if a stop string is empty
     */
    public StopStrings(List<String> stops) {
        this.stops = List.copyOf(stops);
        if (this.stops.stream().anyMatch(String::isEmpty)) {
            throw new IllegalArgumentException("Stop strings must not be empty");
        }
    }

    /**
     * @param piece the next piece of text
     * @return the text that can be released now; once a stop string is found, the text before it, and
     *         {@link #stopped()} turns true
     * @throws IllegalStateException if a stop string was already found
     */
    public String next(String piece) {
        if (stopped) {
            throw new IllegalStateException("A stop string was already found");
        }
        if (stops.isEmpty()) {
            return piece;
        }
        held.append(piece);
        int first = -1;
        for (String stop : stops) {
            int at = held.indexOf(stop);
            if (at >= 0 && (first < 0 || at < first)) {
                first = at;
            }
        }
        if (first >= 0) {
            stopped = true;
            String released = held.substring(0, first);
            held.setLength(0);
            return released;
        }
        int release = held.length() - longestPossibleStart();
        String released = held.substring(0, release);
        held.delete(0, release);
        return released;
    }

    /** @return whether a stop string was found */
    public boolean stopped() {
        return stopped;
    }

    /** @return the text held back, for when the output ends without a stop string; nothing is held afterwards */
    public String flush() {
        String released = held.toString();
        held.setLength(0);
        return released;
    }

    /** @return the length of the longest end of the held text that some stop string starts with */
    private int longestPossibleStart() {
        int longest = 0;
        for (String stop : stops) {
            for (int length = Math.min(stop.length() - 1, held.length()); length > longest; length--) {
                // Searching from there, the prefix can only be found exactly at the end.
                if (held.indexOf(stop.substring(0, length), held.length() - length) >= 0) {
                    longest = length;
                    break;
                }
            }
        }
        return longest;
    }
}
