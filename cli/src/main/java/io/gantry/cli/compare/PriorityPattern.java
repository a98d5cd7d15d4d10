package io.gantry.cli.compare;

import com.fasterxml.jackson.annotation.JsonValue;

import java.util.Arrays;
import java.util.Locale;
import java.util.random.RandomGenerator;
import java.util.stream.Collectors;

/**
 * The priorities the requests of a workload get (larger is more urgent; only the priority scheduler looks at them):
 * {@code 0,0,1} gives them in turn, request by request; {@code random:0,0,1} draws each request's from the list (so
 * a value listed twice is twice as likely).
 *
 * @param values the priorities, at least one
 * @param random draw at random instead of in turn
 */
public record PriorityPattern(int[] values, boolean random) {

    /** Every request has priority 0. */
    public static final PriorityPattern NONE = new PriorityPattern(new int[] {0}, false);

    private static final String RANDOM = "random:";

    /** Copies the values and checks there is one. */
    public PriorityPattern {
        values = values.clone();
        if (values.length == 0) {
            throw new IllegalArgumentException("A priority list needs at least one value");
        }
    }

    @Override
    public int[] values() {
        return values.clone();
    }

    /**
     * @param text {@code P1,P2,...} or {@code random:P1,P2,...}
     * @return the pattern
     * @throws IllegalArgumentException if the text is not such a list of integers
     */
    public static PriorityPattern parse(String text) {
        String spec = text.strip().toLowerCase(Locale.ROOT);
        boolean random = spec.startsWith(RANDOM);
        String list = random ? spec.substring(RANDOM.length()) : spec;
        try {
            return new PriorityPattern(Arrays.stream(list.split(",")).map(String::strip).mapToInt(Integer::parseInt)
                    .toArray(), random);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a priority list: expected integers separated by "
                    + "commas, e.g. 0,0,1 or random:0,1,2", e);
        }
    }

    /**
     * @param index  the request's place in the workload
     * @param source where random draws come from
     * @return that request's priority
     */
    public int priorityOf(int index, RandomGenerator source) {
        return values[random ? source.nextInt(values.length) : index % values.length];
    }

    /** @return the pattern as it is written on the command line */
    @JsonValue
    public String spec() {
        return (random ? RANDOM : "") + Arrays.stream(values).mapToObj(Integer::toString)
                .collect(Collectors.joining(","));
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof PriorityPattern that && random == that.random && Arrays.equals(values, that.values);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(values) + Boolean.hashCode(random);
    }

    @Override
    public String toString() {
        return spec();
    }
}
