package io.gantry.engine.plugins;

import java.lang.System.Logger.Level;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.osgi.framework.Constants;
import org.osgi.framework.Filter;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.InvalidSyntaxException;

/**
 * Chooses the active compute backend: the highest-ranked one that matches {@code backend.target}, or, where
 * none matches (say {@code cuda} is configured on a machine where CUDA did not start), the highest-ranked
 * one there is, with one log line saying so. Other plugin kinds are pinned by SCR's target filter alone; a
 * backend falls back because a node of a cluster may lack the device its configuration names.
 */
final class BackendSelector implements PluginSlot.Selector<Object> {

    private static final System.Logger LOG = System.getLogger(BackendSelector.class.getName());
    private static final Comparator<PluginSlot.Binding<Object>> BEST_FIRST =
            Comparator.comparingInt((PluginSlot.Binding<Object> b) -> ranking(b.properties())).reversed()
                    .thenComparingLong(PluginSlot.Binding::serviceId);

    private volatile String target;
    private volatile Filter filter;
    /** The last fallback logged, so that each is logged once. */
    private String loggedFallback;

    /**
     * @param target the configured filter, or {@code null} for none
     * @return whether it changed
     */
    boolean target(String target) {
        String normalized = target == null || target.isBlank() ? null : target.trim();
        if (Objects.equals(normalized, this.target)) {
            return false;
        }
        Filter parsed = null;
        if (normalized != null) {
            try {
                parsed = FrameworkUtil.createFilter(normalized);
            } catch (InvalidSyntaxException e) {
                LOG.log(Level.WARNING, "backend.target {0} is not a valid filter ({1}); choosing by ranking",
                        normalized, e.getMessage());
            }
        }
        this.filter = parsed;
        this.target = normalized;
        return true;
    }

    @Override
    public synchronized PluginSlot.Binding<Object> choose(Collection<PluginSlot.Binding<Object>> bindings) {
        List<PluginSlot.Binding<Object>> ranked = bindings.stream().sorted(BEST_FIRST).toList();
        if (ranked.isEmpty()) {
            return null;
        }
        Filter wanted = filter;
        if (wanted == null) {
            return ranked.getFirst();
        }
        for (PluginSlot.Binding<Object> binding : ranked) {
            if (wanted.matches(binding.properties())) {
                loggedFallback = null;
                return binding;
            }
        }
        PluginSlot.Binding<Object> fallback = ranked.getFirst();
        String message = target + " -> " + fallback.name();
        if (!message.equals(loggedFallback)) {
            loggedFallback = message;
            LOG.log(Level.WARNING, "backend.target {0} matches none of the available backends {1}; falling back to {2}",
                    target, ranked.stream().map(PluginSlot.Binding::name).toList(), fallback.name());
        }
        return fallback;
    }

    private static int ranking(Map<String, Object> properties) {
        return properties.get(Constants.SERVICE_RANKING) instanceof Integer ranking ? ranking : 0;
    }
}
