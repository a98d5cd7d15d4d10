package io.gantry.cli;

import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.synth.ModelQuantizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code gantry model quantize}: converts a model's matrices to another format. */
@Command(name = "quantize", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = {
            "Converts every matrix of a model file (F32, F16 or BF16) to another format with ggml's reference "
                + "quantizers; one-dimensional tensors (norms) stay as they are. q4_k_m is llama.cpp's mix: Q4_K, "
                + "and Q6_K for the output matrix and for attn_v and ffn_down in half the layers. Matrices whose "
                + "rows are not whole blocks of their format stay in their own format, and are listed."})
final class QuantizeCommand implements Callable<Integer> {

    @Spec
    private CommandSpec spec;

    @Option(names = "--input", required = true, paramLabel = "FILE", description = "The model to convert, e.g. an F16 file.")
    private Path input;

    @Option(names = "--type", required = true, paramLabel = "TYPE",
            description = "Format of the matrices: ${COMPLETION-CANDIDATES}.")
    private WeightType type;

    @Mixin
    private OutputOption output;

    @Mixin
    private ThreadsOption threads;

    @Override
    public Integer call() throws IOException {
        Path outputPath = output.path();
        long start = System.nanoTime();
        ModelQuantizer.Result result;
        try (GgufFile file = GgufFile.open(input)) {
            result = ModelQuantizer.quantize(file, type.fileType(), outputPath, threads.threads());
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println("Wrote " + result.written().path() + ": " + result.converted() + " matrices converted to " + type
                + ", " + Units.count(result.written().parameters()) + " parameters, "
                + Units.bytes(result.written().fileBytes()) + ", in " + Units.seconds((System.nanoTime() - start) / 1e9));
        if (!result.keptAsInSource().isEmpty()) {
            out.println("Kept in their own format (rows are not whole blocks of their " + type + " format): "
                    + String.join(", ", result.keptAsInSource()));
        }
        out.flush();
        return 0;
    }
}
