package io.gantry.cli.compare;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Percentiles as numpy.percentile computes them by default (linear interpolation between ranks). */
class LatencySummaryTest {

    private static final double EXACT = 1e-12;

    @Test
    void interpolatesLinearlyBetweenRanksLikeNumpy() {
        double[] sorted = {15, 20, 35, 40, 50};
        // numpy.percentile([15, 20, 35, 40, 50], [0, 40, 50, 95, 100]) == [15, 29, 35, 48, 50]
        assertEquals(15, LatencySummary.percentile(sorted, 0), EXACT);
        assertEquals(29, LatencySummary.percentile(sorted, 40), EXACT);
        assertEquals(35, LatencySummary.percentile(sorted, 50), EXACT);
        assertEquals(48, LatencySummary.percentile(sorted, 95), EXACT);
        assertEquals(50, LatencySummary.percentile(sorted, 100), EXACT);
    }

    @Test
    void summarisesUnsortedValues() {
        LatencySummary summary = LatencySummary.of(new double[] {4, 1, 3, 2});
        assertEquals(4, summary.count());
        assertEquals(2.5, summary.mean(), EXACT);
        assertEquals(2.5, summary.p50(), EXACT);
        assertEquals(3.85, summary.p95(), EXACT);
        assertEquals(3.97, summary.p99(), EXACT);
        LatencySummary inMs = summary.scaled(1000);
        assertEquals(3970, inMs.p99(), 1e-9);
        assertEquals(4, inMs.count());
    }

    @Test
    void oneValueIsEveryPercentileAndNoneIsNaN() {
        LatencySummary one = LatencySummary.of(new double[] {0.25});
        assertEquals(0.25, one.p50());
        assertEquals(0.25, one.p99());
        LatencySummary none = LatencySummary.of(new double[0]);
        assertEquals(0, none.count());
        assertTrue(Double.isNaN(none.mean()) && Double.isNaN(none.p50()) && Double.isNaN(none.p95()));
        assertThrows(IllegalArgumentException.class, () -> LatencySummary.percentile(new double[] {1}, 101));
    }
}
