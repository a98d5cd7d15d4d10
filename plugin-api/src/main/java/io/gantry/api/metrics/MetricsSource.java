package io.gantry.api.metrics;

import java.util.List;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Something that has metrics to report, registered as a service: the engine registers one, and plugins may.
 * Transports call {@link #collect()} on every registered source when scraped.
 *
 * <p><b>Threading:</b> {@link #collect()} is called from transport threads, concurrently with the work the
 * metrics describe; it must be thread-safe, must not block for long, and returns a consistent-enough snapshot
 * (each value read atomically; values of one family need not be from the same instant).
 */
@ConsumerType
public interface MetricsSource {

    /** @return the current values, one entry per metric family; family names unique within one source */
    List<MetricFamily> collect();
}
