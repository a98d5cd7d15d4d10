package io.gantry.engine.serving;

import io.gantry.api.backend.KvPoolSpec;
import io.gantry.api.backend.TensorType;
import io.gantry.api.inference.ModelInfo;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.GgufTensorInfo;
import io.gantry.engine.model.ModelConfig;
import io.gantry.engine.tokenizer.Tokenizer;
import io.gantry.engine.tokenizer.Tokenizers;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;

/**
 * A model file opened for serving: its configuration, tokenizer and the id clients use. The weights stay in
 * the file's mapping until a step loop uploads them to a backend; the file stays open until {@link #close()}.
 */
final class ServingModel implements AutoCloseable {

    private final String id;
    private final GgufFile file;
    private final ModelConfig config;
    private final Tokenizer tokenizer;
    private final ModelInfo info;

    private ServingModel(String id, GgufFile file) {
        this.id = id;
        this.file = file;
        this.config = ModelConfig.fromGguf(file);
        this.tokenizer = Tokenizers.fromGguf(file);
        long parameters = 0;
        for (GgufTensorInfo tensor : file.tensorInfos()) {
            parameters += tensor.elementCount();
        }
        this.info = new ModelInfo(id, config.architecture().ggufName(), config.contextLength(),
                config.vocabularySize(), parameters, Instant.now().getEpochSecond());
    }

    /**
     * @param id   the id clients use, or {@code null} for the file name without {@code .gguf}
     * @param path the GGUF file
     * @return the opened model
     * @throws IOException if the file cannot be read or is not a model Gantry can serve (the message says why)
     */
    static ServingModel open(String id, Path path) throws IOException {
        GgufFile file = GgufFile.open(path);
        try {
            String name = path.getFileName().toString();
            return new ServingModel(id != null && !id.isBlank() ? id
                    : name.endsWith(".gguf") ? name.substring(0, name.length() - 5) : name, file);
        } catch (RuntimeException e) {
            file.close();
            throw new IOException("Cannot serve " + path + ": " + e.getMessage(), e);
        }
    }

    String id() {
        return id;
    }

    GgufFile file() {
        return file;
    }

    ModelConfig config() {
        return config;
    }

    Tokenizer tokenizer() {
        return tokenizer;
    }

    ModelInfo info() {
        return info;
    }

    /**
     * @param bytes        memory for the pool
     * @param maxSequences the most sequences that run together
     * @param kvType       the pool's element type
     * @return token slots of a KV pool in {@code bytes} (keys and values of every layer per slot), but no more
     *         than twice what {@code maxSequences} sequences of the full context fill (the rest is room for
     *         cached prefixes)
     */
    int kvSlots(long bytes, int maxSequences, TensorType kvType) {
        long slots = Math.min(bytes / kvBytesPerSlot(kvType), 2L * maxSequences * config.contextLength());
        return (int) Math.min(slots, Integer.MAX_VALUE - 8);
    }

    /** @return the bytes one token slot of a KV pool of {@code kvType} takes: keys and values of every layer */
    long kvBytesPerSlot(TensorType kvType) {
        return KvPoolSpec.slotBytes(config.blockCount(), config.kvLength(), kvType);
    }

    @Override
    public void close() {
        file.close();
    }
}
