package io.gantry.api.metrics;

/** The kind of a metric family, as in Prometheus. */
public enum MetricType {
    /** A value that only goes up (it restarts at 0 when its process does); the name ends in {@code _total}. */
    COUNTER,
    /** A value that goes up and down. */
    GAUGE,
    /** A distribution: cumulative counts of observations at or below bucket bounds, their sum and count. */
    HISTOGRAM
}
