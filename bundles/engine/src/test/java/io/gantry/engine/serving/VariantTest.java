package io.gantry.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class VariantTest {

    @Test
    void blankMeansOneDefaultVariant() {
        assertEquals(List.of(Variant.DEFAULT), Variant.parse(""));
        assertEquals(List.of(Variant.DEFAULT), Variant.parse(null));
    }

    @Test
    void variantsNameWeightSchedulerAndAllocator() {
        assertEquals(List.of(new Variant("control", 50, "continuous", "paged"),
                new Variant("test", 25, "priority", null), new Variant("c", 1, null, "contiguous")),
                Variant.parse("control:50:continuous+paged, test:25:priority , c:1:*+contiguous"));
    }

    @Test
    void malformedVariantsAreRefusedNamingThePart() {
        for (String bad : List.of("a:1", "a:x:continuous", "a:0:continuous", "a b:1:continuous",
                "a:1:continuous+paged+x", "a:1:", "a:1:continuous, a:2:static")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Variant.parse(bad), bad);
            assertTrue(e.getMessage().length() > 10, e.getMessage());
        }
    }
}
