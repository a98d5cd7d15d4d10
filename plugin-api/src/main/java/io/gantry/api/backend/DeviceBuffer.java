package io.gantry.api.backend;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A device-resident F32 matrix of {@link #capacityRows()} rows by {@link #cols()} columns, for activations.
 * Made by {@link DeviceBackend#allocate}; an opaque handle, valid only with the backend that made it.
 * Operations say how many leading rows they use.
 */
@ConsumerType
public interface DeviceBuffer {

    /** @return the most rows the buffer holds */
    int capacityRows();

    /** @return elements per row */
    int cols();

    /** Frees the device memory; further use is an error. Idempotent. */
    void release();
}
