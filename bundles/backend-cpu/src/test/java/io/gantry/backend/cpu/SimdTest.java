package io.gantry.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** Simd's exp: accuracy against Math.exp, the special cases, and vector and scalar twins giving the same bits. */
class SimdTest {

    @Test
    void expIsWithinOneUlpOfMathExpOverTheWholeNormalRange() {
        float worst = 0;
        for (float x = -87.3f; x <= 88.3f; x = Math.nextUp(x + 1e-4f)) {
            float expected = (float) Math.exp(x);
            float ulps = Math.abs(Simd.exp(x) - expected) / Math.ulp(expected);
            worst = Math.max(worst, ulps);
        }
        assertTrue(worst <= 1, "worst error " + worst + " ulp");
    }

    @Test
    void expHandlesTheEdges() {
        assertEquals(1f, Simd.exp(0f));
        assertEquals(1f, Simd.exp(-0f));
        assertEquals((float) Math.E, Simd.exp(1f), Math.ulp((float) Math.E));
        assertEquals(0f, Simd.exp(-88f));
        assertEquals(0f, Simd.exp(Float.NEGATIVE_INFINITY));
        assertEquals(Float.POSITIVE_INFINITY, Simd.exp(89f));
        assertEquals(Float.POSITIVE_INFINITY, Simd.exp(Float.POSITIVE_INFINITY));
        assertTrue(Float.isNaN(Simd.exp(Float.NaN)));
        // silu's e^-g for a large negative gate: g / (1 + e^-g) must go to -0, not NaN.
        assertEquals(-0f, -100f / (1 + Simd.exp(100f)));
    }

    /**
     * Every lane of the vector exp gives the scalar exp's bits, on the first calls (interpreted) and after
     * enough calls for C2 to compile both: outputs may not depend on what has been compiled yet.
     */
    @Test
    void vectorAndScalarExpGiveTheSameBitsBeforeAndAfterCompilation() {
        assumeTrue(Simd.AVAILABLE, "no vector species of at least 128 bits here");
        Random random = new Random(7);
        float[] x = new float[4096];
        for (int i = 0; i < x.length; i++) {
            x[i] = switch (i % 8) {
                case 0 -> Float.NEGATIVE_INFINITY;
                case 1 -> Float.NaN;
                case 2 -> 200 * random.nextFloat() - 100;
                default -> -30 * random.nextFloat();
            };
        }
        float[] out = new float[x.length];
        for (int round = 0; round < 2_000; round++) {
            for (int i = 0; i < x.length; i += Simd.LANES) {
                Simd.exp(FloatVector.fromArray(Simd.F, x, i)).intoArray(out, i);
            }
            if (round == 0 || round == 1_999) {
                for (int i = 0; i < x.length; i++) {
                    assertEquals(Float.floatToIntBits(Simd.exp(x[i])), Float.floatToIntBits(out[i]),
                            "exp(" + x[i] + ") in round " + round);
                }
            }
        }
    }
}
