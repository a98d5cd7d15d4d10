package io.gantry.backend.cuda;

import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.KvPool;
import io.gantry.api.backend.KvPoolSpec;
import io.gantry.api.backend.TensorType;
import jcuda.driver.CUdeviceptr;

/**
 * Device memory the CUDA backend hands out: weights, activation buffers and KV pools. Each is freed by its
 * holder's {@code release()} or, failing that, when the backend closes.
 */
abstract sealed class CudaMemory permits CudaMemory.Weight, CudaMemory.Buffer, CudaMemory.Pool {

    private final CudaBackend owner;
    private volatile CUdeviceptr address;
    private final long bytes;

    CudaMemory(CudaBackend owner, CUdeviceptr address, long bytes) {
        this.owner = owner;
        this.address = address;
        this.bytes = bytes;
    }

    CudaBackend owner() {
        return owner;
    }

    /** @return the device address; fails once released */
    CUdeviceptr address() {
        CUdeviceptr a = address;
        if (a == null) {
            throw new IllegalStateException(this + " has been released");
        }
        return a;
    }

    long bytes() {
        return bytes;
    }

    /** Frees the device memory. Idempotent. */
    public void release() {
        CUdeviceptr a;
        synchronized (this) {
            a = address;
            address = null;
        }
        if (a != null) {
            owner.free(this, a);
        }
    }

    /** A weight in the device layout {@link WeightLayout} describes. */
    static final class Weight extends CudaMemory implements DeviceWeight {
        private final String name;
        private final WeightLayout layout;

        Weight(CudaBackend owner, CUdeviceptr address, String name, WeightLayout layout) {
            super(owner, address, layout.byteSize());
            this.name = name;
            this.layout = layout;
        }

        WeightLayout layout() {
            return layout;
        }

        /** @return the scales region (the weight's own address for float formats, which do not read it) */
        CUdeviceptr scales() {
            return address().withByteOffset(layout.scalesOffset());
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public TensorType type() {
            return layout.type();
        }

        @Override
        public int rows() {
            return layout.rows();
        }

        @Override
        public int cols() {
            return layout.cols();
        }

        @Override
        public String toString() {
            return name + " (" + layout.type() + ", " + layout.rows() + "x" + layout.cols() + ")";
        }
    }

    /** An F32 activation buffer, row-major. */
    static final class Buffer extends CudaMemory implements DeviceBuffer {
        private final int rows;
        private final int cols;

        Buffer(CudaBackend owner, CUdeviceptr address, int rows, int cols) {
            super(owner, address, 4L * rows * cols);
            this.rows = rows;
            this.cols = cols;
        }

        @Override
        public int capacityRows() {
            return rows;
        }

        @Override
        public int cols() {
            return cols;
        }

        @Override
        public String toString() {
            return "CUDA buffer " + rows + "x" + cols;
        }
    }

    /** Keys then values of every layer, each {@code [kvHeads][capacity][headDim]} floats per layer. */
    static final class Pool extends CudaMemory implements KvPool {
        private final KvPoolSpec spec;

        Pool(CudaBackend owner, CUdeviceptr address, KvPoolSpec spec) {
            super(owner, address, spec.bytes());
            this.spec = spec;
        }

        @Override
        public KvPoolSpec spec() {
            return spec;
        }

        @Override
        public long byteSize() {
            return bytes();
        }

        /** @return the keys of {@code layer} */
        CUdeviceptr keys(int layer) {
            return address().withByteOffset(2L * layer * layerBytes());
        }

        /** @return the values of {@code layer} */
        CUdeviceptr values(int layer) {
            return address().withByteOffset((2L * layer + 1) * layerBytes());
        }

        private long layerBytes() {
            return 4L * spec.kvHeads() * spec.headDim() * spec.capacitySlots();
        }

        @Override
        public String toString() {
            return "CUDA KV pool " + spec;
        }
    }
}
