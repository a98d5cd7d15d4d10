package io.gantry.api.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MetricFamilyTest {

    private static final Map<String, String> LABELS = Map.of("model_name", "m");

    @Test
    void namesFollowThePrometheusSyntax() {
        new MetricFamily("gantry:prompt_tokens_total", "help", MetricType.COUNTER, List.of());
        assertThrows(IllegalArgumentException.class,
                () -> new MetricFamily("gantry prompt", "help", MetricType.COUNTER, List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> new MetricFamily("9lives", "help", MetricType.GAUGE, List.of()));
    }

    @Test
    void histogramsHoldDistributionsAndTheOthersValues() {
        MetricSample.Value value = new MetricSample.Value(LABELS, 1);
        MetricSample.Distribution distribution = new MetricSample.Distribution(LABELS, new double[] {0.1, 1},
                new long[] {1, 2}, 0.6, 3);
        assertThrows(IllegalArgumentException.class,
                () -> new MetricFamily("a", "help", MetricType.HISTOGRAM, List.of(value)));
        assertThrows(IllegalArgumentException.class,
                () -> new MetricFamily("a", "help", MetricType.GAUGE, List.of(distribution)));
        assertEquals(1, new MetricFamily("a", "help", MetricType.HISTOGRAM, List.of(distribution)).samples().size());
    }

    @Test
    void distributionsAreCumulativeOverIncreasingBounds() {
        assertThrows(IllegalArgumentException.class,
                () -> new MetricSample.Distribution(LABELS, new double[] {1, 0.1}, new long[] {1, 2}, 0, 2));
        assertThrows(IllegalArgumentException.class,
                () -> new MetricSample.Distribution(LABELS, new double[] {0.1, 1}, new long[] {2, 1}, 0, 2));
        assertThrows(IllegalArgumentException.class,
                () -> new MetricSample.Distribution(LABELS, new double[] {0.1, 1}, new long[] {1, 2}, 0, 1));
        assertThrows(IllegalArgumentException.class,
                () -> new MetricSample.Distribution(LABELS, new double[] {0.1}, new long[] {1, 2}, 0, 2));
    }
}
