package io.gantry.cli.compare;

import com.fasterxml.jackson.annotation.JsonValue;

import java.util.Locale;
import java.util.random.RandomGenerator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How many tokens a prompt or an output has: a fixed number, or drawn per request from a uniform or a normal
 * distribution. Written as {@code 80}, {@code uniform:40-120} (both ends included) or {@code normal:80,20} (mean,
 * standard deviation; rounded, and at least 1).
 */
public sealed interface LengthDistribution {

    /**
     * @param random where the randomness comes from
     * @return one length, at least 1
     */
    int sample(RandomGenerator random);

    /** @return the distribution as it is written on the command line */
    @JsonValue
    String spec();

    /**
     * @param text {@code N}, {@code uniform:MIN-MAX} or {@code normal:MEAN,SD}
     * @return the distribution
     * @throws IllegalArgumentException saying what is expected, if the text is none of these
     */
    static LengthDistribution parse(String text) {
        String spec = text.strip().toLowerCase(Locale.ROOT);
        Matcher matcher;
        try {
            if (spec.matches("\\d+")) {
                return new Fixed(Integer.parseInt(spec));
            }
            if ((matcher = Pattern.compile("uniform:(\\d+)-(\\d+)").matcher(spec)).matches()) {
                return new Uniform(Integer.parseInt(matcher.group(1)), Integer.parseInt(matcher.group(2)));
            }
            if ((matcher = Pattern.compile("normal:([0-9.]+),([0-9.]+)").matcher(spec)).matches()) {
                return new Normal(Double.parseDouble(matcher.group(1)), Double.parseDouble(matcher.group(2)));
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' has a number out of range", e);
        }
        throw new IllegalArgumentException("'" + text + "' is not a length: expected N, uniform:MIN-MAX or "
                + "normal:MEAN,SD (e.g. 80, uniform:40-120, normal:80,20)");
    }

    /**
     * Always the same length.
     *
     * @param tokens the length, at least 1
     */
    record Fixed(int tokens) implements LengthDistribution {
        /** Checks the length. */
        public Fixed {
            if (tokens < 1) {
                throw new IllegalArgumentException("A length must be at least 1, got " + tokens);
            }
        }

        @Override
        public int sample(RandomGenerator random) {
            return tokens;
        }

        @Override
        public String spec() {
            return Integer.toString(tokens);
        }
    }

    /**
     * Every length from {@code min} to {@code max} equally likely.
     *
     * @param min the shortest, at least 1
     * @param max the longest, at least {@code min}
     */
    record Uniform(int min, int max) implements LengthDistribution {
        /** Checks the bounds. */
        public Uniform {
            if (min < 1 || max < min) {
                throw new IllegalArgumentException("uniform:MIN-MAX needs 1 <= MIN <= MAX, got " + min + "-" + max);
            }
        }

        @Override
        public int sample(RandomGenerator random) {
            return random.nextInt(min, max + 1);
        }

        @Override
        public String spec() {
            return "uniform:" + min + "-" + max;
        }
    }

    /**
     * A normal distribution, rounded to whole tokens and cut off below at 1.
     *
     * @param mean              the mean, at least 1
     * @param standardDeviation the standard deviation, 0 or more
     */
    record Normal(double mean, double standardDeviation) implements LengthDistribution {
        /** Checks the parameters. */
        public Normal {
            if (!(mean >= 1) || !(standardDeviation >= 0) || Double.isInfinite(mean)
                    || Double.isInfinite(standardDeviation)) {
                throw new IllegalArgumentException("normal:MEAN,SD needs MEAN >= 1 and SD >= 0, got " + mean + ","
                        + standardDeviation);
            }
        }

        @Override
        public int sample(RandomGenerator random) {
            long length = Math.round(random.nextGaussian(mean, standardDeviation));
            return (int) Math.clamp(length, 1, Integer.MAX_VALUE);
        }

        @Override
        public String spec() {
            return "normal:" + format(mean) + "," + format(standardDeviation);
        }

        private static String format(double value) {
            return value == Math.rint(value) ? Long.toString((long) value) : Double.toString(value);
        }
    }
}
