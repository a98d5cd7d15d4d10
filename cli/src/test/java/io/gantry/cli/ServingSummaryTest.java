package io.gantry.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gantry.cli.RequestRecord.TokenCount;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.EnumSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The metric definitions, against results worked out by hand. */
class ServingSummaryTest {

    private static final double EXACT = 1e-12;

    private static RequestRecord ok(int index, int inputTokens, int outputTokens, TokenCount from, double ttft,
                                    double e2e, double... itl) {
        return new RequestRecord(index, 0, null, 200, inputTokens, outputTokens, from, itl.length + 1, ttft, e2e, itl);
    }

    @Test
    void percentilesInterpolateBetweenTheClosestRanks() {
        double[] sorted = {1, 2, 3, 4};
        assertEquals(1, ServingSummary.percentile(sorted, 0), EXACT);
        assertEquals(2.5, ServingSummary.percentile(sorted, 50), EXACT);
        // rank 0.95 * 3 = 2.85: 3 + 0.85 * (4 - 3)
        assertEquals(3.85, ServingSummary.percentile(sorted, 95), EXACT);
        assertEquals(3.97, ServingSummary.percentile(sorted, 99), EXACT);
        assertEquals(4, ServingSummary.percentile(sorted, 100), EXACT);
        assertEquals(7, ServingSummary.percentile(new double[] {7}, 99), EXACT);
        assertTrue(Double.isNaN(ServingSummary.percentile(new double[0], 50)));

        ServingSummary.Distribution distribution = ServingSummary.Distribution.of(new double[] {4, 1, 3, 2});
        assertEquals(2.5, distribution.mean(), EXACT);
        assertEquals(2.5, distribution.median(), EXACT);
        assertEquals(Math.sqrt(1.25), distribution.std(), EXACT, "population deviation: (2.25+.25+.25+2.25)/4");
        assertEquals(3.85, distribution.p95(), EXACT);
    }

    @Test
    void summarisesTheSuccessfulRequestsOverTheRunsWallTime() {
        List<RequestRecord> records = List.of(
                ok(0, 10, 5, TokenCount.USAGE, 0.1, 0.5, 0.1, 0.1, 0.1, 0.1),
                ok(1, 12, 1, TokenCount.CHUNKS, 0.2, 0.2),
                RequestRecord.failed(2, 0.3, "HTTP 500: busy", 500, 0),
                ok(3, 20, 4, TokenCount.USAGE, 0.3, 0.9, 0.2, 0.2, 0.2));
        ServingSummary summary = ServingSummary.of(records, 2.0);

        assertEquals(3, summary.completed());
        assertEquals(1, summary.failed());
        assertEquals(42, summary.inputTokens());
        assertEquals(10, summary.outputTokens());
        assertEquals(1.5, summary.requestThroughput(), EXACT);
        assertEquals(5, summary.outputThroughput(), EXACT);
        assertEquals(26, summary.totalTokenThroughput(), EXACT);
        assertEquals(EnumSet.allOf(TokenCount.class), summary.outputTokensFrom());

        // TTFT 0.1, 0.2, 0.3: rank 0.95 * 2 = 1.9 gives 0.2 + 0.9 * 0.1.
        assertEquals(0.2, summary.ttft().mean(), EXACT);
        assertEquals(0.2, summary.ttft().median(), EXACT);
        assertEquals(Math.sqrt(0.02 / 3), summary.ttft().std(), EXACT);
        assertEquals(0.29, summary.ttft().p95(), EXACT);
        assertEquals(0.298, summary.ttft().p99(), EXACT);
        // TPOT (0.5 - 0.1) / 4 and (0.9 - 0.3) / 3; the one-token request has none.
        assertEquals(2, summary.tpot().count());
        assertEquals(0.15, summary.tpot().mean(), EXACT);
        assertEquals(0.195, summary.tpot().p95(), EXACT);
        // ITL pooled: four gaps of 0.1 and three of 0.2.
        assertEquals(7, summary.itl().count());
        assertEquals(1.0 / 7, summary.itl().mean(), EXACT);
        assertEquals(0.1, summary.itl().median(), EXACT);
        assertEquals(0.2, summary.itl().p99(), EXACT);
        // E2E 0.2, 0.5, 0.9.
        assertEquals(1.6 / 3, summary.e2e().mean(), EXACT);
        assertEquals(0.5, summary.e2e().median(), EXACT);
        assertEquals(0.86, summary.e2e().p95(), EXACT);
    }

    @Test
    void leavesOutWhatIsNotKnown() {
        List<RequestRecord> records = List.of(ok(0, -1, 1, TokenCount.CHUNKS, 0.25, 0.25),
                RequestRecord.failed(1, 0, "stream broken", 200, 3));
        ServingSummary summary = ServingSummary.of(records, 0.5);
        assertEquals(-1, summary.inputTokens(), "one successful request's prompt tokens are unknown");
        assertTrue(Double.isNaN(summary.totalTokenThroughput()));
        assertEquals(0, summary.tpot().count());
        assertTrue(Double.isNaN(summary.tpot().mean()) && Double.isNaN(summary.itl().p99()));

        ObjectNode json = new ObjectMapper().createObjectNode();
        summary.writeTo(json);
        assertTrue(json.get("total_input_tokens").isNull() && json.get("mean_tpot_ms").isNull(), json.toString());
        assertEquals(250, json.get("mean_ttft_ms").asDouble(), 1e-9);
        assertEquals(2, json.get("request_throughput").asDouble(), EXACT);
        assertEquals("chunks", json.get("output_tokens_counted_from").asText());

        StringWriter table = new StringWriter();
        summary.print(new PrintWriter(table), List.<String[]>of(new String[] {"Maximum request concurrency:", "1"}));
        assertTrue(table.toString().contains("Mean TPOT (ms):                          -\n"), table.toString());
        assertTrue(table.toString().contains("Mean TTFT (ms):                          250.00\n"), table.toString());
        assertTrue(table.toString().contains("-----Time per Output Token (excl. 1st token)------"), table.toString());
    }
}
