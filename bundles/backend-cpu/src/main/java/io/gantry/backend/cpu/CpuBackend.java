package io.gantry.backend.cpu;

import io.gantry.api.backend.AttentionBatch;
import io.gantry.api.backend.DeviceBackend;
import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.KvPool;
import io.gantry.api.backend.KvPoolSpec;
import io.gantry.api.backend.RopeSpec;
import io.gantry.api.backend.TensorType;
import io.gantry.api.plugin.InFlightGate;
import io.gantry.api.plugin.PluginProperties;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntConsumer;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The {@code cpu} device: runs a transformer's operations on the host CPU with Vector API kernels (any
 * SIMD width from 128 to 512 bits: NEON, AVX2, AVX-512, SVE) and scalar fallbacks.
 *
 * <p>Weights stay in the model file's mapping (the vector kernels multiply F16, Q8_0, Q4_0 and Q4_K ones from a
 * repacked copy off the heap, see {@link PackedWeight}); activations and the KV pool are F32 heap arrays. Operations
 * run synchronously on the calling thread and a fixed pool of worker threads created at activation.
 *
 * <p>As a Declarative Services component it is configured under PID {@code io.gantry.backend.cpu}
 * ({@link Config}); a configuration change restarts it. It also works without OSGi:
 * {@code new CpuBackend(threads, true)}, then {@link #close()}.
 */
@Component(service = DeviceBackend.class, configurationPid = CpuBackend.PID, property = {
        PluginProperties.NAME + "=cpu",
        PluginProperties.DESCRIPTION + "=Vector API kernels on the host CPU (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)"})
@Designate(ocd = CpuBackend.Config.class)
public final class CpuBackend implements DeviceBackend, AutoCloseable {

    /** The configuration PID. */
    public static final String PID = "io.gantry.backend.cpu";

    /** The component's configuration. */
    @ObjectClassDefinition(name = "Gantry CPU backend",
            description = "Runs transformer operations on the host CPU with Vector API kernels.")
    public @interface Config {
        /** @return threads that compute, the engine's own included; 0 for every available processor */
        @AttributeDefinition(name = "Threads",
                description = "Threads that compute, the engine's own included; 0 uses every available processor.")
        int threads() default 0;

        /** @return whether to run the Vector API kernels */
        @AttributeDefinition(name = "Vector kernels",
                description = "Run the Vector API kernels; false runs the scalar kernels (slow; for diagnosis).")
        boolean vectorKernels() default true;
    }

    private static final System.Logger LOG = System.getLogger(CpuBackend.class.getName());
    private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(30);
    /** Below this many elements an elementwise operation runs on the calling thread: waking workers costs more. */
    /** Every element type a {@link KvPoolSpec} allows. */
    private static final Set<TensorType> KV_TYPES = Set.of(TensorType.F32, TensorType.F16);
    private static final int PARALLEL_MIN_ELEMENTS = 1 << 15;

    private final boolean vector;
    private final WorkerPool workers;
    private final Matmul matmul;
    private final InFlightGate inFlight = new InFlightGate();
    private final Set<Allocation> liveAllocations = ConcurrentHashMap.newKeySet();
    private final Map<RopeSpec, RopeTable> ropeTables = new ConcurrentHashMap<>();
    private final String description;

    /**
     * The DS constructor.
     *
     * @param config the configuration
     */
    @Activate
    public CpuBackend(Config config) {
        this(config.threads() > 0 ? config.threads() : Runtime.getRuntime().availableProcessors(),
                config.vectorKernels());
        LOG.log(System.Logger.Level.INFO, "CPU backend started: {0}", description);
    }

    /**
     * @param threads       threads that compute, the caller included; at least 1
     * @param vectorKernels whether to run the Vector API kernels (ignored where the platform's vectors are
     *                      narrower than 128 bits: the scalar kernels run there)
     */
    public CpuBackend(int threads, boolean vectorKernels) {
        this.vector = vectorKernels && Simd.AVAILABLE;
        this.workers = new WorkerPool(threads, "gantry-cpu-");
        this.matmul = new Matmul(workers);
        this.description = cpuModel() + ", " + threads + (threads == 1 ? " thread, " : " threads, ")
                + (vector ? Simd.F.vectorBitSize() + "-bit vector kernels" : "scalar kernels") + ", "
                + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB heap";
    }

    /** Waits for calls inside to finish, then stops the worker threads and frees every pool and buffer. */
    @Deactivate
    void deactivate() {
        close();
    }

    /** Drains, then frees: see {@link #deactivate()}. Idempotent. */
    @Override
    public void close() {
        if (!inFlight.close(DRAIN_TIMEOUT)) {
            LOG.log(System.Logger.Level.WARNING, "CPU backend closing with {0} calls still inside after {1}",
                    inFlight.inFlight(), DRAIN_TIMEOUT);
        }
        workers.close();
        for (Allocation allocation : List.copyOf(liveAllocations)) {
            allocation.release();
        }
        ropeTables.clear();
    }

    @Override
    public String deviceId() {
        return "cpu";
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public Set<TensorType> supportedTypes() {
        return Collections.unmodifiableSet(EnumSet.allOf(TensorType.class));
    }

    /**
     * {@inheritDoc}
     *
     * <p>The weight keeps referring to {@code tensor.data()}, which must stay mapped while the weight is used (a
     * F16, Q8_0, Q4_0 or Q4_K weight is also repacked off the heap, in a pass over its bytes on the workers)
     * and be accessible from any thread (a shared, global or automatic arena). An F16 weight holding an infinity
     * or a NaN is refused (the vector kernels decode only finite halves exactly; no valid model holds others),
     * which costs one pass over its bytes.
     */
    @Override
    public DeviceWeight upload(HostTensor tensor) {
        enter();
        try {
            if (!workers.canAccess(tensor.data())) {
                throw new IllegalArgumentException("Tensor " + tensor.name() + " lives in memory confined to one "
                        + "thread; the CPU backend's workers need a shared, global or automatic arena");
            }
            String unsupported = vector ? TensorFormat.of(tensor.type()).unsupportedContent(tensor.data(),
                    (long) tensor.rows() * tensor.cols()) : null;
            if (unsupported != null) {
                throw new IllegalArgumentException("Tensor " + tensor.name() + " (" + tensor.type()
                        + ") cannot be used: " + unsupported + "; the model file is corrupt");
            }
            PackedWeight packed = PackedWeight.pack(tensor, vector, workers);
            CpuWeight weight = new CpuWeight(this, tensor, packed);
            if (packed != null) {
                liveAllocations.add(weight);
            }
            return weight;
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public DeviceBuffer allocate(int rows, int cols) {
        enter();
        try {
            if (rows < 1 || cols < 1) {
                throw new IllegalArgumentException("A buffer needs at least one row and column, got " + rows + "x"
                        + cols);
            }
            if ((long) rows * cols > Integer.MAX_VALUE - 8) {
                throw new OutOfMemoryError("A buffer of " + rows + "x" + cols + " floats exceeds a Java array");
            }
            CpuBuffer buffer = new CpuBuffer(this, rows, cols);
            liveAllocations.add(buffer);
            return buffer;
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public Set<TensorType> kvTypes() {
        return KV_TYPES;
    }

    @Override
    public KvPool allocateKvPool(KvPoolSpec spec) {
        enter();
        try {
            CpuKvPool kv = new CpuKvPool(this, spec);
            liveAllocations.add(kv);
            return kv;
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public void embed(DeviceBuffer out, DeviceWeight table, int[] tokens, int rows) {
        enter();
        try {
            CpuWeight weights = weight(table);
            float[] o = data(out, rows, weights.cols(), "embed output");
            if (tokens.length < rows) {
                throw new IllegalArgumentException("embed needs " + rows + " tokens, got " + tokens.length);
            }
            for (int r = 0; r < rows; r++) {
                if (tokens[r] < 0 || tokens[r] >= weights.rows()) {
                    throw new IllegalArgumentException("Token " + tokens[r] + " is outside the embedding table "
                            + weights);
                }
            }
            int cols = weights.cols();
            // Decoded by the scalar decoders, which the vector matmuls never run: see CpuWeight.decoded.
            forEachRow(rows, cols, r -> weights.format().dequantize(weights.data(), tokens[r] * weights.rowBytes(),
                    o, r * cols, cols, false));
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public void rmsNorm(DeviceBuffer out, DeviceBuffer in, DeviceWeight weight, float eps, int rows) {
        enter();
        try {
            float[] w = vectorOf(weight, in.cols());
            float[] i = data(in, rows, w.length, "rmsNorm input");
            float[] o = data(out, rows, w.length, "rmsNorm output");
            int cols = w.length;
            forEachRow(rows, cols, r -> RowOps.rmsNorm(o, r * cols, i, r * cols, w, eps, cols, vector));
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public void matmul(DeviceBuffer out, DeviceWeight weight, DeviceBuffer in, int rows) {
        enter();
        try {
            CpuWeight w = weight(weight);
            float[] i = data(in, rows, w.cols(), "matmul input of " + w);
            float[] o = data(out, rows, w.rows(), "matmul output of " + w);
            if (i == o) {
                throw new IllegalArgumentException("matmul cannot write its input buffer");
            }
            if (rows > 0) {
                matmul.multiply(w, i, o, rows, vector);
            }
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public void addBias(DeviceBuffer out, DeviceWeight bias, int rows) {
        enter();
        try {
            float[] b = vectorOf(bias, out.cols());
            float[] o = data(out, rows, b.length, "addBias output");
            int cols = b.length;
            forEachRow(rows, cols, r -> RowOps.add(o, r * cols, b, 0, cols, vector));
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public void rope(DeviceBuffer x, int heads, AttentionBatch batch, RopeSpec rope) {
        enter();
        try {
            BatchRows rows = BatchRows.of(batch);
            int cols = x.cols();
            if (heads < 1 || cols % heads != 0 || cols / heads < rope.rotaryDims()) {
                throw new IllegalArgumentException("rope: rows of " + cols + " elements do not split into " + heads
                        + " heads of at least " + rope.rotaryDims() + " rotary dimensions");
            }
            float[] data = data(x, rows.rows(), cols, "rope input");
            int headDim = cols / heads;
            RopeTable table = ropeTables.compute(rope,
                    (spec, existing) -> RopeTable.covering(existing, spec, rows.maxPosition()));
            forEachRow(rows.rows(), cols, r -> {
                for (int h = 0; h < heads; h++) {
                    table.rotate(data, r * cols + h * headDim, rows.position()[r]);
                }
            });
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public void storeKv(KvPool pool, int layer, DeviceBuffer k, DeviceBuffer v, AttentionBatch batch) {
        enter();
        try {
            CpuKvPool kv = kvPool(pool, layer);
            BatchRows rows = BatchRows.of(batch);
            int headDim = kv.spec().headDim();
            int kvHeads = kv.spec().kvHeads();
            int capacity = kv.spec().capacitySlots();
            int cols = kvHeads * headDim;
            float[] keys = data(k, rows.rows(), cols, "storeKv keys");
            float[] values = data(v, rows.rows(), cols, "storeKv values");
            int[] slots = new int[rows.rows()];
            for (int r = 0; r < rows.rows(); r++) {
                slots[r] = SequenceSlots.slot(batch, rows.sequence()[r], rows.position()[r], capacity);
            }
            workers.run(kvHeads, (h, worker) -> {
                for (int r = 0; r < slots.length; r++) {
                    kv.store(layer, h, slots[r], keys, values, r * cols + h * headDim);
                }
            });
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public void attention(DeviceBuffer out, DeviceBuffer q, int heads, KvPool pool, int layer, AttentionBatch batch) {
        enter();
        try {
            CpuKvPool kv = kvPool(pool, layer);
            BatchRows rows = BatchRows.of(batch);
            if (heads < 1 || heads % kv.spec().kvHeads() != 0) {
                throw new IllegalArgumentException("attention: " + heads + " query heads are not a multiple of the "
                        + "pool's " + kv.spec().kvHeads() + " KV heads");
            }
            int cols = heads * kv.spec().headDim();
            float[] queries = data(q, rows.rows(), cols, "attention queries");
            float[] o = data(out, rows.rows(), cols, "attention output");
            Attention.run(workers, o, queries, heads, kv, layer, batch, rows, vector);
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public void swiglu(DeviceBuffer out, DeviceBuffer gate, DeviceBuffer up, int rows) {
        enter();
        try {
            int cols = out.cols();
            float[] o = data(out, rows, cols, "swiglu output");
            float[] g = data(gate, rows, cols, "swiglu gate");
            float[] u = data(up, rows, cols, "swiglu up");
            forEachRow(rows, cols, r -> RowOps.swiglu(o, g, u, r * cols, cols, vector));
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public void add(DeviceBuffer acc, DeviceBuffer in, int rows) {
        enter();
        try {
            int cols = acc.cols();
            float[] a = data(acc, rows, cols, "add accumulator");
            float[] i = data(in, rows, cols, "add input");
            forEachRow(rows, cols, r -> RowOps.add(a, r * cols, i, r * cols, cols, vector));
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public void gatherRows(DeviceBuffer out, DeviceBuffer in, int[] sourceRows, int count) {
        enter();
        try {
            int cols = in.cols();
            float[] o = data(out, count, cols, "gatherRows output");
            float[] i = data(in, 0, cols, "gatherRows input");
            if (sourceRows.length < count) {
                throw new IllegalArgumentException("gatherRows needs " + count + " source rows, got "
                        + sourceRows.length);
            }
            for (int r = 0; r < count; r++) {
                if (sourceRows[r] < 0 || sourceRows[r] >= in.capacityRows()) {
                    throw new IllegalArgumentException("gatherRows: source row " + sourceRows[r] + " is outside the "
                            + in.capacityRows() + " rows of the input");
                }
                System.arraycopy(i, sourceRows[r] * cols, o, r * cols, cols);
            }
        } finally {
            inFlight.exit();
        }
    }

    @Override
    public void read(DeviceBuffer in, int rows, float[] destination) {
        enter();
        try {
            float[] i = data(in, rows, in.cols(), "read source");
            int count = rows * in.cols();
            if (destination.length < count) {
                throw new IllegalArgumentException("read: " + count + " floats do not fit a destination of "
                        + destination.length);
            }
            System.arraycopy(i, 0, destination, 0, count);
        } finally {
            inFlight.exit();
        }
    }

    /** Every operation completes before it returns, so there is nothing to wait for. */
    @Override
    public void synchronize() {
        enter();
        inFlight.exit();
    }

    @Override
    public String toString() {
        return "CpuBackend[" + description + "]";
    }

    /** Memory this backend hands out and frees on {@link #close()} if its holder has not. */
    interface Allocation {
        /** Frees the memory; idempotent. */
        void release();
    }

    /** Called by an allocation of this backend when it is released. */
    void forget(Allocation allocation) {
        liveAllocations.remove(allocation);
    }

    private void enter() {
        if (!inFlight.tryEnter()) {
            throw new IllegalStateException("The CPU backend has been closed");
        }
    }

    /** Runs {@code body} for each row: on the workers, one task per row, when there is enough work to share. */
    private void forEachRow(int rows, int cols, IntConsumer body) {
        if (rows > 1 && (long) rows * cols >= PARALLEL_MIN_ELEMENTS) {
            workers.run(rows, (row, worker) -> body.accept(row));
        } else {
            for (int r = 0; r < rows; r++) {
                body.accept(r);
            }
        }
    }

    private CpuWeight weight(DeviceWeight weight) {
        if (weight instanceof CpuWeight w && w.owner() == this) {
            return w;
        }
        throw new IllegalArgumentException("Weight " + weight.name() + " was not uploaded to this CPU backend");
    }

    /** @return a one-row weight decoded to floats (norm weights and biases), not to be written to */
    private float[] vectorOf(DeviceWeight weight, int cols) {
        CpuWeight w = weight(weight);
        if (w.rows() != 1 || w.cols() != cols) {
            throw new IllegalArgumentException("Expected a vector of " + cols + " elements, got " + w);
        }
        return w.decoded();
    }

    /** @return the buffer's floats, after checking that it has {@code cols} columns and at least {@code rows} rows */
    private float[] data(DeviceBuffer buffer, int rows, int cols, String role) {
        if (!(buffer instanceof CpuBuffer b) || b.owner() != this) {
            throw new IllegalArgumentException("The " + role + " buffer was not allocated by this CPU backend");
        }
        if (b.cols() != cols || rows < 0 || rows > b.capacityRows()) {
            throw new IllegalArgumentException("The " + role + " buffer holds " + b.capacityRows() + "x" + b.cols()
                    + " floats; the operation needs " + rows + "x" + cols);
        }
        return b.data();
    }

    private CpuKvPool kvPool(KvPool pool, int layer) {
        if (!(pool instanceof CpuKvPool kv) || kv.owner() != this) {
            throw new IllegalArgumentException("The KV pool was not allocated by this CPU backend");
        }
        if (layer < 0 || layer >= kv.spec().layers()) {
            throw new IllegalArgumentException("Layer " + layer + " is outside the KV pool's " + kv.spec().layers());
        }
        return kv;
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                    .filter(line -> line.startsWith("model name"))
                    .map(line -> line.substring(line.indexOf(':') + 1).trim())
                    .findFirst().orElse(System.getProperty("os.arch"));
        } catch (IOException | RuntimeException e) {
            return System.getProperty("os.arch");
        }
    }
}
