package io.gantry.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchModelCommandTest {

    @TempDir
    Path folder;

    @Test
    void printsALlamaBenchStyleTableAndTheMemoryItUsed() {
        Path model = Cli.tinyModel(folder, "q8_0");
        Cli.Run run = Cli.run("bench-model", "--model", model.toString(), "--threads", "2", "--repetitions", "1",
                "--prompt", "8", "--gen", "4", "--batches", "1,3");
        assertEquals(0, run.exitCode(), run.toString());
        List<String> lines = run.out().lines().toList();
        assertEquals("| model | size | params | backend | threads | test | t/s |", lines.get(0));
        List<String> tests = List.of("pp8", "tg4", "tg4 @ b1", "tg4 @ b3");
        for (int i = 0; i < tests.size(); i++) {
            String row = lines.get(2 + i);
            assertTrue(row.matches("\\| llama-64x2 Q8_0 \\| [0-9.]+ MiB \\| 0\\.[0-9]+ M \\| cpu \\| 2 \\| "
                    + tests.get(i).replace(" ", "\\s") + " \\| [0-9.]+ ± 0\\.00 \\|"), row);
        }
        assertTrue(run.out().lines().anyMatch(line -> line.matches("Every test ran untimed until a run passed in "
                + "which the JIT compiler finished no compilation \\(untimed runs: pp8 [0-9]+, tg4 [0-9]+, "
                + "tg4 @ b1 [0-9]+, tg4 @ b3 [0-9]+\\), then 1 time timed: .*")), run.out());
        assertTrue(run.out().lines().anyMatch(line -> line.matches("Decode steps read [0-9.]+ MiB of weights each "
                + "\\(every tensor but the token embeddings\\), so the weights were read at: tg4 [0-9.]+ GB/s, "
                + "tg4 @ b1 [0-9.]+ GB/s, tg4 @ b3 [0-9.]+ GB/s\\.")), run.out());
        assertTrue(run.out().contains("Backend: cpu, "), run.out());
        assertTrue(run.out().contains("(F16, in native memory, off the Java heap)"), run.out());
        assertTrue(run.out().contains("KV pool: 48 slots"), "3 sequences of 8 + 4 tokens, 16-slot blocks: "
                + run.out());
        assertTrue(run.out().contains("Java heap after the model loaded: peak used "), run.out());
        assertTrue(run.out().contains(", live after a final GC "), run.out());
    }
}
