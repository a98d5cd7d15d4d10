package io.gantry.engine.model;

import io.gantry.api.backend.AttentionBatch;
import io.gantry.api.backend.DeviceBackend;
import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.KvPool;
import io.gantry.api.backend.KvPoolSpec;
import io.gantry.api.backend.TensorType;
import io.gantry.api.backend.RopeSpec;

import java.util.ArrayList;
import java.util.List;

/**
 * The llama-family transformer, written once against {@link DeviceBackend} operations: pre-norm blocks of
 * grouped-query attention with RoPE and a SwiGLU feed-forward network. The families differ only in data (QKV
 * biases present or not, the RoPE style), so there is no per-architecture code.
 *
 * <p>{@link #forward} runs one engine step for several sequences at once: prefill chunks and single decode
 * tokens share every matmul, and attention keeps them apart through per-sequence block tables.
 *
 * <p><b>Lifecycle and threading:</b> the constructor allocates activation buffers for {@code maxRows} tokens per
 * step and a KV pool of {@code kvSlots} token slots on the weights' backend; {@link #close()} releases them (not
 * the weights, which the caller owns). One step at a time, from one thread: not thread-safe.
 */
public final class Transformer implements AutoCloseable {

    private final ModelConfig config;
    private final ModelWeights weights;
    private final DeviceBackend backend;
    private final RopeSpec rope;
    private final int maxRows;
    private final int maxSequences;
    private final KvPool kvPool;
    private final List<DeviceBuffer> buffers = new ArrayList<>();
    /** The residual stream. */
    private final DeviceBuffer x;
    /** Normalised input of a sub-layer, then its output before the residual add. */
    private final DeviceBuffer xb;
    private final DeviceBuffer q;
    private final DeviceBuffer k;
    private final DeviceBuffer v;
    private final DeviceBuffer attention;
    private final DeviceBuffer gate;
    private final DeviceBuffer up;
    private final DeviceBuffer logits;
    private final float[] hostLogits;

    /**
     * @param weights      the model, uploaded to the backend this transformer runs on
     * @param maxRows      the most tokens one step feeds
     * @param maxSequences the most sequences one step asks logits for (at most {@code maxRows})
     * @param kvSlots      token slots of the KV pool (F32), shared by all sequences through their block tables
     * @throws OutOfMemoryError if the device cannot hold the buffers or the pool
     */
    public Transformer(ModelWeights weights, int maxRows, int maxSequences, int kvSlots) {
        this(weights, maxRows, maxSequences, kvSlots, TensorType.F32);
    }

    /**
     * @param weights      the model, uploaded to the backend this transformer runs on
     * @param maxRows      the most tokens one step feeds
     * @param maxSequences the most sequences one step asks logits for (at most {@code maxRows})
     * @param kvSlots      token slots of the KV pool, shared by all sequences through their block tables
     * @param kvType       the KV pool's element type where the backend offers it ({@link #kvType})
     * @throws OutOfMemoryError if the device cannot hold the buffers or the pool
     */
    public Transformer(ModelWeights weights, int maxRows, int maxSequences, int kvSlots, TensorType kvType) {
        if (maxSequences < 1 || maxRows < maxSequences) {
            throw new IllegalArgumentException("Need 1 <= maxSequences <= maxRows, got " + maxSequences + " and "
                    + maxRows);
        }
        this.config = weights.config();
        this.weights = weights;
        this.backend = weights.backend();
        this.rope = config.rope();
        this.maxRows = maxRows;
        this.maxSequences = maxSequences;
        int vocabulary = config.vocabularySize();
        try {
            x = buffer(maxRows, config.embeddingLength());
            xb = buffer(maxRows, config.embeddingLength());
            q = buffer(maxRows, config.queryLength());
            k = buffer(maxRows, config.kvLength());
            v = buffer(maxRows, config.kvLength());
            attention = buffer(maxRows, config.queryLength());
            gate = buffer(maxRows, config.feedForwardLength());
            up = buffer(maxRows, config.feedForwardLength());
            logits = buffer(maxSequences, vocabulary);
            kvPool = backend.allocateKvPool(new KvPoolSpec(config.blockCount(), config.headCountKv(),
                    config.headDim(), kvSlots, kvType(backend, kvType)));
        } catch (RuntimeException | Error e) {
            buffers.forEach(DeviceBuffer::release);
            throw e;
        }
        hostLogits = new float[Math.multiplyExact(maxSequences, vocabulary)];
    }

    private DeviceBuffer buffer(int rows, int cols) {
        DeviceBuffer buffer = backend.allocate(rows, cols);
        buffers.add(buffer);
        return buffer;
    }

    /**
     * Runs one step: every token of the batch goes through the model, its keys and values are stored in the KV
     * pool at its sequence's positions, and logits are computed for the rows that asked for them.
     *
     * @param batch the step
     * @return logits, {@link ModelConfig#vocabularySize()} floats per requested row, rows in the order
     *         {@link StepBatch#add} returned; an array this transformer reuses, valid until the next call
     * @throws IllegalArgumentException if the batch exceeds this transformer's limits or holds an unknown token
     */
    public float[] forward(StepBatch batch) {
        int rows = batch.rows();
        if (rows == 0 || rows > maxRows || batch.logitCount() > maxSequences) {
            throw new IllegalArgumentException("A step of " + rows + " rows and " + batch.logitCount()
                    + " logit rows does not fit this transformer's " + maxRows + " rows and " + maxSequences);
        }
        int[] tokens = batch.tokens();
        for (int r = 0; r < rows; r++) {
            if (tokens[r] < 0 || tokens[r] >= config.vocabularySize()) {
                throw new IllegalArgumentException("Token " + tokens[r] + " is outside the vocabulary of "
                        + config.vocabularySize());
            }
        }
        AttentionBatch positions = batch.attention();
        float eps = config.rmsEps();
        backend.embed(x, weights.tokenEmbedding(), tokens, rows);
        List<ModelWeights.Layer> layers = weights.layers();
        for (int l = 0; l < layers.size(); l++) {
            ModelWeights.Layer layer = layers.get(l);
            backend.rmsNorm(xb, x, layer.attentionNorm(), eps, rows);
            backend.matmul(q, layer.query(), xb, rows);
            backend.matmul(k, layer.key(), xb, rows);
            backend.matmul(v, layer.value(), xb, rows);
            if (layer.queryBias() != null) {
                backend.addBias(q, layer.queryBias(), rows);
            }
            if (layer.keyBias() != null) {
                backend.addBias(k, layer.keyBias(), rows);
            }
            if (layer.valueBias() != null) {
                backend.addBias(v, layer.valueBias(), rows);
            }
            backend.rope(q, config.headCount(), positions, rope);
            backend.rope(k, config.headCountKv(), positions, rope);
            backend.storeKv(kvPool, l, k, v, positions);
            backend.attention(attention, q, config.headCount(), kvPool, l, positions);
            backend.matmul(xb, layer.attentionOut(), attention, rows);
            backend.add(x, xb, rows);

            backend.rmsNorm(xb, x, layer.ffnNorm(), eps, rows);
            backend.matmul(gate, layer.gate(), xb, rows);
            backend.matmul(up, layer.up(), xb, rows);
            // In place into gate: elementwise, and it spares a buffer as large as the two inputs.
            backend.swiglu(gate, gate, up, rows);
            backend.matmul(xb, layer.down(), gate, rows);
            backend.add(x, xb, rows);
        }
        int count = batch.logitCount();
        if (count == 0) {
            return hostLogits;
        }
        // Only the rows to sample reach the final norm and the vocabulary-wide matmul, the largest of a step.
        // x is free once the last block has run, so it takes the normalised rows.
        backend.gatherRows(xb, x, batch.logitRows(), count);
        backend.rmsNorm(x, xb, weights.outputNorm(), eps, count);
        backend.matmul(logits, weights.output(), x, count);
        backend.read(logits, count, hostLogits);
        return hostLogits;
    }

    /** @return the model's configuration */
    public ModelConfig config() {
        return config;
    }

    /** @return the most tokens one step may feed */
    public int maxRows() {
        return maxRows;
    }

    /** @return the most sequences one step may ask logits for */
    public int maxSequences() {
        return maxSequences;
    }

    /** @return token slots in the KV pool */
    public int kvSlots() {
        return kvPool.spec().capacitySlots();
    }

    /** @return the KV pool's shape and element type */
    public KvPoolSpec kvPoolSpec() {
        return kvPool.spec();
    }

    /**
     * @param backend the backend the pool lives on
     * @param wanted  the element type asked for, F16 or F32
     * @return {@code wanted} if the backend's pools can hold it, else F32 (which every backend's can)
     */
    public static TensorType kvType(DeviceBackend backend, TensorType wanted) {
        return backend.kvTypes().contains(wanted) ? wanted : TensorType.F32;
    }

    /** Releases the activation buffers and the KV pool. Idempotent. */
    @Override
    public void close() {
        buffers.forEach(DeviceBuffer::release);
        kvPool.release();
    }
}
