package io.gantry.backend.cpu;

import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;

/**
 * A weight the CPU reads where it lies, in the model file's (mapped) bytes. A Q8_0 or Q4_0 weight is multiplied from
 * a repacked copy off the Java heap instead ({@link PackedWeight}), freed on {@link #release()}.
 */
final class CpuWeight implements DeviceWeight, CpuBackend.Allocation {

    private final CpuBackend owner;
    private final String name;
    private final TensorType type;
    private final TensorFormat format;
    private final int rows;
    private final int cols;
    private final long rowBytes;
    private volatile MemorySegment data;
    /** The repacked copy the vector kernels multiply, or null. */
    private final PackedWeight packed;
    /** The weight decoded to floats once asked for (norm weights and biases, read at every step), or null. */
    private volatile float[] decoded;

    /** @param packed the weight's repacked copy, or null */
    CpuWeight(CpuBackend owner, HostTensor tensor, PackedWeight packed) {
        this.owner = owner;
        this.name = tensor.name();
        this.type = tensor.type();
        this.format = TensorFormat.of(type);
        this.rows = tensor.rows();
        this.cols = tensor.cols();
        this.rowBytes = tensor.rowBytes();
        this.data = tensor.data();
        this.packed = packed;
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
    public synchronized void release() {
        if (data != null) {
            data = null;
            if (packed != null) {
                packed.release();
                owner.forget(this);
            }
        }
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

    /** @return the repacked copy to multiply, or null to multiply {@link #data()} */
    PackedWeight packed() {
        data();
        return packed;
    }

    /**
     * @param vector whether to decode with the vector kernels (the same values either way)
     * @return the weight's elements as floats, decoded at the first call; not to be written to. Done for speed and
     *         for the JIT: decoding at every call read the model file's mapping with the vector kernels at every
     *         step (see {@code CpuBackend}'s embedding rows for why that matters)
     */
    float[] decoded(boolean vector) {
        MemorySegment segment = data();
        float[] values = decoded;
        if (values == null) {
            values = new float[Math.multiplyExact(rows, cols)];
            format.dequantize(segment, 0, values, 0, values.length, vector);
            // A race decodes twice, to the same values: no lock needed.
            decoded = values;
        }
        return values;
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
