/**
 * What every Gantry plugin shares: the service properties that name a plugin and say what kind it is,
 * and {@link io.gantry.api.plugin.InFlightGate}, the drain mechanism behind the hot-swap rule
 * (count in-flight calls, let them finish, then free).
 */
@Version("1.0.0")
@Export
package io.gantry.api.plugin;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
