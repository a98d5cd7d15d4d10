package io.gantry.backend.cpu;

import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;

/**
 * A weight the CPU reads where it lies, in the model file's (mapped) bytes. An F16, Q8_0, Q4_0 or Q4_K weight is
 * multiplied from a repacked copy off the Java heap instead ({@link PackedWeight}), freed on {@link #release()}.
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
     * The weight's elements as floats, decoded at the first call (norm weights and biases, read at every step).
     *
     * <p>Decoded by the scalar decoders, as are embedding rows. Done for speed: the Vector API's loads from memory
     * segments share one type profile among all their callers. When embedding rows were decoded with the vector
     * kernels straight from the model file's mapping, that profile saw two segment classes after a prefill (the
     * mapping's and the packed copies'), and the packed matmul kernels C2 compiled from then on ran a quarter to a
     * third slower than those compiled before (bench-110m Q8_0 and bench-1b Q4_0 decode after a 128-token prompt).
     * Decoding embedding rows into native memory first instead moved the problem to F16 models, whose matmuls read
     * the mapping. So vector loads from segments are left to the matmuls, each weight format's kernels reading one
     * kind of memory.
     *
     * @return the decoded elements, not to be written to
     */
    float[] decoded() {
        MemorySegment segment = data();
        float[] values = decoded;
        if (values == null) {
            values = new float[Math.multiplyExact(rows, cols)];
            format.dequantize(segment, 0, values, 0, values.length, false);
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
