/**
 * Scheduling policies. The engine owns all request state; once per step it hands a {@link
 * io.gantry.api.scheduler.Scheduler} a read-only {@link io.gantry.api.scheduler.SchedulerView} and runs
 * the {@link io.gantry.api.scheduler.StepPlan} it gets back. Because a scheduler keeps no request state
 * of its own, the active scheduler can be swapped between any two steps.
 */
@Version("1.1.0")
@Export
package io.gantry.api.scheduler;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
