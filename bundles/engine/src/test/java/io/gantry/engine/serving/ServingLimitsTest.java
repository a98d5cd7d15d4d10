package io.gantry.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.backend.TensorType;
import org.junit.jupiter.api.Test;

/** The {@code kvCacheType} configuration value: what it accepts, and the error for anything else. */
class ServingLimitsTest {

    @Test
    void kvCacheTypeAcceptsF16AndF32InAnyCase() {
        assertEquals(TensorType.F16, ServingLimits.kvCacheType("f16"));
        assertEquals(TensorType.F32, ServingLimits.kvCacheType(" F32 "));
    }

    @Test
    void kvCacheTypeRejectsOtherValuesNamingThem() {
        for (String bad : new String[] {"q8_0", "", "float"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ServingLimits.kvCacheType(bad));
            assertTrue(e.getMessage().contains("kvCacheType") && e.getMessage().contains("'" + bad + "'"),
                    e.getMessage());
        }
    }
}
