package io.gantry.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gantry.api.backend.AttentionBatch;
import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.RopeSpec;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** rope against the rotation formula evaluated directly in float64. */
class RopeTest {

    private static final int HEADS = 3;
    private static final int HEAD_DIM = 16;

    static Stream<Arguments> specs() {
        RopeSpec.Llama3Scaling llama3 = new RopeSpec.Llama3Scaling(8, 1, 4, 64);
        return Stream.of(
                Arguments.of(new RopeSpec(RopeSpec.Style.NORMAL, HEAD_DIM, 10000, 1, null)),
                Arguments.of(new RopeSpec(RopeSpec.Style.NEOX, HEAD_DIM, 1000000, 1, null)),
                Arguments.of(new RopeSpec(RopeSpec.Style.NORMAL, HEAD_DIM, 500000, 1, llama3)),
                Arguments.of(new RopeSpec(RopeSpec.Style.NEOX, HEAD_DIM / 2, 10000, 0.5f, null)));
    }

    @ParameterizedTest
    @MethodSource("specs")
    void rotatesByTheFormula(RopeSpec spec) {
        // Two sequences: rows 0..2 at positions 0..2, rows 3..4 at positions 3000..3001 (beyond a first table).
        AttentionBatch batch = new AttentionBatch(2, new int[] {0, 3}, new int[] {3, 2}, new int[] {0, 3000},
                new int[][] {{0}, {0}}, 4096);
        int[] positions = {0, 1, 2, 3000, 3001};
        int cols = HEADS * HEAD_DIM;
        float[] x = TestTensors.gaussian(5 * cols, new Random(30));
        try (CpuBackend backend = new CpuBackend(1, true)) {
            DeviceBuffer buffer = BackendTestSupport.buffer(backend, x, 5, cols);
            backend.rope(buffer, HEADS, batch, spec);
            float[] got = BackendTestSupport.read(backend, buffer, 5);
            int pairs = spec.rotaryDims() / 2;
            for (int r = 0; r < 5; r++) {
                for (int h = 0; h < HEADS; h++) {
                    int head = r * cols + h * HEAD_DIM;
                    double[] expected = new double[HEAD_DIM];
                    for (int d = 0; d < HEAD_DIM; d++) {
                        expected[d] = x[head + d];
                    }
                    for (int i = 0; i < pairs; i++) {
                        int a = spec.style() == RopeSpec.Style.NORMAL ? 2 * i : i;
                        int b = spec.style() == RopeSpec.Style.NORMAL ? 2 * i + 1 : i + pairs;
                        double angle = positions[r] * spec.frequency(i);
                        expected[a] = x[head + a] * Math.cos(angle) - x[head + b] * Math.sin(angle);
                        expected[b] = x[head + a] * Math.sin(angle) + x[head + b] * Math.cos(angle);
                    }
                    for (int d = 0; d < HEAD_DIM; d++) {
                        assertEquals(expected[d], got[head + d], 1e-5, "row " + r + " head " + h + " element " + d);
                    }
                }
            }
        }
    }
}
