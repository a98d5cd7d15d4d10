package io.gantry.backend.cpu;

import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;

/** A weight the CPU multiplies where it lies: the model file's (mapped) bytes, never copied. */
final class CpuWeight implements DeviceWeight {

    private final CpuBackend owner;
    private final String name;
    private final TensorType type;
    private final TensorFormat format;
    private final int rows;
    private final int cols;
    private final long rowBytes;
    private volatile MemorySegment data;

    CpuWeight(CpuBackend owner, HostTensor tensor) {
        this.owner = owner;
        this.name = tensor.name();
        this.type = tensor.type();
        this.format = TensorFormat.of(type);
        this.rows = tensor.rows();
        this.cols = tensor.cols();
        this.rowBytes = tensor.rowBytes();
        this.data = tensor.data();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public TensorType type() {
        return type;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public void release() {
        data = null;
    }

    CpuBackend owner() {
        return owner;
    }

    TensorFormat format() {
        return format;
    }

    long rowBytes() {
        return rowBytes;
    }

    /** @return the weight's bytes */
    MemorySegment data() {
        MemorySegment segment = data;
        if (segment == null) {
            throw new IllegalStateException("Weight " + name + " has been released");
        }
        return segment;
    }

    @Override
    public String toString() {
        return name + " (" + type + ", " + rows + "x" + cols + ")";
    }
}
