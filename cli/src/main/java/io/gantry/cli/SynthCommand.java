package io.gantry.cli;

import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.synth.LlamaShape;
import io.gantry.engine.synth.ModelSynthesizer;
import io.gantry.engine.synth.WrittenModel;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code gantry model synth}: writes a random-weight llama model by the benchmark recipe. */
@Command(name = "synth", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = {
            "Writes a random-weight llama model by the benchmark recipe: vocabulary, scores and token types copied "
                + "from a tokenizer GGUF; every matrix drawn from N(0, 1/cols), rounded to F16 and stored in the "
                + "chosen format; norms 1 (F32); rope.freq_base 10000, rms_eps 1e-5; token_embd and output separate.",
            "The same seed gives the same file, and a quantized model is byte for byte the f16 model of that seed "
                + "put through 'gantry model quantize'."})
final class SynthCommand implements Callable<Integer> {

    @Spec
    private CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    private Shape shape;

    @Option(names = "--vocab-from", paramLabel = "FILE",
            description = "GGUF file whose tokenizer.* metadata the model gets (default: " + VocabularyLocator.FILE_NAME
                    + " under models/vocab/ or shared/models/vocab/ of this folder or one above it).")
    private Path vocabularyFile;

    @Option(names = "--type", required = true, paramLabel = "TYPE",
            description = "Format of the matrices: ${COMPLETION-CANDIDATES}.")
    private WeightType type;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "Random seed (default: ${DEFAULT-VALUE}).")
    private long seed;

    @Option(names = "--name", paramLabel = "NAME",
            description = "The model's general.name (default: the preset's name, else llama-DIMxLAYERS).")
    private String name;

    @Mixin
    private OutputOption output;

    @Mixin
    private ThreadsOption threads;

    /** A preset, or every dimension. */
    static final class Shape {
        @Option(names = "--preset", required = true, paramLabel = "NAME",
                description = "A benchmark shape: bench-110m (dim 768, 12 layers, 12 heads, ffn 2048) or bench-1b "
                        + "(dim 2048, 16 layers, 32 heads, 8 KV heads, ffn 8192); context 4096.")
        private String preset;

        @ArgGroup(exclusive = false)
        private Dimensions dimensions;
    }

    /** The dimensions of a shape that is not a preset. */
    static final class Dimensions {
        @Option(names = "--dim", required = true, paramLabel = "N", description = "Embedding length.")
        private int dim;

        @Option(names = "--layers", required = true, paramLabel = "N", description = "Transformer blocks.")
        private int layers;

        @Option(names = "--heads", required = true, paramLabel = "N", description = "Query heads.")
        private int heads;

        @Option(names = "--kv-heads", paramLabel = "N", description = "Key/value heads (default: --heads).")
        private Integer kvHeads;

        @Option(names = "--ffn", required = true, paramLabel = "N", description = "Feed-forward length.")
        private int ffn;

        @Option(names = "--context", paramLabel = "N", defaultValue = "4096",
                description = "Context length (default: ${DEFAULT-VALUE}).")
        private int context;
    }

    @Override
    public Integer call() throws IOException {
        LlamaShape llama = shape();
        Path vocabularyPath = vocabularyPath();
        Path outputPath = output.path();
        ModelSynthesizer.Spec synthesis;
        try {
            synthesis = new ModelSynthesizer.Spec(modelName(llama), llama, type.fileType(), seed);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        long start = System.nanoTime();
        WrittenModel written;
        try (GgufFile vocabulary = GgufFile.open(vocabularyPath)) {
            written = ModelSynthesizer.write(synthesis, vocabulary, outputPath, threads.threads());
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println("Wrote " + written.path() + ": " + synthesis.name() + ", llama " + llama + ", "
                + Units.count(written.parameters()) + " parameters, " + type + ", " + Units.bytes(written.fileBytes())
                + ", seed " + seed + ", in " + Units.seconds((System.nanoTime() - start) / 1e9));
        out.flush();
        return 0;
    }

    private LlamaShape shape() {
        if (shape.preset != null) {
            return LlamaShape.preset(shape.preset).orElseThrow(() -> new ParameterException(spec.commandLine(),
                    "unknown preset '" + shape.preset + "' (presets: " + String.join(", ", LlamaShape.PRESETS.keySet())
                            + ")"));
        }
        Dimensions d = shape.dimensions;
        try {
            return new LlamaShape(d.dim, d.layers, d.heads, d.kvHeads != null ? d.kvHeads : d.heads, d.ffn, d.context);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }

    private String modelName(LlamaShape llama) {
        if (name != null) {
            return name;
        }
        return shape.preset != null ? shape.preset : "llama-" + llama.embeddingLength() + "x" + llama.blockCount();
    }

    private Path vocabularyPath() {
        if (vocabularyFile == null) {
            Path here = Path.of("");
            return VocabularyLocator.find(here)
                    .orElseThrow(() -> new ParameterException(spec.commandLine(), VocabularyLocator.notFound(here)));
        }
        if (!Files.isRegularFile(vocabularyFile)) {
            throw new ParameterException(spec.commandLine(), "--vocab-from " + vocabularyFile + ": no such file");
        }
        return vocabularyFile;
    }
}
