/**
 * Transports: how clients reach Gantry (REST now, others later). A transport consumes the {@link
 * io.gantry.api.inference.InferenceService} and owns its protocol, authentication and limits; it
 * registers a {@link io.gantry.api.transport.Transport} service so the runtime can list it.
 */
@Version("1.0.0")
@Export
package io.gantry.api.transport;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
