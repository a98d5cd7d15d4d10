package io.gantry.api.plugin;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The engine's view of which plugin of each {@link PluginKind} is active, and the safe way to call it.
 * Implemented by the engine only; thread-safe.
 *
 * <p>Calls go through {@link #call}: it leases the active implementation for the length of the call, so
 * a swap (a new bundle, a removed bundle, a changed target) waits for calls already inside the old one
 * and sends later calls to the new one. No call sees a half-deactivated plugin.
 */
@ProviderType
public interface PluginRegistry {

    /**
     * @param kind a plugin kind
     * @return every registered implementation of that kind, the active one marked
     */
    List<PluginInfo> plugins(PluginKind kind);

    /**
     * @param kind a plugin kind
     * @return the implementation the engine is bound to now, if any
     */
    Optional<PluginInfo> active(PluginKind kind);

    /**
     * Makes the named implementation the active one by setting the engine's {@code <kind>.target}
     * through Config Admin, or goes back to choosing by ranking when {@code name} is {@code null}. The
     * switch happens asynchronously, at the next call boundary.
     *
     * @param kind the plugin kind
     * @param name the plugin name, or {@code null} for "highest ranking"
     * @throws IllegalArgumentException if the name is not a valid plugin name
     * @throws IllegalStateException    if Config Admin is not available
     */
    void select(PluginKind kind, String name);

    /**
     * Calls the active implementation of a kind, holding it for the length of the call.
     *
     * @param <T>      the plugin's service type
     * @param <R>      the call's result
     * @param type     the service type, one of the {@link PluginKind#serviceType()}s
     * @param call     what to do with the plugin; must not keep the reference after it returns
     * @param waitUpTo how long to wait for an implementation when none is bound (e.g. during a swap)
     * @return the call's result
     * @throws IllegalStateException if no implementation was bound within {@code waitUpTo}
     */
    <T, R> R call(Class<T> type, Function<? super T, ? extends R> call, Duration waitUpTo);
}
