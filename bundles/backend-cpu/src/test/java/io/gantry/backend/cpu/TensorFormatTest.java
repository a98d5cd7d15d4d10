package io.gantry.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The decoding kernels of every format: scalar against ggml's reference, vector against scalar. */
class TensorFormatTest {

    /** 2^-23: float's machine epsilon. */
    private static final double EPSILON = 0x1p-23;

    /** @return a row length with a tail for float formats (no whole vector) and whole blocks for block formats */
    static int colsFor(TensorType type) {
        return type.blockElements() == 1 ? 200 + 7 : 512;
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void scalarDecodingMatchesGgmlWithinOneRounding(TensorType type) {
        int cols = colsFor(type);
        TestTensors.TestTensor weights = TestTensors.random(type, 3, cols, new Random(1));
        float[] decoded = decode(weights.tensor(), false);
        for (int i = 0; i < decoded.length; i++) {
            // One rounding of each term the decoder adds (Q4_K: scale·q and min), plus one of d·scale.
            double bound = 2 * EPSILON * weights.magnitudes()[i];
            assertEquals(weights.values()[i], decoded[i], bound, type + " element " + i);
        }
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void vectorDecodingEqualsScalarDecoding(TensorType type) {
        assumeTrue(Simd.AVAILABLE, "no vector species of 128 bits or more here");
        TestTensors.TestTensor weights = TestTensors.random(type, 3, colsFor(type), new Random(2));
        assertArrayEquals(decode(weights.tensor(), false), decode(weights.tensor(), true), 0f, type.name());
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void fusedDotEqualsDotOfDecodedWeights(TensorType type) {
        assumeTrue(Simd.AVAILABLE, "no vector species of 128 bits or more here");
        int cols = type.blockElements() == 1 ? 256 : 512;
        HostTensor tensor = TestTensors.random(type, 1, cols, new Random(3)).tensor();
        TensorFormat format = TensorFormat.of(type);
        float[] x = TestTensors.gaussian(cols, new Random(4));
        float[] decoded = new float[cols];
        format.dequantize(tensor.data(), 0, decoded, 0, cols, true);
        assertTrue(format.canDot(cols));
        // Bit equality: the fused and the decode-then-multiply paths must add the same products in the same order.
        assertEquals(Simd.dot(decoded, 0, x, 0, cols, true), format.dot(tensor.data(), 0, x, 0, cols));
    }

    @Test
    void vectorHalfConversionIsExactForEveryFiniteHalf() {
        assumeTrue(Simd.AVAILABLE, "no vector species of 128 bits or more here");
        MemorySegment halves = Arena.ofAuto().allocate(2 * 65536);
        int finite = 0;
        for (int h = 0; h < 65536; h++) {
            if (Float.isFinite(Float.float16ToFloat((short) h))) {
                halves.set(Simd.SHORT_LE, 2L * finite++, (short) h);
            }
        }
        assertEquals(65536 - 2 * 1024, finite, "every half but the infinities and NaNs");
        float[] converted = new float[finite];
        TensorFormat.of(TensorType.F16).dequantize(halves, 0, converted, 0, finite, true);
        for (int i = 0; i < finite; i++) {
            short h = halves.get(Simd.SHORT_LE, 2L * i);
            assertEquals(Float.floatToRawIntBits(Float.float16ToFloat(h)), Float.floatToRawIntBits(converted[i]),
                    "half 0x" + Integer.toHexString(h & 0xFFFF));
        }
    }

    @Test
    void nonFiniteHalvesAreFoundWhereverTheyAre() {
        int count = 1000;
        MemorySegment halves = Arena.ofAuto().allocate(2L * count);
        for (int i = 0; i < count; i++) {
            halves.set(Simd.SHORT_LE, 2L * i, Float.floatToFloat16(i * 0.001f - 0.5f));
        }
        assertEquals(-1, Simd.firstNonFiniteHalf(halves, 0, count));
        // In a whole vector, then in the tail after the last whole vector.
        for (int at : new int[] {37, count - 1}) {
            for (short special : new short[] {(short) 0x7C00, (short) 0xFC00, (short) 0x7E01}) {
                short saved = halves.get(Simd.SHORT_LE, 2L * at);
                halves.set(Simd.SHORT_LE, 2L * at, special);
                assertEquals(at, Simd.firstNonFiniteHalf(halves, 0, count), "0x" + Integer.toHexString(special));
                halves.set(Simd.SHORT_LE, 2L * at, saved);
            }
        }
    }

    private static float[] decode(HostTensor tensor, boolean vector) {
        float[] out = new float[tensor.rows() * tensor.cols()];
        TensorFormat format = TensorFormat.of(tensor.type());
        for (int r = 0; r < tensor.rows(); r++) {
            format.dequantize(tensor.data(), r * tensor.rowBytes(), out, r * tensor.cols(), tensor.cols(), vector);
        }
        return out;
    }
}
