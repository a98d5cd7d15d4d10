package io.gantry.api.metrics;

import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One metric: its name, help text, type and one sample per label set.
 *
 * @param name    the metric name, e.g. {@code gantry:time_to_first_token_seconds} (Prometheus syntax, colons
 *                allowed, named after vLLM's metrics so dashboards carry over)
 * @param help    one line saying what it measures
 * @param type    counter, gauge or histogram
 * @param samples one per label set: {@link MetricSample.Value}s for counters and gauges,
 *                {@link MetricSample.Distribution}s for histograms
 */
public record MetricFamily(String name, String help, MetricType type, List<MetricSample> samples) {

    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");

    /** Checks the name and that every sample fits the type. */
    public MetricFamily {
        Objects.requireNonNull(help, "help");
        Objects.requireNonNull(type, "type");
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("Not a metric name: " + name);
        }
        samples = List.copyOf(samples);
        for (MetricSample sample : samples) {
            if ((type == MetricType.HISTOGRAM) != (sample instanceof MetricSample.Distribution)) {
                throw new IllegalArgumentException("Metric " + name + " of type " + type + " cannot hold " + sample);
            }
        }
    }
}
