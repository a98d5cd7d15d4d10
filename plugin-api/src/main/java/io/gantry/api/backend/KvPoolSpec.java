package io.gantry.api.backend;

/**
 * The shape of a KV pool.
 *
 * @param layers        transformer layers
 * @param kvHeads       key/value heads per layer
 * @param headDim       elements per head
 * @param capacitySlots token slots per layer
 */
public record KvPoolSpec(int layers, int kvHeads, int headDim, int capacitySlots) {

    /** Checks that every dimension is positive. */
    public KvPoolSpec {
        if (layers < 1 || kvHeads < 1 || headDim < 1 || capacitySlots < 1) {
            throw new IllegalArgumentException("Invalid KV pool shape: layers=" + layers + ", kvHeads=" + kvHeads
                    + ", headDim=" + headDim + ", capacitySlots=" + capacitySlots);
        }
    }

    /**
     * @param bytesPerElement bytes per stored key or value element
     * @return bytes the pool needs for keys and values of every layer
     */
    public long bytes(int bytesPerElement) {
        return 2L * layers * kvHeads * headDim * (long) capacitySlots * bytesPerElement;
    }
}
