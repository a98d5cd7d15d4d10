package io.gantry.engine.plugins;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.plugin.PluginProperties;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Constants;

class BackendSelectorTest {

    private final BackendSelector selector = new BackendSelector();
    @SuppressWarnings({"unchecked", "rawtypes"}) // the slot holds Objects here, as the engine's backend slot does
    private final PluginSlot<Object> slot = new PluginSlot<>("backend", Duration.ofSeconds(5), (PluginSlot.Selector) selector);

    private void bind(String name, long serviceId, int ranking) {
        slot.bind(name, name, serviceId, Map.of(PluginProperties.NAME, name, Constants.SERVICE_RANKING, ranking,
                Constants.SERVICE_ID, serviceId));
    }

    private String active() {
        return slot.call(String::valueOf, Duration.ZERO);
    }

    @Test
    void withoutATargetTheHighestRankingWins() {
        bind("cpu", 1, 0);
        assertEquals("cpu", active());
        bind("cuda", 2, 10);
        assertEquals("cuda", active());
        slot.unbind("cuda");
        assertEquals("cpu", active());
    }

    @Test
    void aTargetPinsTheBackendWhenItIsAvailable() {
        bind("cpu", 1, 0);
        bind("cuda", 2, 10);
        assertTrue(selector.target("(gantry.plugin.name=cpu)"));
        slot.reselect();
        assertEquals("cpu", active());
        assertFalse(selector.target("(gantry.plugin.name=cpu)"));
    }

    @Test
    void anUnavailableTargetFallsBackToTheBestAvailableAndReturnsWhenItAppears() {
        selector.target("(gantry.plugin.name=cuda)");
        bind("cpu", 1, 0);
        assertEquals("cpu", active());
        bind("other", 3, -5);
        assertEquals("cpu", active());
        bind("cuda", 2, 10);
        assertEquals("cuda", active());
        slot.unbind("cuda");
        assertEquals("cpu", active());
    }

    @Test
    void anInvalidTargetChoosesByRanking() {
        selector.target("(gantry.plugin.name=cuda");
        bind("cpu", 1, 0);
        bind("cuda", 2, 3);
        assertEquals("cuda", active());
        selector.target(null);
        assertEquals(2, slot.activeServiceId());
    }
}
