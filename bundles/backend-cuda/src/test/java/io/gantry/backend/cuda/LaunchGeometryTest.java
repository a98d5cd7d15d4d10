package io.gantry.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.backend.TensorType;
import java.util.List;
import org.junit.jupiter.api.Test;

class LaunchGeometryTest {

    @Test
    void everyRowOfAProductIsCoveredOnceByAKernelThatHoldsIt() {
        for (TensorType type : Kernel.WEIGHT_TYPES) {
            for (int rows : new int[] {1, 2, 3, 7, 8, 9, 17, 64, 65, 512}) {
                List<LaunchGeometry.MatmulLaunch> launches = LaunchGeometry.matmul(type, rows, 300);
                int next = 0;
                for (LaunchGeometry.MatmulLaunch launch : launches) {
                    assertEquals(next, launch.firstRow());
                    next += launch.rows();
                    if (launch.kernel().name().startsWith("mma_")) {
                        assertEquals(5, launch.geometry().gridX(), "300 outputs in tiles of 64");
                        assertTrue(launch.geometry().gridY() * LaunchGeometry.MMA_TILE >= launch.rows());
                    } else {
                        int variant = Integer.parseInt(launch.kernel().name().replaceAll(".*_", ""));
                        assertTrue(variant >= launch.rows() && launch.rows() <= LaunchGeometry.GEMV_MAX_ROWS);
                        assertEquals(75, launch.geometry().gridX(), "300 outputs, 4 per block");
                    }
                }
                assertEquals(rows, next, type + " x " + rows);
            }
        }
    }

    @Test
    void decodeReadsWeightsOnceAndPrefillUsesTensorCores() {
        assertEquals(List.of("gemv_q8_0_4"), names(LaunchGeometry.matmul(TensorType.Q8_0, 3, 64)));
        assertEquals(List.of("mma_q4_0"), names(LaunchGeometry.matmul(TensorType.Q4_0, 9, 64)));
        assertEquals(List.of("gemv_f32_8", "gemv_f32_2"), names(LaunchGeometry.matmul(TensorType.F32, 10, 64)));
        assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.gemvVariant(9));
    }

    @Test
    void elementwiseLaunchesAreBoundedGridStrides() {
        assertEquals(new LaunchGeometry(1, 1, 256), LaunchGeometry.elementwise(1));
        assertEquals(new LaunchGeometry(4, 1, 256), LaunchGeometry.elementwise(1000));
        assertEquals(8192, LaunchGeometry.elementwise(1L << 40).gridX());
        assertEquals(new LaunchGeometry(7, 32, 256), LaunchGeometry.attention(7, 32));
    }

    private static List<String> names(List<LaunchGeometry.MatmulLaunch> launches) {
        return launches.stream().map(l -> l.kernel().name()).toList();
    }
}
