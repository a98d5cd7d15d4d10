/** Response caches: exact-match reuse of whole responses for deterministic requests. */
@Version("1.0.0")
@Export
package io.gantry.api.cache;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
