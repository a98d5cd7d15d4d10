package io.gantry.backend.cpu;

import io.gantry.api.backend.DeviceBuffer;

/**
 * An activation buffer: a heap {@code float[]}, rows after one another. Heap arrays rather than off-heap
 * segments because {@code FloatVector.fromArray} is the Vector API's fastest, best-optimized load, the
 * CPU never hands activations to native code, and the garbage collector frees a buffer a stale caller
 * still refers to without risk to the JVM.
 */
final class CpuBuffer implements DeviceBuffer, CpuBackend.Allocation {

    private final CpuBackend owner;
    private final int capacityRows;
    private final int cols;
    private volatile float[] data;

    CpuBuffer(CpuBackend owner, int capacityRows, int cols) {
        this.owner = owner;
        this.capacityRows = capacityRows;
        this.cols = cols;
        this.data = new float[Math.multiplyExact(capacityRows, cols)];
    }

    @Override
    public int capacityRows() {
        return capacityRows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public void release() {
        data = null;
        owner.forget(this);
    }

    CpuBackend owner() {
        return owner;
    }

    /** @return the buffer's floats */
    float[] data() {
        float[] array = data;
        if (array == null) {
            throw new IllegalStateException("The buffer has been released");
        }
        return array;
    }
}
