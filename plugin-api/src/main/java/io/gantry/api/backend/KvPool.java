package io.gantry.api.backend;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * The device memory that holds keys and values for every layer: {@link #capacitySlots()} token slots
 * per layer, each slot holding {@code kvHeads * headDim} keys and as many values. Which slots belong to
 * which sequence is decided by the engine's KV allocator and passed to the attention operations as
 * block tables. Made by {@link DeviceBackend#allocateKvPool}.
 */
@ConsumerType
public interface KvPool {

    /** @return the pool's shape */
    KvPoolSpec spec();

    /** @return device bytes the pool occupies */
    long byteSize();

    /** Frees the pool; further use is an error. Idempotent. */
    void release();
}
