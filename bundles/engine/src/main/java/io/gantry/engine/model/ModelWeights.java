package io.gantry.engine.model;

import io.gantry.api.backend.DeviceBackend;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.GgufFormatException;

import java.util.ArrayList;
import java.util.List;

/**
 * Every weight of a model, uploaded once to one {@link DeviceBackend}, with llama.cpp's tensor names.
 *
 * <p><b>Lifecycle:</b> {@link #upload} checks each tensor's presence and shape against the {@link ModelConfig}
 * and uploads it; {@link #close()} releases them all. A host backend may keep reading the file's mapping, so
 * the {@link GgufFile} must stay open until the weights are closed. Immutable otherwise; the handles are used
 * by whoever drives the backend (one thread at a time, as the backend requires).
 */
public final class ModelWeights implements AutoCloseable {

    /**
     * One transformer block's weights. The biases are {@code null} where the model has none.
     *
     * @param attentionNorm RMSNorm weight before attention
     * @param query         Q projection, {@code queryLength x embeddingLength}
     * @param key           K projection, {@code kvLength x embeddingLength}
     * @param value         V projection, {@code kvLength x embeddingLength}
     * @param queryBias     Q bias or {@code null}
     * @param keyBias       K bias or {@code null}
     * @param valueBias     V bias or {@code null}
     * @param attentionOut  output projection, {@code embeddingLength x queryLength}
     * @param ffnNorm       RMSNorm weight before the feed-forward network
     * @param gate          SwiGLU gate, {@code feedForwardLength x embeddingLength}
     * @param up            SwiGLU up, {@code feedForwardLength x embeddingLength}
     * @param down          SwiGLU down, {@code embeddingLength x feedForwardLength}
     */
    public record Layer(DeviceWeight attentionNorm, DeviceWeight query, DeviceWeight key, DeviceWeight value,
            DeviceWeight queryBias, DeviceWeight keyBias, DeviceWeight valueBias, DeviceWeight attentionOut,
            DeviceWeight ffnNorm, DeviceWeight gate, DeviceWeight up, DeviceWeight down) {
    }

    private final ModelConfig config;
    private final DeviceBackend backend;
    private final DeviceWeight tokenEmbedding;
    private final DeviceWeight outputNorm;
    private final DeviceWeight output;
    private final List<Layer> layers;
    private final List<DeviceWeight> uploaded;

    private ModelWeights(ModelConfig config, DeviceBackend backend, DeviceWeight tokenEmbedding,
            DeviceWeight outputNorm, DeviceWeight output, List<Layer> layers, List<DeviceWeight> uploaded) {
        this.config = config;
        this.backend = backend;
        this.tokenEmbedding = tokenEmbedding;
        this.outputNorm = outputNorm;
        this.output = output;
        this.layers = List.copyOf(layers);
        this.uploaded = List.copyOf(uploaded);
    }

    /**
     * Uploads a model's weights. The output projection is {@code token_embd.weight} itself when the file has no
     * {@code output.weight} (tied embeddings). On failure, whatever was uploaded is released again.
     *
     * @param file    the open model file; keep it open until {@link #close()}
     * @param config  the configuration read from it
     * @param backend where to upload
     * @return the uploaded weights
     * @throws GgufFormatException naming the file and the tensor, if one is missing or has the wrong shape
     * @throws UnsupportedOperationException if the backend does not support a tensor's type
     */
    public static ModelWeights upload(GgufFile file, ModelConfig config, DeviceBackend backend) {
        Uploader up = new Uploader(file, backend);
        try {
            int dim = config.embeddingLength();
            int ffn = config.feedForwardLength();
            DeviceWeight embedding = up.weight("token_embd.weight", config.vocabularySize(), dim);
            DeviceWeight outputNorm = up.weight("output_norm.weight", 1, dim);
            DeviceWeight output = file.hasTensor("output.weight")
                    ? up.weight("output.weight", config.vocabularySize(), dim)
                    : embedding;
            List<Layer> layers = new ArrayList<>(config.blockCount());
            boolean biasRequired = config.architecture().qkvBias();
            for (int i = 0; i < config.blockCount(); i++) {
                String b = "blk." + i + ".";
                layers.add(new Layer(
                        up.weight(b + "attn_norm.weight", 1, dim),
                        up.weight(b + "attn_q.weight", config.queryLength(), dim),
                        up.weight(b + "attn_k.weight", config.kvLength(), dim),
                        up.weight(b + "attn_v.weight", config.kvLength(), dim),
                        up.bias(b + "attn_q.bias", config.queryLength(), biasRequired),
                        up.bias(b + "attn_k.bias", config.kvLength(), biasRequired),
                        up.bias(b + "attn_v.bias", config.kvLength(), biasRequired),
                        up.weight(b + "attn_output.weight", dim, config.queryLength()),
                        up.weight(b + "ffn_norm.weight", 1, dim),
                        up.weight(b + "ffn_gate.weight", ffn, dim),
                        up.weight(b + "ffn_up.weight", ffn, dim),
                        up.weight(b + "ffn_down.weight", dim, ffn)));
            }
            return new ModelWeights(config, backend, embedding, outputNorm, output, layers, up.uploaded);
        } catch (RuntimeException | Error e) {
            up.uploaded.forEach(DeviceWeight::release);
            throw e;
        }
    }

    /** @return the configuration the weights were checked against */
    public ModelConfig config() {
        return config;
    }

    /** @return the backend that holds them */
    public DeviceBackend backend() {
        return backend;
    }

    /** @return the token embedding table, {@code vocabularySize x embeddingLength} */
    public DeviceWeight tokenEmbedding() {
        return tokenEmbedding;
    }

    /** @return the final RMSNorm weight */
    public DeviceWeight outputNorm() {
        return outputNorm;
    }

    /** @return the projection to logits; the same handle as {@link #tokenEmbedding()} when tied */
    public DeviceWeight output() {
        return output;
    }

    /** @return the blocks, first to last */
    public List<Layer> layers() {
        return layers;
    }

    /** Releases every weight on the device. Idempotent. */
    @Override
    public void close() {
        uploaded.forEach(DeviceWeight::release);
    }

    /** Checks shapes before uploading, and remembers what it uploaded so that a failure can undo it. */
    private static final class Uploader {
        private final GgufFile file;
        private final DeviceBackend backend;
        private final List<DeviceWeight> uploaded = new ArrayList<>();

        Uploader(GgufFile file, DeviceBackend backend) {
            this.file = file;
            this.backend = backend;
        }

        DeviceWeight weight(String name, int rows, int cols) {
            HostTensor tensor = file.tensor(name);
            if (tensor.rows() != rows || tensor.cols() != cols) {
                throw new GgufFormatException(file.name(), "tensor '" + name + "' has " + tensor.rows() + " rows of "
                        + tensor.cols() + " but the model's metadata needs " + rows + " rows of " + cols);
            }
            DeviceWeight weight = backend.upload(tensor);
            uploaded.add(weight);
            return weight;
        }

        /** Biases are optional in llama files (some fine-tunes add them), required where the family has them. */
        DeviceWeight bias(String name, int length, boolean required) {
            return required || file.hasTensor(name) ? weight(name, 1, length) : null;
        }
    }
}
