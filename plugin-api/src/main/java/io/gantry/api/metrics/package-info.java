/**
 * Metrics that Gantry components expose for scraping: named families of counters, gauges and histograms, with
 * labels, in the Prometheus data model. Transports render them (the REST transport as the Prometheus text
 * format on {@code /metrics}).
 */
@Version("1.0.0")
@Export
package io.gantry.api.metrics;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
