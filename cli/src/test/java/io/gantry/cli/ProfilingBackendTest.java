package io.gantry.cli;

import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import io.gantry.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code bench-model --profile}: every operation passes through to the backend and is counted where it ran. */
class ProfilingBackendTest {

    @TempDir
    Path folder;

    @Test
    void operationsGiveTheBackendsResultsAndAreCountedPerWeightAndRows() {
        try (Arena arena = Arena.ofConfined(); CpuBackend cpu = new CpuBackend(1, true)) {
            ProfilingBackend profiling = new ProfilingBackend(cpu);
            MemorySegment data = arena.allocate(4L * 6 * 16, 4);
            MemorySegment table = arena.allocate(4L * 3 * 16, 4);
            for (int i = 0; i < 6 * 16; i++) {
                data.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (i % 7 - 3) / 8f);
            }
            for (int i = 0; i < 3 * 16; i++) {
                table.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (i % 5 - 2) / 4f);
            }
            DeviceWeight weight = profiling.upload(new HostTensor("blk.3.attn_q.weight", TensorType.F32, 6, 16, data));
            DeviceWeight embeddings = profiling.upload(new HostTensor("token_embd.weight", TensorType.F32, 3, 16,
                    table));
            DeviceBuffer in = profiling.allocate(2, 16);
            DeviceBuffer out = profiling.allocate(2, 6);
            profiling.embed(in, embeddings, new int[] {2, 0}, 2);
            profiling.matmul(out, weight, in, 2);
            profiling.matmul(out, weight, in, 2);
            float[] profiled = new float[12];
            profiling.read(out, 2, profiled);

            DeviceBuffer bareOut = cpu.allocate(2, 6);
            cpu.matmul(bareOut, weight, in, 2);
            float[] bare = new float[12];
            cpu.read(bareOut, 2, bare);
            assertArrayEquals(bare, profiled, 0f);

            List<ProfilingBackend.Operation> operations = profiling.profile().operations();
            assertEquals(List.of("embed, 2 rows", "matmul attn_q.weight [6x16 F32], 2 rows", "read, 2 rows"),
                    operations.stream().map(ProfilingBackend.Operation::name).sorted().toList());
            ProfilingBackend.Operation matmul = operations.stream().filter(o -> o.name().startsWith("matmul"))
                    .findFirst().orElseThrow();
            assertEquals(2, matmul.calls());
            assertEquals(2 * 2.0 * 2 * 6 * 16, matmul.flops(), 0);
            assertEquals(2 * 4.0 * 6 * 16, matmul.bytes(), 0);
            assertTrue(matmul.nanos() > 0);

            profiling.reset();
            assertEquals(List.of(), profiling.profile().operations());
        }
    }

    @Test
    void benchModelPrintsAProfilePerTest() {
        Path model = Cli.tinyModel(folder, "q8_0");
        Cli.Run run = Cli.run("bench-model", "--model", model.toString(), "--threads", "1", "--repetitions", "2",
                "--prompt", "8", "--gen", "4", "--batches", "3", "--profile");
        assertEquals(0, run.exitCode(), run.toString());
        String out = run.out();
        assertTrue(out.contains("Profile of pp8 (2 runs): calls and ms per run:"), out);
        assertTrue(out.contains("Profile of tg4 (2 runs of 4 decode steps): calls and ms per decode step:"), out);
        assertTrue(out.contains("Profile of tg4 @ b3 (2 runs of 4 decode steps): calls and ms per decode step:"), out);
        // The tiny model has two layers: each decode step multiplies by each layer's query weight once, by the
        // output weight once.
        assertEquals("2", callsOf(out, "tg4 @ b3", "matmul attn_q.weight [64x64 Q8_0], 3 rows"));
        assertEquals("1", callsOf(out, "tg4 @ b3", "matmul output.weight [" ));
        assertEquals("2", callsOf(out, "tg4 (", "attention, 1 row of 1 sequence"));
        assertTrue(out.contains("| between operations (host code: batching, sampling) |"), out);
    }

    /** @return the calls column of the first row starting with {@code operation} in the profile of {@code test} */
    private static String callsOf(String out, String test, String operation) {
        String profile = out.substring(out.indexOf("Profile of " + test));
        Matcher row = Pattern.compile("(?m)^\\| " + Pattern.quote(operation) + "[^|]*\\| (\\S+) \\|").matcher(profile);
        assertTrue(row.find(), operation + " in " + profile);
        return row.group(1);
    }
}
