package io.gantry.api.backend;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A weight tensor living on a device, made by {@link DeviceBackend#upload}. An opaque handle: only the
 * backend that made it may use it, and it stays valid until that backend is {@link DeviceBackend#close()
 * closed} or the weight is {@link #release() released}.
 */
@ConsumerType
public interface DeviceWeight {

    /** @return the source tensor's name */
    String name();

    /** @return the storage format on the device (a backend may convert, e.g. BF16 to F16) */
    TensorType type();

    /** @return number of rows */
    int rows();

    /** @return elements per row */
    int cols();

    /** Frees the device memory this weight holds; further use is an error. Idempotent. */
    void release();
}
