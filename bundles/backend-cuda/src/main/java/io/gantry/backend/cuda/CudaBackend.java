package io.gantry.backend.cuda;

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
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import jcuda.CudaException;
import jcuda.driver.CUdeviceptr;

/**
 * The {@code cuda:N} device: weights, activations and the KV pool (F32) live in GPU memory and every operation
 * is a kernel from {@code gantry_kernels.cu}. Operations are queued on the device in call order and return
 * before they finish; {@link #read} and {@link #synchronize()} wait. A failing driver call surfaces as an
 * {@link IllegalStateException} naming the operation; since kernels run asynchronously, a fault inside one may
 * be reported by a later operation, unless {@code checkEachOperation} synchronises after every one.
 *
 * <p>Made by {@link CudaBackendComponent} when CUDA starts, or directly with {@link #open(int, boolean)} (tests,
 * tools); {@link #close()} drains the calls inside, frees every allocation and releases the context.
 */
public final class CudaBackend implements DeviceBackend, AutoCloseable {

    private static final System.Logger LOG = System.getLogger(CudaBackend.class.getName());
    private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(30);
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final CudaDevice device;
    private final boolean checkEachOperation;
    private final InFlightGate inFlight = new InFlightGate();
    private final Set<CudaMemory> live = ConcurrentHashMap.newKeySet();
    private final Map<RopeSpec, CUdeviceptr> ropeFrequencies = new ConcurrentHashMap<>();
    private final DeviceInts layoutInts = new DeviceInts("attention batch layout");
    private final DeviceInts tokenInts = new DeviceInts("embed tokens");
    private final DeviceInts gatherInts = new DeviceInts("gatherRows indices");
    private final String description;
    private int[] packScratch;
    private BatchLayout uploadedLayout;
    private boolean closed;

    private CudaBackend(CudaDevice device, boolean checkEachOperation) {
        this.device = device;
        this.checkEachOperation = checkEachOperation;
        this.description = device.name() + " (cuda:" + device.ordinal() + ", compute capability "
                + device.computeCapability() + ", " + device.totalBytes() / (1 << 20) + " MiB, PTX compute_"
                + device.ptxArchitecture() + (checkEachOperation ? ", checking each operation" : "") + ")";
    }

    /**
     * Starts CUDA on a device.
     *
     * @param ordinal            the device index
     * @param checkEachOperation synchronise after every operation so that a failing kernel is reported by the
     *                           operation that launched it (slower; for diagnosis and tests)
     * @return the backend
     * @throws CudaUnavailableException with a one-line reason where CUDA cannot start
     */
    static CudaBackend open(int ordinal, boolean checkEachOperation) throws CudaUnavailableException {
        return new CudaBackend(CudaDevice.open(ordinal), checkEachOperation);
    }

    /**
     * Starts CUDA on a device, for code outside OSGi (tests, tools).
     *
     * @param ordinal            the device index
     * @param checkEachOperation see {@link #open(int, boolean)}
     * @return the backend
     * @throws IllegalStateException with the one-line reason where CUDA cannot start
     */
    public static CudaBackend start(int ordinal, boolean checkEachOperation) {
        try {
            return open(ordinal, checkEachOperation);
        } catch (CudaUnavailableException e) {
            throw new IllegalStateException("CUDA backend unavailable: " + e.getMessage(), e);
        }
    }

    /** Drains the calls inside, then frees every allocation and releases the device. Idempotent. */
    @Override
    public void close() {
        if (!inFlight.close(DRAIN_TIMEOUT)) {
            LOG.log(System.Logger.Level.WARNING, "CUDA backend closing with {0} calls still inside after {1}",
                    inFlight.inFlight(), DRAIN_TIMEOUT);
        }
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            try {
                device.makeCurrent();
                for (CudaMemory memory : List.copyOf(live)) {
                    memory.release();
                }
                ropeFrequencies.values().forEach(device::free);
                ropeFrequencies.clear();
                layoutInts.free();
                tokenInts.free();
                gatherInts.free();
            } catch (CudaException e) {
                LOG.log(System.Logger.Level.WARNING, "Freeing CUDA memory failed: " + e.getMessage());
            } finally {
                device.close();
            }
        }
    }

    @Override
    public String deviceId() {
        return "cuda:" + device.ordinal();
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public Set<TensorType> supportedTypes() {
        return Set.copyOf(EnumSet.copyOf(Kernel.WEIGHT_TYPES));
    }

    /**
     * {@inheritDoc}
     *
     * <p>Copies the weight to the device in {@link WeightLayout}'s layout. A one-row weight (a norm weight or a
     * bias) is stored as F32, the form the elementwise kernels read.
     */
    @Override
    public DeviceWeight upload(HostTensor tensor) {
        return call("upload of " + tensor.name(), () -> {
            WeightLayout source = WeightLayout.of(tensor.type(), tensor.rows(), tensor.cols());
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment packed = arena.allocate(source.byteSize(), 256);
                source.pack(tensor, 0, tensor.rows(), packed, packed.asSlice(source.scalesOffset()));
                WeightLayout layout = source;
                if (tensor.rows() == 1 && tensor.type() != TensorType.F32) {
                    layout = WeightLayout.of(TensorType.F32, 1, tensor.cols());
                    MemorySegment floats = arena.allocate(layout.byteSize(), 256);
                    for (int c = 0; c < tensor.cols(); c++) {
                        floats.set(FLOAT_LE, 4L * c, source.element(packed, packed.asSlice(source.scalesOffset()), 0, c));
                    }
                    packed = floats;
                }
                CUdeviceptr address = device.allocate(layout.byteSize(), "weight " + tensor.name());
                CudaMemory.Weight weight = new CudaMemory.Weight(this, address, tensor.name(), layout);
                live.add(weight);
                device.copyToDevice(address, 0, packed);
                return weight;
            }
        });
    }

    @Override
    public DeviceBuffer allocate(int rows, int cols) {
        return call("allocate", () -> {
            if (rows < 1 || cols < 1) {
                throw new IllegalArgumentException("A buffer needs at least one row and column, got " + rows + "x" + cols);
            }
            long bytes = 4L * rows * cols;
            CUdeviceptr address = device.allocate(bytes, "a " + rows + "x" + cols + " activation buffer");
            CudaMemory.Buffer buffer = new CudaMemory.Buffer(this, address, rows, cols);
            live.add(buffer);
            device.zero(address, bytes);
            return buffer;
        });
    }

    @Override
    public KvPool allocateKvPool(KvPoolSpec spec) {
        if (!kvTypes().contains(spec.elementType())) {
            throw new IllegalArgumentException("The CUDA backend's KV pools hold F32 elements, not "
                    + spec.elementType());
        }
        return call("allocateKvPool", () -> {
            long bytes = spec.bytes();
            CUdeviceptr address = device.allocate(bytes, "a KV pool of " + spec.capacitySlots() + " slots");
            CudaMemory.Pool pool = new CudaMemory.Pool(this, address, spec);
            live.add(pool);
            device.zero(address, bytes);
            return pool;
        });
    }

    @Override
    public void embed(DeviceBuffer out, DeviceWeight table, int[] tokens, int rows) {
        call("embed", () -> {
            CudaMemory.Weight w = weight(table);
            CudaMemory.Buffer o = buffer(out, rows, w.cols(), "embed output");
            if (tokens.length < rows) {
                throw new IllegalArgumentException("embed needs " + rows + " tokens, got " + tokens.length);
            }
            for (int r = 0; r < rows; r++) {
                if (tokens[r] < 0 || tokens[r] >= w.rows()) {
                    throw new IllegalArgumentException("Token " + tokens[r] + " is outside the embedding table " + w);
                }
            }
            if (rows == 0) {
                return null;
            }
            CUdeviceptr t = tokenInts.upload(tokens, rows);
            Kernel kernel = Kernel.embed(w.type());
            launch(kernel, LaunchGeometry.perRow(rows), new KernelArgs(kernel).pointer(o.address())
                    .pointer(w.address()).pointer(w.scales()).pointer(t).i(w.cols()).i(w.layout().stride()));
            return null;
        });
    }

    @Override
    public void rmsNorm(DeviceBuffer out, DeviceBuffer in, DeviceWeight weight, float eps, int rows) {
        call("rmsNorm", () -> {
            CudaMemory.Weight w = vector(weight, in.cols());
            CudaMemory.Buffer i = buffer(in, rows, w.cols(), "rmsNorm input");
            CudaMemory.Buffer o = buffer(out, rows, w.cols(), "rmsNorm output");
            if (rows > 0) {
                launch(Kernel.RMS_NORM, LaunchGeometry.perRow(rows), new KernelArgs(Kernel.RMS_NORM)
                        .pointer(o.address()).pointer(i.address()).pointer(w.address()).f(eps).i(w.cols()));
            }
            return null;
        });
    }

    @Override
    public void matmul(DeviceBuffer out, DeviceWeight weight, DeviceBuffer in, int rows) {
        CudaMemory.Weight w = weight(weight);
        call("matmul of " + w, () -> {
            CudaMemory.Buffer i = buffer(in, rows, w.cols(), "matmul input of " + w);
            CudaMemory.Buffer o = buffer(out, rows, w.rows(), "matmul output of " + w);
            if (i == o) {
                throw new IllegalArgumentException("matmul cannot write its input buffer");
            }
            for (LaunchGeometry.MatmulLaunch launch : LaunchGeometry.matmul(w.type(), rows, w.rows())) {
                launch(launch.kernel(), launch.geometry(), new KernelArgs(launch.kernel()).pointer(w.address())
                        .pointer(w.scales())
                        .pointer(i.address().withByteOffset(4L * launch.firstRow() * w.cols()))
                        .pointer(o.address().withByteOffset(4L * launch.firstRow() * w.rows()))
                        .i(launch.rows()).i(w.rows()).i(w.cols()).i(w.layout().stride()));
            }
            return null;
        });
    }

    @Override
    public void addBias(DeviceBuffer out, DeviceWeight bias, int rows) {
        call("addBias", () -> {
            CudaMemory.Weight b = vector(bias, out.cols());
            CudaMemory.Buffer o = buffer(out, rows, b.cols(), "addBias output");
            long count = (long) rows * b.cols();
            if (count > 0) {
                launch(Kernel.ADD_BIAS, LaunchGeometry.elementwise(count), new KernelArgs(Kernel.ADD_BIAS)
                        .pointer(o.address()).pointer(b.address()).i(b.cols()).l(count));
            }
            return null;
        });
    }

    @Override
    public void rope(DeviceBuffer x, int heads, AttentionBatch batch, RopeSpec rope) {
        call("rope", () -> {
            int cols = x.cols();
            if (heads < 1 || cols % heads != 0 || cols / heads < rope.rotaryDims()) {
                throw new IllegalArgumentException("rope: rows of " + cols + " elements do not split into " + heads
                        + " heads of at least " + rope.rotaryDims() + " rotary dimensions");
            }
            BatchLayout layout = layout(batch, Long.MAX_VALUE);
            CudaMemory.Buffer b = buffer(x, layout.rows(), cols, "rope input");
            if (layout.rows() == 0) {
                return null;
            }
            int pairs = rope.rotaryDims() / 2;
            launch(Kernel.ROPE, LaunchGeometry.perRow(layout.rows()), new KernelArgs(Kernel.ROPE).pointer(b.address())
                    .pointer(layoutInts.address()).i(layout.rows()).i(heads).i(cols / heads).i(pairs)
                    .pointer(frequencies(rope)).i(rope.style() == RopeSpec.Style.NEOX ? 1 : 0));
            return null;
        });
    }

    @Override
    public void storeKv(KvPool pool, int layer, DeviceBuffer k, DeviceBuffer v, AttentionBatch batch) {
        call("storeKv", () -> {
            CudaMemory.Pool kv = pool(pool, layer);
            KvPoolSpec spec = kv.spec();
            BatchLayout layout = layout(batch, spec.capacitySlots());
            int cols = spec.kvHeads() * spec.headDim();
            CudaMemory.Buffer keys = buffer(k, layout.rows(), cols, "storeKv keys");
            CudaMemory.Buffer values = buffer(v, layout.rows(), cols, "storeKv values");
            if (layout.rows() == 0) {
                return null;
            }
            launch(Kernel.STORE_KV, LaunchGeometry.perRow(layout.rows()), new KernelArgs(Kernel.STORE_KV)
                    .pointer(kv.keys(layer)).pointer(kv.values(layer)).pointer(keys.address())
                    .pointer(values.address()).pointer(layoutInts.address()).i(layout.rows()).i(layout.sequences())
                    .i(spec.kvHeads()).i(spec.headDim()).l(spec.capacitySlots()).i(layout.blockSize()));
            return null;
        });
    }

    @Override
    public void attention(DeviceBuffer out, DeviceBuffer q, int heads, KvPool pool, int layer, AttentionBatch batch) {
        call("attention", () -> {
            CudaMemory.Pool kv = pool(pool, layer);
            KvPoolSpec spec = kv.spec();
            if (heads < 1 || heads % spec.kvHeads() != 0) {
                throw new IllegalArgumentException("attention: " + heads + " query heads are not a multiple of the "
                        + "pool's " + spec.kvHeads() + " KV heads");
            }
            if (spec.headDim() > Kernel.MAX_HEAD_DIM) {
                throw new UnsupportedOperationException("The CUDA attention kernel holds heads of up to "
                        + Kernel.MAX_HEAD_DIM + " elements, not " + spec.headDim());
            }
            BatchLayout layout = layout(batch, spec.capacitySlots());
            int cols = heads * spec.headDim();
            CudaMemory.Buffer queries = buffer(q, layout.rows(), cols, "attention queries");
            CudaMemory.Buffer o = buffer(out, layout.rows(), cols, "attention output");
            if (layout.rows() == 0) {
                return null;
            }
            launch(Kernel.ATTENTION, LaunchGeometry.attention(layout.rows(), heads), new KernelArgs(Kernel.ATTENTION)
                    .pointer(o.address()).pointer(queries.address()).pointer(kv.keys(layer))
                    .pointer(kv.values(layer)).pointer(layoutInts.address()).i(layout.rows()).i(layout.sequences())
                    .i(heads).i(spec.kvHeads()).i(spec.headDim()).l(spec.capacitySlots()).i(layout.blockSize())
                    .f((float) (1 / Math.sqrt(spec.headDim()))));
            return null;
        });
    }

    @Override
    public void swiglu(DeviceBuffer out, DeviceBuffer gate, DeviceBuffer up, int rows) {
        call("swiglu", () -> {
            int cols = out.cols();
            CudaMemory.Buffer o = buffer(out, rows, cols, "swiglu output");
            CudaMemory.Buffer g = buffer(gate, rows, cols, "swiglu gate");
            CudaMemory.Buffer u = buffer(up, rows, cols, "swiglu up");
            long count = (long) rows * cols;
            if (count > 0) {
                launch(Kernel.SWIGLU, LaunchGeometry.elementwise(count), new KernelArgs(Kernel.SWIGLU)
                        .pointer(o.address()).pointer(g.address()).pointer(u.address()).l(count));
            }
            return null;
        });
    }

    @Override
    public void add(DeviceBuffer acc, DeviceBuffer in, int rows) {
        call("add", () -> {
            int cols = acc.cols();
            CudaMemory.Buffer a = buffer(acc, rows, cols, "add accumulator");
            CudaMemory.Buffer i = buffer(in, rows, cols, "add input");
            long count = (long) rows * cols;
            if (count > 0) {
                launch(Kernel.ADD, LaunchGeometry.elementwise(count), new KernelArgs(Kernel.ADD)
                        .pointer(a.address()).pointer(i.address()).l(count));
            }
            return null;
        });
    }

    @Override
    public void gatherRows(DeviceBuffer out, DeviceBuffer in, int[] sourceRows, int count) {
        call("gatherRows", () -> {
            int cols = in.cols();
            CudaMemory.Buffer o = buffer(out, count, cols, "gatherRows output");
            CudaMemory.Buffer i = buffer(in, 0, cols, "gatherRows input");
            if (sourceRows.length < count) {
                throw new IllegalArgumentException("gatherRows needs " + count + " source rows, got " + sourceRows.length);
            }
            for (int r = 0; r < count; r++) {
                if (sourceRows[r] < 0 || sourceRows[r] >= in.capacityRows()) {
                    throw new IllegalArgumentException("gatherRows: source row " + sourceRows[r] + " is outside the "
                            + in.capacityRows() + " rows of the input");
                }
            }
            if (count > 0) {
                CUdeviceptr rows = gatherInts.upload(sourceRows, count);
                launch(Kernel.GATHER_ROWS, LaunchGeometry.perRow(count), new KernelArgs(Kernel.GATHER_ROWS)
                        .pointer(o.address()).pointer(i.address()).pointer(rows).i(cols));
            }
            return null;
        });
    }

    @Override
    public void read(DeviceBuffer in, int rows, float[] destination) {
        call("read", () -> {
            CudaMemory.Buffer b = buffer(in, rows, in.cols(), "read source");
            int count = rows * in.cols();
            if (destination.length < count) {
                throw new IllegalArgumentException("read: " + count + " floats do not fit a destination of "
                        + destination.length);
            }
            if (count > 0) {
                device.copyToHost(destination, b.address(), count);
            }
            return null;
        });
    }

    /**
     * Copies host floats into the first rows of a buffer: the way in for activations that do not come from
     * {@link #embed} (tests, tools).
     *
     * @param out    the buffer
     * @param values {@code rows * out.cols()} floats, row after row
     * @param rows   rows to fill
     */
    public void write(DeviceBuffer out, float[] values, int rows) {
        call("write", () -> {
            CudaMemory.Buffer b = buffer(out, rows, out.cols(), "write destination");
            int count = rows * out.cols();
            if (values.length < count) {
                throw new IllegalArgumentException("write: " + rows + " rows need " + count + " floats, got "
                        + values.length);
            }
            device.copyToDevice(b.address(), values, count);
            return null;
        });
    }

    @Override
    public void synchronize() {
        call("synchronize", () -> {
            device.synchronize();
            return null;
        });
    }

    /**
     * Measures device-to-device copy bandwidth, the ceiling a memory-bound decode step can reach.
     *
     * @param bytes      bytes per copy
     * @param repeats    copies timed
     * @return achieved bandwidth in bytes per second (each copy reads and writes {@code bytes})
     */
    public double copyBandwidth(long bytes, int repeats) {
        return call("copyBandwidth", () -> {
            CUdeviceptr from = device.allocate(bytes, "a bandwidth test buffer");
            CUdeviceptr to = device.allocate(bytes, "a bandwidth test buffer");
            try {
                device.copyOnDevice(to, from, bytes);
                device.synchronize();
                long start = System.nanoTime();
                for (int i = 0; i < repeats; i++) {
                    device.copyOnDevice(to, from, bytes);
                }
                device.synchronize();
                double seconds = (System.nanoTime() - start) / 1e9;
                return 2.0 * bytes * repeats / seconds;
            } finally {
                device.free(from);
                device.free(to);
            }
        });
    }

    @Override
    public String toString() {
        return "CudaBackend[" + description + "]";
    }

    /** Called by an allocation's {@code release()}. */
    void free(CudaMemory memory, CUdeviceptr address) {
        live.remove(memory);
        if (!inFlight.tryEnter()) {
            // Only close() releases memory once the gate is shut, and it has made the context current.
            device.free(address);
            return;
        }
        try {
            device.makeCurrent();
            device.free(address);
        } finally {
            inFlight.exit();
        }
    }

    /** Runs one operation inside the drain gate with the context current, naming it in any failure. */
    private <T> T call(String operation, Supplier<T> body) {
        if (!inFlight.tryEnter()) {
            throw new IllegalStateException("The CUDA backend has been closed");
        }
        try {
            device.makeCurrent();
            T result = body.get();
            if (checkEachOperation) {
                device.synchronize();
            }
            return result;
        } catch (CudaException e) {
            throw new IllegalStateException("CUDA backend: " + operation + " failed: " + e.getMessage(), e);
        } finally {
            inFlight.exit();
        }
    }

    private void launch(Kernel kernel, LaunchGeometry geometry, KernelArgs args) {
        try {
            device.launch(kernel, geometry, args);
        } catch (CudaException e) {
            throw new CudaException("kernel " + kernel.name() + " " + geometry + ": " + e.getMessage(), e);
        }
    }

    /** Packs and checks the batch, uploading it only when it differs from the last one (once per step). */
    private BatchLayout layout(AttentionBatch batch, long capacity) {
        BatchLayout layout = BatchLayout.pack(batch, capacity, packScratch);
        packScratch = layout.ints();
        if (!layout.sameAs(uploadedLayout)) {
            layoutInts.upload(layout.ints(), layout.length());
            uploadedLayout = new BatchLayout(Arrays.copyOf(layout.ints(), layout.length()), layout.length(),
                    layout.rows(), layout.sequences(), layout.blockSize());
        }
        return layout;
    }

    private CUdeviceptr frequencies(RopeSpec rope) {
        return ropeFrequencies.computeIfAbsent(rope, spec -> {
            double[] frequencies = new double[spec.rotaryDims() / 2];
            for (int i = 0; i < frequencies.length; i++) {
                frequencies[i] = spec.frequency(i);
            }
            CUdeviceptr address = device.allocate(8L * frequencies.length, "RoPE frequencies");
            device.copyToDevice(address, frequencies);
            return address;
        });
    }

    private CudaMemory.Weight weight(DeviceWeight weight) {
        if (weight instanceof CudaMemory.Weight w && w.owner() == this) {
            return w;
        }
        throw new IllegalArgumentException("Weight " + weight.name() + " was not uploaded to this CUDA backend");
    }

    private CudaMemory.Weight vector(DeviceWeight weight, int cols) {
        CudaMemory.Weight w = weight(weight);
        if (w.rows() != 1 || w.cols() != cols || w.type() != TensorType.F32) {
            throw new IllegalArgumentException("Expected a vector of " + cols + " elements, got " + w);
        }
        return w;
    }

    private CudaMemory.Buffer buffer(DeviceBuffer buffer, int rows, int cols, String role) {
        if (!(buffer instanceof CudaMemory.Buffer b) || b.owner() != this) {
            throw new IllegalArgumentException("The " + role + " buffer was not allocated by this CUDA backend");
        }
        if (b.cols() != cols || rows < 0 || rows > b.capacityRows()) {
            throw new IllegalArgumentException("The " + role + " buffer holds " + b.capacityRows() + "x" + b.cols()
                    + " floats; the operation needs " + rows + "x" + cols);
        }
        return b;
    }

    private CudaMemory.Pool pool(KvPool pool, int layer) {
        if (!(pool instanceof CudaMemory.Pool kv) || kv.owner() != this) {
            throw new IllegalArgumentException("The KV pool was not allocated by this CUDA backend");
        }
        if (layer < 0 || layer >= kv.spec().layers()) {
            throw new IllegalArgumentException("Layer " + layer + " is outside the KV pool's " + kv.spec().layers());
        }
        return kv;
    }

    /** A device int array that grows as needed, for the small per-step inputs (tokens, row indices, layouts). */
    private final class DeviceInts {
        private final String what;
        private CUdeviceptr address;
        private int capacity;

        DeviceInts(String what) {
            this.what = what;
        }

        /** Copies {@code count} ints to the device (after queued work that may still read the old ones). */
        CUdeviceptr upload(int[] values, int count) {
            if (count > capacity) {
                free();
                int grown = Math.max(count, 2 * capacity);
                address = device.allocate(4L * grown, what);
                capacity = grown;
            }
            device.copyToDevice(address, values, count);
            return address;
        }

        CUdeviceptr address() {
            return address;
        }

        void free() {
            if (address != null) {
                device.free(address);
                address = null;
                capacity = 0;
            }
        }
    }
}
