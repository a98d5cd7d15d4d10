package io.gantry.api.plugin;

/**
 * Service property names every Gantry plugin registers with, so that the runtime, the admin API and
 * Config Admin {@code target} filters can tell plugins apart without loading their classes.
 *
 * <p>A plugin component registers its service with {@link #NAME} (for example {@code continuous}) and,
 * optionally, {@code service.ranking}. Which implementation a consumer binds is chosen by ranking when
 * no target is configured, or by a target filter such as {@code (gantry.plugin.name=continuous)} set
 * through Config Admin. Code never picks an implementation by class.
 */
public final class PluginProperties {

    /** Service property: the short, unique name of the implementation, e.g. {@code paged}. */
    public static final String NAME = "gantry.plugin.name";

    /** Service property: a one-line, human-readable description shown by the admin API and shell. */
    public static final String DESCRIPTION = "gantry.plugin.description";

    private PluginProperties() {
    }

    /**
     * The LDAP filter that selects the plugin with the given name, as used in a Config Admin
     * {@code <reference>.target} property.
     *
     * @param name a plugin name; must not contain LDAP filter metacharacters
     * @return {@code (gantry.plugin.name=<name>)}
     * @throws IllegalArgumentException if the name is empty or contains {@code ( ) * \ =}
     */
    public static String targetFilter(String name) {
        if (name == null || name.isBlank() || name.chars().anyMatch(c -> "()*\\=".indexOf(c) >= 0)) {
            throw new IllegalArgumentException("Invalid plugin name '" + name
                    + "': it must be non-empty and must not contain ( ) * \\ =");
        }
        return "(" + NAME + "=" + name + ")";
    }
}
