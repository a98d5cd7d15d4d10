package io.gantry.backend.cpu;

import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Moving test data in and out of a backend. */
final class BackendTestSupport {

    private BackendTestSupport() {
    }

    /** @return a new buffer holding {@code values} as {@code rows x cols} */
    static DeviceBuffer buffer(CpuBackend backend, float[] values, int rows, int cols) {
        DeviceBuffer buffer = backend.allocate(rows, cols);
        // The CPU backend's buffers are heap arrays: fill one directly (the API has no upload for activations).
        System.arraycopy(values, 0, ((CpuBuffer) buffer).data(), 0, rows * cols);
        return buffer;
    }

    /** @return the first {@code rows} rows of {@code buffer} */
    static float[] read(CpuBackend backend, DeviceBuffer buffer, int rows) {
        float[] values = new float[rows * buffer.cols()];
        backend.read(buffer, rows, values);
        return values;
    }

    /** @return an F32 weight of {@code rows x cols} holding {@code values} */
    static DeviceWeight f32Weight(CpuBackend backend, float[] values, int rows, int cols) {
        MemorySegment data = Arena.ofAuto().allocate(4L * values.length, 64);
        MemorySegment.copy(values, 0, data, Simd.FLOAT_LE, 0, values.length);
        return backend.upload(new HostTensor("test.f32", TensorType.F32, rows, cols, data));
    }
}
