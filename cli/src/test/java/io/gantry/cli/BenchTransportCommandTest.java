package io.gantry.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/** {@code gantry bench transport} end to end on stories260K, with small counts. */
class BenchTransportCommandTest {

    @Test
    void measuresTheOverheadTheCacheHitsAndTheIdleStreams() {
        Path model = Cli.sharedModel("stories260K.gguf");
        Cli.Run run = Cli.run("bench", "transport", "--model", model.toString(), "--requests", "2", "--max-tokens",
                "8", "--cache-requests", "20", "--idle-streams", "30", "--probes", "2", "--threads", "2");
        assertEquals(0, run.exitCode(), run.toString());
        String out = run.out();
        assertTrue(out.contains("(a) HTTP overhead, 2 streaming requests each way"), out);
        // Both ways generate the same tokens: 2 requests of 8 (ignore_eos).
        assertTrue(Pattern.compile("REST API \\(SSE on loopback\\)\\s+16 ").matcher(out).find(), out);
        assertTrue(Pattern.compile("InferenceService.submit directly\\s+16 ").matcher(out).find(), out);
        assertTrue(out.contains("HTTP / direct: "), out);
        assertTrue(out.contains("(b) Response-cache hits over HTTP, 20 sequential requests"), out);
        assertTrue(Pattern.compile("p50 [0-9.]+ ms\\s+p95 [0-9.]+ ms\\s+p99 [0-9.]+ ms").matcher(out).find(), out);
        Matcher idle = Pattern.compile("with 30 idle streams \\((\\d+) admitted").matcher(out);
        assertTrue(idle.find(), out);
        assertTrue(Integer.parseInt(idle.group(1)) > 0, "idle streams were admitted: " + out);
        assertTrue(out.contains("with idle streams"), out);
    }

    @Test
    void unknownPartsAreAUsageError() {
        Cli.Run run = Cli.run("bench", "transport", "--model", "x.gguf", "--parts", "overhead,speed");
        assertEquals(2, run.exitCode(), run.toString());
        assertTrue(run.err().contains("--parts takes overhead, cache and idle, not 'speed'"), run.err());
    }
}
