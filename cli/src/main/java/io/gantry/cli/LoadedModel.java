package io.gantry.cli;

import io.gantry.api.backend.TensorType;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.GgufFormatException;
import io.gantry.engine.gguf.GgufTensorInfo;
import io.gantry.engine.model.ModelConfig;
import io.gantry.engine.model.ModelWeights;
import io.gantry.engine.synth.FileType;

import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A model file mapped and its weights uploaded to a backend of its own (the CPU's or a GPU's); closing releases them
 * in order.
 */
final class LoadedModel implements AutoCloseable {

    private static final String TOKEN_EMBEDDINGS = "token_embd.weight";
    private static final String OUTPUT = "output.weight";
    private static final String FILE_TYPE = "general.file_type";

    final GgufFile file;
    final ModelConfig config;
    final BackendOption.Started backend;
    final ModelWeights weights;
    /** Seconds the loading took. */
    final double loadSeconds;

    private LoadedModel(GgufFile file, ModelConfig config, BackendOption.Started backend, ModelWeights weights, double seconds) {
        this.file = file;
        this.config = config;
        this.backend = backend;
        this.weights = weights;
        this.loadSeconds = seconds;
    }

    /**
     * @throws IOException                  if the file cannot be read
     * @throws GgufFormatException          if it is not a model Gantry can run
     * @throws UnsupportedOperationException if the backend does not support one of its tensor types
     * @throws BackendOption.BackendUnavailableException if the backend cannot start here
     */
    static LoadedModel open(Path path, BackendOption backendOption, int threads) throws IOException {
        return open(path, () -> backendOption.start(threads));
    }

    /**
     * @param backendStarter starts the backend the weights go to, once the file has been read
     * @throws IOException                  if the file cannot be read
     * @throws GgufFormatException          if it is not a model Gantry can run
     * @throws UnsupportedOperationException if the backend does not support one of its tensor types
     * @throws BackendOption.BackendUnavailableException if the backend cannot start here
     */
    static LoadedModel open(Path path, Supplier<BackendOption.Started> backendStarter) throws IOException {
        long start = System.nanoTime();
        GgufFile file = GgufFile.open(path);
        BackendOption.Started backend = null;
        try {
            ModelConfig config = ModelConfig.fromGguf(file);
            backend = backendStarter.get();
            ModelWeights weights = ModelWeights.upload(file, config, backend.device());
            return new LoadedModel(file, config, backend, weights, (System.nanoTime() - start) / 1e9);
        } catch (RuntimeException e) {
            if (backend != null) {
                backend.close();
            }
            file.close();
            throw e;
        }
    }

    /** @return the weights in all tensors */
    long parameters() {
        return file.tensorInfos().stream().mapToLong(GgufTensorInfo::elementCount).sum();
    }

    /** @return the bytes of all tensors' data */
    long tensorBytes() {
        return file.tensorInfos().stream().mapToLong(GgufTensorInfo::byteSize).sum();
    }

    /**
     * @return the bytes of weights a decode step reads: every tensor but the token embeddings, of which a step reads
     *         one row a token (unless the model has no output matrix and uses them as its own)
     */
    long decodeWeightBytes() {
        boolean ownOutput = file.tensorInfos().stream().anyMatch(info -> info.name().equals(OUTPUT));
        return file.tensorInfos().stream().filter(info -> !(ownOutput && info.name().equals(TOKEN_EMBEDDINGS)))
                .mapToLong(GgufTensorInfo::byteSize).sum();
    }

    /** @return the format that holds the most weights: the one a model is known by (Q8_0 for a Q8_0 model with F32 norms) */
    TensorType mainType() {
        Map<TensorType, Long> weightsByType = new EnumMap<>(TensorType.class);
        for (GgufTensorInfo info : file.tensorInfos()) {
            weightsByType.merge(info.type(), info.elementCount(), Long::sum);
        }
        return weightsByType.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
    }

    /**
     * @return the model's {@code general.name}, or its file name where it has none, and its file type as llama.cpp
     *         names it ({@code Q4_K - Medium}), or its main type where the file type is not one Gantry writes
     */
    String label() {
        String fileName = Path.of(file.name()).getFileName().toString();
        // Only a label: a file type that is no integer falls back to the main type rather than failing the load.
        String type = file.value(FILE_TYPE).filter(value -> value.value() instanceof Long)
                .flatMap(value -> FileType.ofNumber((Long) value.value())).map(FileType::label)
                .orElseGet(() -> mainType().name());
        return file.getString("general.name", fileName.replaceFirst("\\.gguf$", "")) + " " + type;
    }

    /** @return one line about the model and where it runs */
    String summary() {
        return label() + ": " + config.architecture().ggufName() + ", " + Units.count(parameters()) + " parameters, "
                + Units.bytes(tensorBytes()) + ", loaded in " + Units.seconds(loadSeconds) + " on "
                + backend.device().description();
    }

    @Override
    public void close() {
        weights.close();
        backend.close();
        file.close();
    }
}
