package io.gantry.backend.cpu;

import io.gantry.api.backend.KvPool;
import io.gantry.api.backend.KvPoolSpec;

/**
 * Keys and values in F32, one {@code float[]} per layer for each. Within a layer, head {@code h}'s vector for
 * slot {@code s} starts at {@code (h * capacitySlots + s) * headDim}: head-major, so the slots of one block
 * table block are contiguous for each head and attention streams them.
 */
final class CpuKvPool implements KvPool, CpuBackend.Allocation {

    private final CpuBackend owner;
    private final KvPoolSpec spec;
    private volatile float[][] keys;
    private volatile float[][] values;

    /** @throws OutOfMemoryError if a layer does not fit a Java array or the heap cannot hold the pool */
    CpuKvPool(CpuBackend owner, KvPoolSpec spec) {
        this.owner = owner;
        this.spec = spec;
        long perLayer = (long) spec.kvHeads() * spec.headDim() * spec.capacitySlots();
        if (perLayer > Integer.MAX_VALUE - 8) {
            throw new OutOfMemoryError("A KV pool layer of " + perLayer + " floats exceeds the CPU backend's limit of "
                    + (Integer.MAX_VALUE - 8) + " per layer; use fewer slots");
        }
        float[][] k = new float[spec.layers()][];
        float[][] v = new float[spec.layers()][];
        for (int layer = 0; layer < spec.layers(); layer++) {
            k[layer] = new float[(int) perLayer];
            v[layer] = new float[(int) perLayer];
        }
        keys = k;
        values = v;
    }

    @Override
    public KvPoolSpec spec() {
        return spec;
    }

    @Override
    public long byteSize() {
        return spec.bytes(Float.BYTES);
    }

    @Override
    public void release() {
        keys = null;
        values = null;
        owner.forget(this);
    }

    CpuBackend owner() {
        return owner;
    }

    /** @return the keys of {@code layer} */
    float[] keys(int layer) {
        return live(keys)[layer];
    }

    /** @return the values of {@code layer} */
    float[] values(int layer) {
        return live(values)[layer];
    }

    private static float[][] live(float[][] layers) {
        if (layers == null) {
            throw new IllegalStateException("The KV pool has been released");
        }
        return layers;
    }
}
