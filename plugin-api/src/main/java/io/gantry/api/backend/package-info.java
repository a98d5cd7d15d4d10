/**
 * Compute backends. A {@link io.gantry.api.backend.DeviceBackend} owns one device's memory (weights,
 * activations, the KV pool) and runs the operations a transformer needs. Model architectures are
 * written once, in the engine, against these operations: a new backend needs no architecture code and a
 * new architecture needs no backend code.
 */
@Version("1.1.0")
@Export
package io.gantry.api.backend;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
