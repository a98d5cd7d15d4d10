package io.gantry.transport.rest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Collections;
import java.util.Dictionary;
import java.util.HashSet;
import java.util.Hashtable;
import java.util.Set;
import java.util.regex.Pattern;

import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * The engine's A/B {@code variants} setting, written through Config Admin. The format is checked here before it is
 * stored, so that a caller hears of a mistake in the response rather than only in the engine's log: comma-separated
 * {@code NAME:WEIGHT:SCHEDULER[+ALLOCATOR]}, names of letters, digits, {@code _ . -} used once, weights of at least
 * 1, {@code *} for the engine's active plugin. Whether the named plugins exist is the engine's to judge when it
 * applies the setting.
 */
final class EngineVariants {

    /** The engine's configuration PID. */
    static final String ENGINE_PID = "io.gantry.engine";
    static final String PROPERTY = "variants";

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]+");

    private EngineVariants() {
    }

    /**
     * @param setting the variants, blank for no A/B comparison
     * @throws IllegalArgumentException naming the part that is malformed
     */
    static void check(String setting) {
        if (setting.isBlank()) {
            return;
        }
        Set<String> names = new HashSet<>();
        for (String part : setting.split(",")) {
            String[] fields = part.trim().split(":");
            if (fields.length != 3) {
                throw new IllegalArgumentException("A variant is NAME:WEIGHT:SCHEDULER[+ALLOCATOR], got '"
                        + part.trim() + "'");
            }
            String name = fields[0].trim();
            if (!NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("A variant name is letters, digits, '_', '.' or '-', got '" + name
                        + "'");
            }
            int weight;
            try {
                weight = Integer.parseInt(fields[1].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("The weight of variant " + name + " is not a number: '"
                        + fields[1].trim() + "'");
            }
            if (weight < 1) {
                throw new IllegalArgumentException("Variant " + name + " needs a weight of at least 1, got " + weight);
            }
            String[] plugins = fields[2].trim().split("\\+", -1);
            if (plugins.length > 2) {
                throw new IllegalArgumentException("Variant " + name + " names more than a scheduler and an "
                        + "allocator: '" + fields[2].trim() + "'");
            }
            for (String plugin : plugins) {
                if (plugin.isBlank()) {
                    throw new IllegalArgumentException("An empty plugin name in variant " + name
                            + "; use * for the active one");
                }
            }
            if (!names.add(name)) {
                throw new IllegalArgumentException("Variant " + name + " is defined twice");
            }
        }
    }

    /**
     * Checks the setting and stores it in the engine's configuration, keeping its other properties; a blank setting
     * removes it.
     *
     * @throws IllegalArgumentException if the setting is malformed
     * @throws UncheckedIOException     if Config Admin cannot store it
     */
    static void store(ConfigurationAdmin admin, String setting) {
        check(setting);
        try {
            // "?": the engine's bundle, not this one, must receive a configuration created here.
            Configuration configuration = admin.getConfiguration(ENGINE_PID, "?");
            Dictionary<String, Object> properties = configuration.getProperties();
            Dictionary<String, Object> updated = new Hashtable<>();
            if (properties != null) {
                for (String key : Collections.list(properties.keys())) {
                    updated.put(key, properties.get(key));
                }
            }
            if (setting.isBlank()) {
                updated.remove(PROPERTY);
            } else {
                updated.put(PROPERTY, setting.trim());
            }
            configuration.update(updated);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not update configuration " + ENGINE_PID, e);
        }
    }
}
