/**
 * The inference service the engine provides and transports consume: list models, tokenize, submit a
 * generation request and receive its tokens as a stream, cancel it.
 */
@Version("1.1.0")
@Export
package io.gantry.api.inference;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
