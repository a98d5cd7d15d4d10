package io.gantry.engine.plugins;

import io.gantry.api.backend.DeviceBackend;
import io.gantry.api.cache.ResponseCache;
import io.gantry.api.kv.KvCacheAllocator;
import io.gantry.api.plugin.PluginInfo;
import io.gantry.api.plugin.PluginKind;
import io.gantry.api.plugin.PluginProperties;
import io.gantry.api.plugin.PluginRegistry;
import io.gantry.api.scheduler.Scheduler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.Dictionary;
import java.util.EnumMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * The engine's binding to the active plugin of each kind. Each kind is a dynamic, greedy, optional
 * reference whose name is the kind's {@link PluginKind#key() key}, so Config Admin selects an
 * implementation with {@code <key>.target} under this component's PID, {@value #PID}; without a
 * target the highest {@code service.ranking} wins.
 */
@Component(name = EnginePlugins.PID, configurationPolicy = ConfigurationPolicy.OPTIONAL, service = PluginRegistry.class,
        immediate = true)
public final class EnginePlugins implements PluginRegistry {

    /** The configuration PID (and component name) whose {@code <kind>.target} properties select plugins. */
    public static final String PID = "io.gantry.engine.plugins";

    /** The configuration key that selects the backend. */
    private static final String BACKEND_TARGET = PluginKind.BACKEND.key() + ".target";

    /** How long an unbind waits for calls inside the old plugin before giving up on them. */
    private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(30);

    private final Map<PluginKind, PluginSlot<?>> slots = new EnumMap<>(PluginKind.class);
    private final BackendSelector backendSelector = new BackendSelector();
    private BundleContext context;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC)
    private volatile ConfigurationAdmin configurationAdmin;

    /** Creates the slots; SCR binds plugins into them before {@link #activate}. */
    public EnginePlugins() {
        for (PluginKind kind : PluginKind.values()) {
            slots.put(kind, kind == PluginKind.BACKEND
                    ? new PluginSlot<>(kind.key(), DRAIN_TIMEOUT, backendSelector)
                    : new PluginSlot<>(kind.key(), DRAIN_TIMEOUT));
        }
    }

    @Activate
    void activate(BundleContext bundleContext, Map<String, Object> properties) {
        this.context = bundleContext;
        modified(properties);
    }

    /**
     * Takes a configuration change in place. Without a modified method SCR would deactivate and
     * reactivate the whole component for a new {@code <kind>.target}; with it, SCR only rebinds the
     * affected reference, so a swap never restarts the engine. SCR applies the targets of the other kinds
     * to their references; {@code backend.target} is applied here, so that a backend that is not available
     * falls back to one that is (see {@link BackendSelector}).
     */
    @Modified
    void modified(Map<String, Object> properties) {
        Object target = properties.get(BACKEND_TARGET);
        if (backendSelector.target(target == null ? null : String.valueOf(target))) {
            slots.get(PluginKind.BACKEND).reselect();
        }
    }

    @Reference(name = "scheduler", cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindScheduler(Scheduler plugin, Map<String, Object> properties) {
        bind(PluginKind.SCHEDULER, Scheduler.class, plugin, properties);
    }

    void unbindScheduler(Scheduler plugin) {
        unbind(PluginKind.SCHEDULER, Scheduler.class, plugin);
    }

    @Reference(name = "kvAllocator", cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindKvAllocator(KvCacheAllocator plugin, Map<String, Object> properties) {
        bind(PluginKind.KV_ALLOCATOR, KvCacheAllocator.class, plugin, properties);
    }

    void unbindKvAllocator(KvCacheAllocator plugin) {
        unbind(PluginKind.KV_ALLOCATOR, KvCacheAllocator.class, plugin);
    }

    /**
     * Every backend is bound; {@link BackendSelector} picks the active one. The reference is named
     * {@code backends} so that SCR does not apply {@code backend.target} to it (it would leave the slot empty
     * where the configured backend is unavailable).
     */
    @Reference(name = "backends", cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindBackend(DeviceBackend plugin, Map<String, Object> properties) {
        bind(PluginKind.BACKEND, DeviceBackend.class, plugin, properties);
    }

    void unbindBackend(DeviceBackend plugin) {
        unbind(PluginKind.BACKEND, DeviceBackend.class, plugin);
    }

    @Reference(name = "responseCache", cardinality = ReferenceCardinality.OPTIONAL,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindResponseCache(ResponseCache plugin, Map<String, Object> properties) {
        bind(PluginKind.RESPONSE_CACHE, ResponseCache.class, plugin, properties);
    }

    void unbindResponseCache(ResponseCache plugin) {
        unbind(PluginKind.RESPONSE_CACHE, ResponseCache.class, plugin);
    }

    @Override
    public List<PluginInfo> plugins(PluginKind kind) {
        long activeId = slot(kind).activeServiceId();
        List<PluginInfo> plugins = new ArrayList<>();
        for (ServiceReference<?> reference : references(kind)) {
            plugins.add(describe(kind, reference, activeId));
        }
        plugins.sort(Comparator.comparing(PluginInfo::name));
        return plugins;
    }

    @Override
    public Optional<PluginInfo> active(PluginKind kind) {
        return plugins(kind).stream().filter(PluginInfo::active).findFirst();
    }

    @Override
    public void select(PluginKind kind, String name) {
        String target = name == null ? null : PluginProperties.targetFilter(name);
        ConfigurationAdmin admin = configurationAdmin;
        if (admin == null) {
            throw new IllegalStateException("Config Admin is not available; cannot select a " + kind.key());
        }
        try {
            Configuration configuration = admin.getConfiguration(PID, "?");
            Dictionary<String, Object> properties = configuration.getProperties();
            Dictionary<String, Object> updated = new Hashtable<>();
            if (properties != null) {
                for (String key : Collections.list(properties.keys())) {
                    updated.put(key, properties.get(key));
                }
            }
            String key = kind.key() + ".target";
            if (target == null) {
                updated.remove(key);
            } else {
                updated.put(key, target);
            }
            configuration.update(updated);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not update configuration " + PID, e);
        }
    }

    @Override
    public <T, R> R call(Class<T> type, Function<? super T, ? extends R> call, Duration waitUpTo) {
        for (PluginKind kind : PluginKind.values()) {
            if (kind.serviceType() == type) {
                return slot(kind, type).call(call, waitUpTo);
            }
        }
        throw new IllegalArgumentException(type.getName() + " is not a plugin type");
    }

    /** Binds {@code plugin} into its kind's slot, with the reference properties a slot's selector reads. */
    private <T> void bind(PluginKind kind, Class<T> type, T plugin, Map<String, Object> properties) {
        slot(kind, type).bind(plugin, name(properties), serviceId(properties), properties);
    }

    private <T> void unbind(PluginKind kind, Class<T> type, T plugin) {
        slot(kind, type).unbind(plugin);
    }

    private PluginSlot<?> slot(PluginKind kind) {
        return slots.get(kind);
    }

    @SuppressWarnings("unchecked") // slots are created per kind, each holding its kind's service type
    private <T> PluginSlot<T> slot(PluginKind kind, Class<T> type) {
        return (PluginSlot<T>) slots.get(kind);
    }

    private Collection<ServiceReference<?>> references(PluginKind kind) {
        BundleContext bundleContext = context;
        if (bundleContext == null) {
            return List.of();
        }
        try {
            ServiceReference<?>[] references = bundleContext.getServiceReferences(kind.serviceType().getName(), null);
            return references == null ? List.of() : List.of(references);
        } catch (InvalidSyntaxException e) {
            throw new AssertionError("A null filter cannot be invalid", e);
        }
    }

    private static PluginInfo describe(PluginKind kind, ServiceReference<?> reference, long activeId) {
        long serviceId = (Long) reference.getProperty(Constants.SERVICE_ID);
        Object ranking = reference.getProperty(Constants.SERVICE_RANKING);
        return new PluginInfo(kind, String.valueOf(reference.getProperty(PluginProperties.NAME)),
                String.valueOf(Optional.ofNullable(reference.getProperty(PluginProperties.DESCRIPTION)).orElse("")),
                reference.getBundle().getSymbolicName(), reference.getBundle().getVersion().toString(),
                ranking instanceof Integer value ? value : 0, serviceId, serviceId == activeId);
    }

    private static String name(Map<String, Object> properties) {
        return String.valueOf(properties.getOrDefault(PluginProperties.NAME, "(unnamed)"));
    }

    private static long serviceId(Map<String, Object> properties) {
        return (Long) properties.get(Constants.SERVICE_ID);
    }
}
