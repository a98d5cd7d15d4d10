package io.gantry.transport.rest;

import io.gantry.api.metrics.MetricFamily;
import io.gantry.api.metrics.MetricSample;
import io.gantry.api.metrics.MetricType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes metric families in the Prometheus text exposition format, version 0.0.4: a {@code # HELP} and a
 * {@code # TYPE} line per family, then its samples; a histogram as cumulative {@code _bucket} samples (the
 * {@code +Inf} bucket included), {@code _sum} and {@code _count}.
 */
final class PrometheusText {

    /** The content type of the format. */
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private PrometheusText() {
    }

    /**
     * Writes families, possibly from several sources. A name may appear once in the format, so families of one name
     * are merged; one whose type differs from the first of its name is dropped (and reported as dropped).
     *
     * @param families the families, in the order to write them
     * @param dropped  receives a line for every family left out
     * @return the text
     */
    static String write(List<MetricFamily> families, List<String> dropped) {
        Map<String, MetricFamily> merged = new LinkedHashMap<>();
        for (MetricFamily family : families) {
            MetricFamily first = merged.get(family.name());
            if (first == null) {
                merged.put(family.name(), family);
            } else if (first.type() != family.type()) {
                dropped.add(family.name() + " is both a " + first.type() + " and a " + family.type());
            } else {
                List<MetricSample> samples = new ArrayList<>(first.samples());
                samples.addAll(family.samples());
                merged.put(family.name(), new MetricFamily(first.name(), first.help(), first.type(), samples));
            }
        }
        StringBuilder out = new StringBuilder(4096);
        for (MetricFamily family : merged.values()) {
            out.append("# HELP ").append(family.name()).append(' ').append(escapeHelp(family.help())).append('\n');
            out.append("# TYPE ").append(family.name()).append(' ')
                    .append(family.type().name().toLowerCase(Locale.ROOT)).append('\n');
            for (MetricSample sample : family.samples()) {
                switch (sample) {
                    case MetricSample.Value value -> line(out, family.name(), value.labels(), null, value.value());
                    case MetricSample.Distribution histogram -> histogram(out, family.name(), histogram);
                }
            }
        }
        return out.toString();
    }

    private static void histogram(StringBuilder out, String name, MetricSample.Distribution histogram) {
        double[] bounds = histogram.upperBounds();
        long[] counts = histogram.cumulativeCounts();
        for (int i = 0; i < bounds.length; i++) {
            line(out, name + "_bucket", histogram.labels(), number(bounds[i]), counts[i]);
        }
        line(out, name + "_bucket", histogram.labels(), "+Inf", histogram.count());
        line(out, name + "_sum", histogram.labels(), null, histogram.sum());
        line(out, name + "_count", histogram.labels(), null, histogram.count());
    }

    /** One sample line; labels sorted by name so that a series reads the same on every scrape. */
    private static void line(StringBuilder out, String name, Map<String, String> labels, String le, double value) {
        out.append(name);
        Map<String, String> sorted = new TreeMap<>(labels);
        if (le != null) {
            sorted.put("le", le);
        }
        if (!sorted.isEmpty()) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<String, String> label : sorted.entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                out.append(label.getKey()).append("=\"").append(escapeLabel(label.getValue())).append('"');
            }
            out.append('}');
        }
        out.append(' ').append(number(value)).append('\n');
    }

    /** @return a sample value as the format spells it: integers without a fraction, and NaN, +Inf, -Inf */
    static String number(double value) {
        if (Double.isNaN(value)) {
            return "NaN";
        }
        if (Double.isInfinite(value)) {
            return value > 0 ? "+Inf" : "-Inf";
        }
        if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            return Long.toString((long) value);
        }
        return Double.toString(value);
    }

    /** Label values escape backslash, double quote and line feed. */
    static String escapeLabel(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    /** Help text escapes backslash and line feed. */
    static String escapeHelp(String help) {
        return help.replace("\\", "\\\\").replace("\n", "\\n");
    }
}
