package io.gantry.api.backend;

/**
 * The shape of a KV pool.
 *
 * @param layers        transformer layers
 * @param kvHeads       key/value heads per layer
 * @param headDim       elements per head
 * @param capacitySlots token slots per layer
 * @param elementType   how the pool stores each key and value element: {@link TensorType#F32} or
 *                      {@link TensorType#F16} (half the memory: twice the tokens in the same bytes, as
 *                      llama.cpp's default cache type), one of the backend's {@link DeviceBackend#kvTypes()}
 */
public record KvPoolSpec(int layers, int kvHeads, int headDim, int capacitySlots, TensorType elementType) {

    /** Checks that every dimension is positive and the element type is a float type. */
    public KvPoolSpec {
        if (layers < 1 || kvHeads < 1 || headDim < 1 || capacitySlots < 1) {
            throw new IllegalArgumentException("Invalid KV pool shape: layers=" + layers + ", kvHeads=" + kvHeads
                    + ", headDim=" + headDim + ", capacitySlots=" + capacitySlots);
        }
        if (elementType != TensorType.F32 && elementType != TensorType.F16) {
            throw new IllegalArgumentException("A KV pool holds F32 or F16 elements, not " + elementType);
        }
    }

    /** A pool of F32 elements. */
    public KvPoolSpec(int layers, int kvHeads, int headDim, int capacitySlots) {
        this(layers, kvHeads, headDim, capacitySlots, TensorType.F32);
    }

    /** @return bytes the pool needs for keys and values of every layer */
    public long bytes() {
        return (long) capacitySlots * slotBytes(layers, kvHeads * headDim, elementType);
    }

    /**
     * @param layers      transformer layers
     * @param kvLength    key elements per layer and token ({@code kvHeads * headDim})
     * @param elementType the pool's element type
     * @return the bytes one token slot takes: keys and values of every layer
     */
    public static long slotBytes(int layers, int kvLength, TensorType elementType) {
        return 2 * layers * elementType.bytesFor(kvLength);
    }
}
