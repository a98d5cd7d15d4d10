package io.gantry.api.plugin;

/**
 * One registered plugin implementation, as the {@link PluginRegistry} lists it.
 *
 * @param kind        what kind of plugin it is
 * @param name        its {@link PluginProperties#NAME}
 * @param description its {@link PluginProperties#DESCRIPTION}, or empty
 * @param bundle      the symbolic name of the bundle that registered it
 * @param version     that bundle's version
 * @param ranking     its {@code service.ranking} (0 when not set)
 * @param serviceId   its {@code service.id}
 * @param active      whether the engine is bound to it now
 */
public record PluginInfo(PluginKind kind, String name, String description, String bundle, String version,
        int ranking, long serviceId, boolean active) {
}
