package io.gantry.engine.plugins;

import io.gantry.api.plugin.PluginInfo;
import io.gantry.api.plugin.PluginKind;
import io.gantry.api.plugin.PluginRegistry;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * Gogo shell commands ({@code gantry --shell}): {@code gantry:plugins} lists every plugin and marks the
 * active ones; {@code gantry:use <kind> <name>} switches one (as Config Admin would);
 * {@code gantry:use <kind>} goes back to choosing by ranking.
 */
@Component(service = PluginCommands.class, property = {
        "osgi.command.scope=gantry",
        "osgi.command.function=plugins",
        "osgi.command.function=use" })
public final class PluginCommands {

    @Reference
    private PluginRegistry registry;

    /** Prints every plugin of every kind; {@code *} marks the active one. */
    public void plugins() {
        for (PluginKind kind : PluginKind.values()) {
            System.out.println(kind.key() + ":");
            for (PluginInfo plugin : registry.plugins(kind)) {
                System.out.printf("  %s %-24s ranking %-5d %s %s  %s%n", plugin.active() ? "*" : " ", plugin.name(),
                        plugin.ranking(), plugin.bundle(), plugin.version(), plugin.description());
            }
        }
    }

    /**
     * @param kind a plugin kind, e.g. {@code scheduler}
     * @param name the plugin to make active
     */
    public void use(String kind, String name) {
        registry.select(PluginKind.fromKey(kind), name);
        System.out.println(kind + " -> " + name + " (applied at the next step)");
    }

    /** @param kind a plugin kind whose selection goes back to the highest ranking */
    public void use(String kind) {
        registry.select(PluginKind.fromKey(kind), null);
        System.out.println(kind + " -> highest ranking (applied at the next step)");
    }
}
