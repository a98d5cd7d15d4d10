package io.gantry.cli.compare;

import java.util.Arrays;

/**
 * The mean and percentiles of a set of measurements, with the definitions of vLLM's serving benchmark: percentiles
 * interpolate linearly between the two nearest ranks (as numpy's default does), so p50 of {1, 2, 3, 4} is 2.5.
 * All NaN when there are no measurements.
 *
 * @param count how many measurements
 * @param mean  their mean
 * @param p50   the median
 * @param p95   the 95th percentile
 * @param p99   the 99th percentile
 */
public record LatencySummary(int count, double mean, double p50, double p95, double p99) {

    /**
     * @param values the measurements (not changed)
     * @return their summary
     */
    public static LatencySummary of(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return new LatencySummary(sorted.length, sorted.length == 0 ? Double.NaN : Arrays.stream(sorted).sum()
                / sorted.length, percentile(sorted, 50), percentile(sorted, 95), percentile(sorted, 99));
    }

    /**
     * @param sorted     measurements in ascending order
     * @param percentile from 0 to 100
     * @return the value at that percentile: at rank {@code p / 100 * (n - 1)}, interpolated linearly between the
     *         neighbouring ranks; NaN for no measurements
     */
    public static double percentile(double[] sorted, double percentile) {
        if (!(percentile >= 0 && percentile <= 100)) {
            throw new IllegalArgumentException("A percentile lies between 0 and 100, got " + percentile);
        }
        if (sorted.length == 0) {
            return Double.NaN;
        }
        double rank = percentile / 100 * (sorted.length - 1);
        int below = (int) Math.floor(rank);
        int above = Math.min(below + 1, sorted.length - 1);
        return sorted[below] + (sorted[above] - sorted[below]) * (rank - below);
    }

    /**
     * @param factor what to multiply by (1000 turns seconds into milliseconds)
     * @return this summary with every value scaled
     */
    public LatencySummary scaled(double factor) {
        return new LatencySummary(count, mean * factor, p50 * factor, p95 * factor, p99 * factor);
    }
}
