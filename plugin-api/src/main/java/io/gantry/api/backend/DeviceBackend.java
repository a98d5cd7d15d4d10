package io.gantry.api.backend;

import java.util.Set;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * One compute device ({@code cpu}, {@code cuda:0}): owns its memory and runs the operations a transformer
 * is made of. The engine writes each architecture once against these operations.
 *
 * <p><b>Shapes:</b> activations are F32 {@link DeviceBuffer}s of rows by columns, one row per token of
 * the step. Every operation takes the number of leading rows to use. Weights are {@link DeviceWeight}s:
 * {@code W} has {@code rows} outputs and {@code cols} inputs, and {@code matmul} computes
 * {@code out[r] = W · in[r]} for each row.
 *
 * <p><b>Who calls it:</b> the engine's step loop, one step at a time, from one thread; operations may
 * run asynchronously on the device, in call order, until {@link #read} or {@link #synchronize()}.
 * A backend may use its own worker threads inside an operation.
 *
 * <p><b>Lifecycle:</b> a DS component registered with {@code gantry.plugin.name}. The engine uploads
 * weights and allocates buffers and the pool after binding it, and releases them before it lets go of
 * it. On deactivation a backend first waits for calls inside it to finish (see
 * {@link io.gantry.api.plugin.InFlightGate}), then frees every resource it still holds and stops its
 * threads. A backend that cannot start (no device, no driver) does not register its service and logs
 * why in one line.
 */
@ConsumerType
public interface DeviceBackend {

    /** @return the device id, e.g. {@code cpu} or {@code cuda:0} */
    String deviceId();

    /** @return a one-line description: device model, memory, threads */
    String description();

    /** @return the weight formats this backend can {@link #upload} and multiply */
    Set<TensorType> supportedTypes();

    /**
     * Makes a weight available on the device. A host backend may keep referring to the mapped file.
     *
     * @param tensor the weight as found in the model file
     * @return the device's handle for it
     * @throws UnsupportedOperationException if the tensor's type is not supported
     */
    DeviceWeight upload(HostTensor tensor);

    /**
     * @param rows most rows the buffer will hold
     * @param cols elements per row
     * @return a new zero-filled F32 activation buffer
     */
    DeviceBuffer allocate(int rows, int cols);

    /**
     * @return the element types a KV pool of this backend can hold, {@link TensorType#F32} always; the engine
     *         takes {@link TensorType#F16} where offered unless configured otherwise
     */
    default Set<TensorType> kvTypes() {
        return Set.of(TensorType.F32);
    }

    /**
     * @param spec the pool's shape and element type, one of {@link #kvTypes()}
     * @return a new KV pool
     * @throws OutOfMemoryError if the device cannot hold it
     * @throws IllegalArgumentException if the element type is not one of {@link #kvTypes()}
     */
    KvPool allocateKvPool(KvPoolSpec spec);

    /** Copies rows of the embedding table: {@code out[r] = table[tokens[r]]} for {@code rows} rows. */
    void embed(DeviceBuffer out, DeviceWeight table, int[] tokens, int rows);

    /** {@code out[r] = in[r] / rms(in[r]) * weight}, with {@code rms = sqrt(mean(x²) + eps)}. */
    void rmsNorm(DeviceBuffer out, DeviceBuffer in, DeviceWeight weight, float eps, int rows);

    /** {@code out[r] = W · in[r]} for {@code rows} rows; reads each weight block once for all rows. */
    void matmul(DeviceBuffer out, DeviceWeight weight, DeviceBuffer in, int rows);

    /** {@code out[r] += bias} for {@code rows} rows ({@code bias} is a 1-row weight). */
    void addBias(DeviceBuffer out, DeviceWeight bias, int rows);

    /**
     * Rotates the heads of {@code x} in place by each row's position.
     *
     * @param x      rows of {@code heads * headDim} elements
     * @param heads  heads per row
     * @param batch  gives each row's position
     * @param rope   how to rotate
     */
    void rope(DeviceBuffer x, int heads, AttentionBatch batch, RopeSpec rope);

    /**
     * Writes each row's key and value into the slot its position maps to, for one layer.
     *
     * @param pool  the KV pool
     * @param layer the layer
     * @param k     rows of {@code kvHeads * headDim} keys
     * @param v     rows of as many values
     * @param batch rows, positions and block tables
     */
    void storeKv(KvPool pool, int layer, DeviceBuffer k, DeviceBuffer v, AttentionBatch batch);

    /**
     * Causal attention for one layer over the KV pool: each row's query heads attend to its sequence's
     * positions up to and including its own, reading K and V through the block table. Query head
     * {@code h} uses KV head {@code h / (heads / kvHeads)} (grouped-query attention).
     *
     * @param out   rows of {@code heads * headDim}: the attention output
     * @param q     rows of {@code heads * headDim}: the queries, already rotated
     * @param heads query heads
     * @param pool  the KV pool, with this step's keys and values already stored
     * @param layer the layer
     * @param batch rows, positions and block tables
     */
    void attention(DeviceBuffer out, DeviceBuffer q, int heads, KvPool pool, int layer, AttentionBatch batch);

    /** {@code out[r] = silu(gate[r]) * up[r]} elementwise for {@code rows} rows. */
    void swiglu(DeviceBuffer out, DeviceBuffer gate, DeviceBuffer up, int rows);

    /** {@code acc[r] += in[r]} for {@code rows} rows (the residual connection). */
    void add(DeviceBuffer acc, DeviceBuffer in, int rows);

    /**
     * Copies chosen rows: {@code out[i] = in[sourceRows[i]]} for {@code i < count}; used to keep only the
     * rows whose logits are needed.
     */
    void gatherRows(DeviceBuffer out, DeviceBuffer in, int[] sourceRows, int count);

    /**
     * Copies the first {@code rows} rows to the host, waiting for queued work to finish.
     *
     * @param in          the buffer
     * @param rows        leading rows to copy
     * @param destination at least {@code rows * in.cols()} floats, row after row
     */
    void read(DeviceBuffer in, int rows, float[] destination);

    /** Waits until all queued operations have finished. */
    void synchronize();
}
