package io.gantry.engine.serving;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One arm of an online A/B comparison: a share of the traffic served with a given scheduler and KV allocator.
 * Every metric of its requests carries its name in the {@code variant} label.
 *
 * @param name      the variant's name, for the {@code variant} label
 * @param weight    its share of the traffic, relative to the other variants' weights; at least 1
 * @param scheduler the scheduler's plugin name, or {@code null} for the engine's active one
 * @param allocator the KV allocator's plugin name, or {@code null} for the engine's active one
 */
public record Variant(String name, int weight, String scheduler, String allocator) {

    /** Declared before {@link #DEFAULT}, whose construction checks its name against it. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]+");

    /** The one variant when there is no A/B comparison: the engine's active plugins. */
    public static final Variant DEFAULT = new Variant("default", 1, null, null);

    /** Checks the name and the weight. */
    public Variant {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("A variant name is letters, digits, '_', '.' or '-', got '" + name
                    + "'");
        }
        if (weight < 1) {
            throw new IllegalArgumentException("Variant " + name + " needs a weight of at least 1, got " + weight);
        }
    }

    /**
     * Parses the engine's {@code variants} setting: comma-separated {@code NAME:WEIGHT:SCHEDULER[+ALLOCATOR]},
     * e.g. {@code control:50:continuous+paged, test:50:priority+contiguous}; {@code *} for a plugin keeps the
     * engine's active one.
     *
     * @param setting the setting; blank for no A/B comparison
     * @return the variants, {@link #DEFAULT} alone for a blank setting
     * @throws IllegalArgumentException naming the part that is malformed, or a name used twice
     */
    public static List<Variant> parse(String setting) {
        if (setting == null || setting.isBlank()) {
            return List.of(DEFAULT);
        }
        List<Variant> variants = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (String part : setting.split(",")) {
            String[] fields = part.trim().split(":");
            if (fields.length != 3) {
                throw new IllegalArgumentException("A variant is NAME:WEIGHT:SCHEDULER[+ALLOCATOR], got '"
                        + part.trim() + "'");
            }
            int weight;
            try {
                weight = Integer.parseInt(fields[1].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("The weight of variant " + fields[0].trim() + " is not a number: '"
                        + fields[1].trim() + "'");
            }
            String[] plugins = fields[2].trim().split("\\+", -1);
            if (plugins.length > 2) {
                throw new IllegalArgumentException("Variant " + fields[0].trim() + " names more than a scheduler and "
                        + "an allocator: '" + fields[2].trim() + "'");
            }
            Variant variant = new Variant(fields[0].trim(), weight, plugin(plugins[0]),
                    plugins.length == 2 ? plugin(plugins[1]) : null);
            if (!names.add(variant.name())) {
                throw new IllegalArgumentException("Variant " + variant.name() + " is defined twice");
            }
            variants.add(variant);
        }
        return List.copyOf(variants);
    }

    private static String plugin(String name) {
        String trimmed = name.trim();
        if (trimmed.isEmpty()) {
            throw new IllegalArgumentException("An empty plugin name in a variant; use * for the active one");
        }
        return trimmed.equals("*") ? null : trimmed;
    }
}
