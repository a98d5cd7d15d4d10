package io.gantry.engine.plugins;

import io.gantry.api.kv.KvCacheAllocator;
import io.gantry.api.plugin.PluginInfo;
import io.gantry.api.plugin.PluginKind;
import io.gantry.api.plugin.PluginProperties;
import io.gantry.api.plugin.PluginRegistry;
import io.gantry.api.scheduler.Scheduler;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.Filter;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceObjects;
import org.osgi.framework.ServiceReference;
import org.osgi.util.tracker.ServiceTracker;

/**
 * The plugins of one step loop (one model, one A/B variant), on top of the engine's {@link PluginRegistry}:
 * <ul>
 * <li>the KV allocator is the loop's own instance (allocators are prototype-scoped services; one instance keeps
 * the books of one pool), of the allocator named for the variant or else of the engine's active one; when that
 * changes, the loop gets a new instance and the step loop's swap rule applies;</li>
 * <li>the scheduler is the one named for the variant, or else the engine's active one;</li>
 * <li>the backend is always the engine's active one (a backend serves many pools).</li>
 * </ul>
 * Used by one step loop's thread; {@link #close()} returns the allocator instance.
 */
public final class LoopPlugins implements PluginRegistry, AutoCloseable {

    private final PluginRegistry engine;
    private final BundleContext context;
    private final ServiceTracker<Scheduler, Scheduler> namedScheduler;
    private final Filter namedAllocator;
    /** The loop's allocator instance and where it came from; the loop's thread only. */
    private ServiceObjects<KvCacheAllocator> allocatorObjects;
    private KvCacheAllocator allocator;
    private long allocatorServiceId = -1;

    /**
     * @param engine        the engine's registry: its active plugins are the defaults
     * @param context       the engine bundle's context
     * @param schedulerName the scheduler this loop uses, or {@code null} for the engine's active one
     * @param allocatorName the KV allocator this loop uses, or {@code null} for the engine's active one
     */
    public LoopPlugins(PluginRegistry engine, BundleContext context, String schedulerName, String allocatorName) {
        this.engine = engine;
        this.context = context;
        try {
            this.namedScheduler = schedulerName == null ? null : new ServiceTracker<>(context,
                    FrameworkUtil.createFilter("(&(" + Constants.OBJECTCLASS + "=" + Scheduler.class.getName() + ")"
                            + PluginProperties.targetFilter(schedulerName) + ")"), null);
            this.namedAllocator = allocatorName == null ? null : FrameworkUtil.createFilter("(&("
                    + Constants.OBJECTCLASS + "=" + KvCacheAllocator.class.getName() + ")"
                    + PluginProperties.targetFilter(allocatorName) + ")");
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException("Not a plugin name: " + schedulerName + " / " + allocatorName, e);
        }
        if (namedScheduler != null) {
            namedScheduler.open();
        }
    }

    @Override
    public List<PluginInfo> plugins(PluginKind kind) {
        return engine.plugins(kind);
    }

    @Override
    public Optional<PluginInfo> active(PluginKind kind) {
        return engine.active(kind);
    }

    @Override
    public void select(PluginKind kind, String name) {
        engine.select(kind, name);
    }

    @Override
    public <T, R> R call(Class<T> type, Function<? super T, ? extends R> call, Duration waitUpTo) {
        if (type == KvCacheAllocator.class) {
            return call.apply(type.cast(allocator(waitUpTo)));
        }
        if (type == Scheduler.class && namedScheduler != null) {
            Scheduler scheduler = await(namedScheduler, waitUpTo);
            return call.apply(type.cast(scheduler));
        }
        return engine.call(type, call, waitUpTo);
    }

    /** @return this loop's allocator instance, renewed when the allocator to use is another service now */
    private KvCacheAllocator allocator(Duration waitUpTo) {
        long deadline = System.nanoTime() + waitUpTo.toNanos();
        ServiceReference<KvCacheAllocator> reference = allocatorReference();
        while (reference == null) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("No KV allocator " + (namedAllocator == null ? "" : namedAllocator
                        + " ") + "within " + waitUpTo);
            }
            sleep();
            reference = allocatorReference();
        }
        long serviceId = (Long) reference.getProperty(Constants.SERVICE_ID);
        if (serviceId != allocatorServiceId || allocator == null) {
            releaseAllocator();
            ServiceObjects<KvCacheAllocator> objects = context.getServiceObjects(reference);
            KvCacheAllocator instance = objects == null ? null : objects.getService();
            if (instance == null) {
                throw new IllegalStateException("The KV allocator service " + serviceId + " went away");
            }
            allocatorObjects = objects;
            allocator = instance;
            allocatorServiceId = serviceId;
        }
        return allocator;
    }

    private ServiceReference<KvCacheAllocator> allocatorReference() {
        try {
            if (namedAllocator != null) {
                ServiceReference<?>[] references = context.getServiceReferences(KvCacheAllocator.class.getName(),
                        namedAllocator.toString());
                // The highest-ranked one of that name, as the framework orders them.
                return references == null ? null : highest(references);
            }
            Optional<PluginInfo> active = engine.active(PluginKind.KV_ALLOCATOR);
            if (active.isEmpty()) {
                return null;
            }
            ServiceReference<?>[] references = context.getServiceReferences(KvCacheAllocator.class.getName(),
                    "(" + Constants.SERVICE_ID + "=" + active.get().serviceId() + ")");
            return references == null ? null : highest(references);
        } catch (InvalidSyntaxException e) {
            throw new AssertionError("The filters are built from checked names", e);
        }
    }

    @SuppressWarnings("unchecked") // looked up by the allocator's class name
    private static ServiceReference<KvCacheAllocator> highest(ServiceReference<?>[] references) {
        ServiceReference<?> best = references[0];
        for (ServiceReference<?> reference : references) {
            if (reference.compareTo(best) > 0) {
                best = reference;
            }
        }
        return (ServiceReference<KvCacheAllocator>) best;
    }

    private static <T> T await(ServiceTracker<T, T> tracker, Duration waitUpTo) {
        try {
            T service = tracker.waitForService(Math.max(1, waitUpTo.toMillis()));
            if (service == null) {
                throw new IllegalStateException("No " + tracker + " within " + waitUpTo);
            }
            return service;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while waiting for a plugin", e);
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(10);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while waiting for a KV allocator", e);
        }
    }

    private void releaseAllocator() {
        if (allocator != null) {
            try {
                allocatorObjects.ungetService(allocator);
            } catch (IllegalStateException | IllegalArgumentException e) {
                // The service is already gone, and its instances with it.
            }
            allocator = null;
            allocatorObjects = null;
            allocatorServiceId = -1;
        }
    }

    /** Returns the allocator instance and stops tracking the named scheduler. */
    @Override
    public void close() {
        releaseAllocator();
        if (namedScheduler != null) {
            namedScheduler.close();
        }
    }
}
