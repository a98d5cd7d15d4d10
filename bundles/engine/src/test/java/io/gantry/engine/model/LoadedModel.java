package io.gantry.engine.model;

import io.gantry.api.backend.TensorType;
import io.gantry.backend.cpu.CpuBackend;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.tokenizer.Tokenizer;
import io.gantry.engine.tokenizer.Tokenizers;

import java.io.IOException;
import java.nio.file.Path;

/** A GGUF model loaded onto a fresh CPU backend, for tests; closing frees everything in the right order. */
final class LoadedModel implements AutoCloseable {

    final GgufFile file;
    final ModelConfig config;
    final CpuBackend backend;
    final ModelWeights weights;
    final Tokenizer tokenizer;

    private LoadedModel(GgufFile file, CpuBackend backend) {
        this.file = file;
        this.backend = backend;
        this.config = ModelConfig.fromGguf(file);
        this.weights = ModelWeights.upload(file, config, backend);
        this.tokenizer = file.has("tokenizer.ggml.model") ? Tokenizers.fromGguf(file) : null;
    }

    static LoadedModel open(Path path) throws IOException {
        GgufFile file = GgufFile.open(path);
        CpuBackend backend = new CpuBackend(2, true);
        try {
            return new LoadedModel(file, backend);
        } catch (RuntimeException e) {
            backend.close();
            file.close();
            throw e;
        }
    }

    Transformer transformer(int maxRows, int maxSequences, int kvSlots) {
        return new Transformer(weights, maxRows, maxSequences, kvSlots);
    }

    Transformer transformer(int maxRows, int maxSequences, int kvSlots, TensorType kvType) {
        return new Transformer(weights, maxRows, maxSequences, kvSlots, kvType);
    }

    @Override
    public void close() {
        weights.close();
        backend.close();
        file.close();
    }
}
