package io.gantry.backend.cpu;

import io.gantry.api.backend.KvPool;
import io.gantry.api.backend.KvPoolSpec;
import io.gantry.api.backend.TensorType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Keys and values in F32 or F16 ({@link KvPoolSpec#elementType()}), off the Java heap (freed on
 * {@link #release()}, not by a collection, and not bounded by the heap size), one segment per layer for each.
 * Within a layer, head {@code h}'s vector for slot {@code s} starts at element {@code (h * capacitySlots + s) *
 * headDim}: head-major, so the slots of one block table block are contiguous for each head and attention streams
 * them.
 */
final class CpuKvPool implements KvPool, CpuBackend.Allocation {

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT;

    /** Each thread's buffer for the halves {@link #read} converts. */
    private static final ThreadLocal<short[]> HALVES = ThreadLocal.withInitial(() -> new short[0]);

    private final CpuBackend owner;
    private final KvPoolSpec spec;
    private final boolean half;
    private final Arena arena = Arena.ofShared();
    private final AtomicBoolean released = new AtomicBoolean();
    private final MemorySegment[] keys;
    private final MemorySegment[] values;

    /** @throws OutOfMemoryError if the machine cannot hold the pool */
    CpuKvPool(CpuBackend owner, KvPoolSpec spec) {
        this.owner = owner;
        this.spec = spec;
        this.half = spec.elementType() == TensorType.F16;
        long layerBytes = spec.bytes() / spec.layers() / 2;
        keys = new MemorySegment[spec.layers()];
        values = new MemorySegment[spec.layers()];
        try {
            for (int layer = 0; layer < spec.layers(); layer++) {
                // Zeroed: slots no sequence wrote yet read as zeros, as a fresh heap array did.
                keys[layer] = arena.allocate(layerBytes, 64);
                values[layer] = arena.allocate(layerBytes, 64);
            }
        } catch (OutOfMemoryError e) {
            arena.close();
            throw new OutOfMemoryError("A KV pool of " + spec.bytes() + " bytes does not fit this machine's memory; "
                    + "use fewer slots");
        }
    }

    @Override
    public KvPoolSpec spec() {
        return spec;
    }

    @Override
    public long byteSize() {
        return spec.bytes();
    }

    @Override
    public void release() {
        if (released.compareAndSet(false, true)) {
            arena.close();
            owner.forget(this);
        }
    }

    CpuBackend owner() {
        return owner;
    }

    /**
     * Writes one head's key and value for one slot.
     *
     * @param element the first element of the head's vector in the layer ({@code (h * capacitySlots + slot) *
     *                headDim})
     */
    void store(int layer, long element, float[] key, float[] value, int from) {
        live();
        int headDim = spec.headDim();
        if (half) {
            // Converted in an array, then copied: a plain array loop, which C2 vectorises (vcvtps2ph on x86); a loop
            // storing into the segment made C2 recompile the step's kernels again and again (see Simd).
            short[] halves = new short[2 * headDim];
            for (int i = 0; i < headDim; i++) {
                halves[i] = Float.floatToFloat16(key[from + i]);
                halves[headDim + i] = Float.floatToFloat16(value[from + i]);
            }
            MemorySegment.copy(halves, 0, keys[layer], HALF, element * Short.BYTES, headDim);
            MemorySegment.copy(halves, headDim, values[layer], HALF, element * Short.BYTES, headDim);
        } else {
            MemorySegment.copy(key, from, keys[layer], FLOAT, element * Float.BYTES, headDim);
            MemorySegment.copy(value, from, values[layer], FLOAT, element * Float.BYTES, headDim);
        }
    }

    /**
     * Copies {@code count} consecutive slots of one head, keys or values, to {@code out} as floats: the vectors of
     * slots {@code slot..slot+count-1}, one after the other.
     *
     * @param element the first element of the head's vector for {@code slot} in the layer
     */
    void read(int layer, boolean ofKeys, long element, int count, float[] out, int outOffset) {
        live();
        MemorySegment from = (ofKeys ? keys : values)[layer];
        int elements = count * spec.headDim();
        if (half) {
            // Copied, then converted in arrays: a plain array loop, which C2 vectorises (vcvtph2ps on x86); a loop
            // reading the segment made C2 recompile the step's kernels again and again (see Simd).
            short[] halves = HALVES.get();
            if (halves.length < elements) {
                halves = new short[elements];
                HALVES.set(halves);
            }
            MemorySegment.copy(from, HALF, element * Short.BYTES, halves, 0, elements);
            for (int i = 0; i < elements; i++) {
                out[outOffset + i] = Float.float16ToFloat(halves[i]);
            }
        } else {
            MemorySegment.copy(from, FLOAT, element * Float.BYTES, out, outOffset, elements);
        }
    }

    private void live() {
        if (released.get()) {
            throw new IllegalStateException("The KV pool has been released");
        }
    }
}
