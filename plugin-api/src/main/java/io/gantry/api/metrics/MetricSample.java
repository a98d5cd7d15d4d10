package io.gantry.api.metrics;

import java.util.Arrays;
import java.util.Map;

/** One labelled value of a {@link MetricFamily}. */
public sealed interface MetricSample {

    /** @return the labels, e.g. {@code model_name} and {@code variant} */
    Map<String, String> labels();

    /**
     * A counter's or gauge's value.
     *
     * @param labels the labels
     * @param value  the value
     */
    record Value(Map<String, String> labels, double value) implements MetricSample {
        /** Copies the labels. */
        public Value {
            labels = Map.copyOf(labels);
        }
    }

    /**
     * A histogram's state.
     *
     * @param labels           the labels
     * @param upperBounds      the buckets' upper bounds, increasing (the {@code +Inf} bucket is implied)
     * @param cumulativeCounts per bucket, the observations at or below its bound; non-decreasing
     * @param sum              the sum of all observations
     * @param count            the number of observations (the {@code +Inf} bucket's count)
     */
    record Distribution(Map<String, String> labels, double[] upperBounds, long[] cumulativeCounts, double sum,
            long count) implements MetricSample {

        /** Copies the arrays and checks they fit together. */
        public Distribution {
            labels = Map.copyOf(labels);
            upperBounds = upperBounds.clone();
            cumulativeCounts = cumulativeCounts.clone();
            if (upperBounds.length != cumulativeCounts.length) {
                throw new IllegalArgumentException("One count per bucket bound is needed");
            }
            for (int i = 1; i < upperBounds.length; i++) {
                if (!(upperBounds[i] > upperBounds[i - 1]) || cumulativeCounts[i] < cumulativeCounts[i - 1]) {
                    throw new IllegalArgumentException("Bucket bounds must increase and counts must not decrease: "
                            + Arrays.toString(upperBounds) + " " + Arrays.toString(cumulativeCounts));
                }
            }
            if (cumulativeCounts.length > 0 && count < cumulativeCounts[cumulativeCounts.length - 1]) {
                throw new IllegalArgumentException("count " + count + " is below the last bucket's count");
            }
        }

        @Override
        public double[] upperBounds() {
            return upperBounds.clone();
        }

        @Override
        public long[] cumulativeCounts() {
            return cumulativeCounts.clone();
        }
    }
}
