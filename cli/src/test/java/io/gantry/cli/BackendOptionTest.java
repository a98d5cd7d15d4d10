package io.gantry.cli;

import io.gantry.backend.cuda.CudaBackend;
import io.gantry.engine.gguf.GgufTensorInfo;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code --backend}: where CUDA cannot start, every command that runs a model fails with the backend's one line. */
class BackendOptionTest {

    @TempDir
    Path folder;

    private static void assumeNoCuda() {
        try (CudaBackend cuda = CudaBackend.start(0, false)) {
            Assumptions.abort("CUDA starts here (" + cuda.description() + "); the failure path cannot be observed");
        } catch (IllegalStateException expected) {
            // the situation under test
        }
    }

    @Test
    void cudaFailsWithTheBackendsReasonWhereItCannotStart() {
        assumeNoCuda();
        Path model = Cli.tinyModel(folder, "q8_0");
        for (String[] args : new String[][] {
            {"generate", "--model", model.toString(), "--prompt", "x", "--max-tokens", "2", "--backend", "cuda"},
            {"bench-model", "--model", model.toString(), "--repetitions", "1", "--backend", "CUDA"},
            {"bench", "compare", "--model", model.toString(), "--requests", "1", "--backend", "cuda", "--output",
                folder.resolve("report").toString()}}) {
            Cli.Run run = Cli.run(args);
            assertEquals(Main.FAILED, run.exitCode(), run.toString());
            String command = args[0].equals("bench") ? "gantry bench compare" : "gantry " + args[0];
            assertTrue(run.err().startsWith(command + ": CUDA backend unavailable: "), run.err());
            assertEquals(1, run.err().lines().count(), "one line, no stack trace: " + run.err());
            assertEquals("", run.out());
        }
    }

    @Test
    void anUnknownBackendIsAUsageError() {
        Cli.Run run = Cli.run("bench-model", "--model", "m.gguf", "--backend", "tpu");
        assertEquals(2, run.exitCode(), run.toString());
        assertTrue(run.err().contains("Invalid value for option '--backend': expected one of [CPU, CUDA]"), run.err());
    }

    @Test
    void decodeStepsReadEveryWeightButTheTokenEmbeddings() throws IOException {
        Path path = Cli.tinyModel(folder, "f16");
        BackendOption cpu = new BackendOption();
        try (LoadedModel model = LoadedModel.open(path, cpu, 1)) {
            long embeddings = model.file.tensorInfos().stream().filter(t -> t.name().equals("token_embd.weight"))
                    .mapToLong(GgufTensorInfo::byteSize).sum();
            assertTrue(embeddings > 0);
            assertFalse(model.file.tensorInfos().stream().noneMatch(t -> t.name().equals("output.weight")));
            assertEquals(model.tensorBytes() - embeddings, model.decodeWeightBytes());
        }
    }
}
