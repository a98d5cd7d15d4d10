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
 *
 * <p>Slots are grouped in tiles of {@link #TILE}, the capacity rounded up to whole tiles. Within a layer, each
 * head's tiles follow each other. A tile of keys is stored transposed: for each of the head's elements, the
 * {@link #TILE} slots' values side by side ({@link #keyElement}). So attention multiplies a query with the keys of
 * many slots as vector FMAs over the head's elements, one lane per slot, with no horizontal sums. Values are stored
 * slot after slot ({@link #valueElement}): a weighted sum of values adds whole vectors of a head.
 *
 * <p>F16 pools store keys and values beyond the half range as the largest half of their sign (an infinity would
 * turn the whole softmax into NaN), and read them back by {@link Simd#halfToFloat}.
 */
final class CpuKvPool implements KvPool, CpuBackend.Allocation {

    /** Little-endian, as the kernels' vector loads read them. */
    private static final ValueLayout.OfFloat FLOAT = Simd.FLOAT_LE;
    private static final ValueLayout.OfShort HALF = Simd.SHORT_LE;

    /** The largest finite half float. */
    private static final float HALF_MAX = 65504f;
    /** Slots per tile: a multiple of every vector width. */
    static final int TILE = 16;

    /** Each thread's buffer for the halves {@link #store} converts. */
    private static final ThreadLocal<short[]> HALVES = ThreadLocal.withInitial(() -> new short[0]);

    private final CpuBackend owner;
    private final KvPoolSpec spec;
    private final boolean half;
    private final int tiles;
    private final Arena arena = Arena.ofShared();
    private final AtomicBoolean released = new AtomicBoolean();
    private final MemorySegment[] keys;
    private final MemorySegment[] values;

    /** @throws OutOfMemoryError if the machine cannot hold the pool */
    CpuKvPool(CpuBackend owner, KvPoolSpec spec) {
        this.owner = owner;
        this.spec = spec;
        this.half = spec.elementType() == TensorType.F16;
        this.tiles = Math.ceilDiv(spec.capacitySlots(), TILE);
        long layerBytes = layerElements() * (half ? Short.BYTES : Float.BYTES);
        keys = new MemorySegment[spec.layers()];
        values = new MemorySegment[spec.layers()];
        try {
            for (int layer = 0; layer < spec.layers(); layer++) {
                // Zeroed: slots no sequence wrote yet read as zeros, as a fresh heap array did.
                keys[layer] = HugePages.allocate(arena, layerBytes);
                values[layer] = HugePages.allocate(arena, layerBytes);
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
        return 2L * spec.layers() * layerElements() * (half ? Short.BYTES : Float.BYTES);
    }

    private long layerElements() {
        return (long) spec.kvHeads() * tiles * TILE * spec.headDim();
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

    /** @return whether elements are F16 (else F32) */
    boolean half() {
        return half;
    }

    /** @return the keys of one layer */
    MemorySegment keys(int layer) {
        live();
        return keys[layer];
    }

    /** @return the values of one layer */
    MemorySegment values(int layer) {
        live();
        return values[layer];
    }

    /** @return the element of a layer's keys where {@code head}'s tiles start */
    long headKeys(int head) {
        return (long) head * tiles * TILE * spec.headDim();
    }

    /**
     * @return the element, from {@link #headKeys}, of element 0 of the key of {@code slot}; element {@code d}
     *         lies {@code d * TILE} after it
     */
    long keyElement(int slot) {
        return (long) (slot / TILE) * TILE * spec.headDim() + slot % TILE;
    }

    /** @return the element of a layer's values where {@code head}'s value for {@code slot} starts */
    long valueElement(int head, int slot) {
        return ((long) head * tiles * TILE + slot) * spec.headDim();
    }

    /** Writes one head's key and value for one slot. */
    void store(int layer, int head, int slot, float[] key, float[] value, int from) {
        live();
        int headDim = spec.headDim();
        long keyAt = headKeys(head) + keyElement(slot);
        long valueAt = valueElement(head, slot);
        if (half) {
            short[] halves = HALVES.get();
            if (halves.length < headDim) {
                halves = new short[headDim];
                HALVES.set(halves);
            }
            toHalves(key, from, headDim, halves);
            for (int d = 0; d < headDim; d++) {
                keys[layer].setAtIndex(HALF, keyAt + (long) d * TILE, halves[d]);
            }
            toHalves(value, from, headDim, halves);
            MemorySegment.copy(halves, 0, values[layer], HALF, valueAt * Short.BYTES, headDim);
        } else {
            for (int d = 0; d < headDim; d++) {
                keys[layer].setAtIndex(FLOAT, keyAt + (long) d * TILE, key[from + d]);
            }
            MemorySegment.copy(value, from, values[layer], FLOAT, valueAt * Float.BYTES, headDim);
        }
    }

    /**
     * Converts {@code count} floats to halves, saturating at the half range. Done for speed: a plain array loop,
     * which C2 vectorises (vcvtps2ph on x86), where a loop storing into the segment is not.
     */
    private static void toHalves(float[] floats, int from, int count, short[] halves) {
        for (int i = 0; i < count; i++) {
            halves[i] = Float.floatToFloat16(Math.clamp(floats[from + i], -HALF_MAX, HALF_MAX));
        }
    }

    private void live() {
        if (released.get()) {
            throw new IllegalStateException("The KV pool has been released");
        }
    }
}
