package io.gantry.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import io.gantry.backend.cpu.CpuBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/** The device layout holds exactly the values the CPU backend reads from the model file's layout. */
class WeightLayoutTest {

    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void repackedWeightsDecodeAsTheCpuBackendDecodesTheOriginal(TensorType type) {
        int rows = 5;
        int cols = type.blockElements() > 1 ? 96 : 44; // 44: float rows that need padding to 16 bytes
        HostTensor tensor = RandomTensors.random(type, rows, cols, 0.5f, new Random(type.ordinal()));
        WeightLayout layout = WeightLayout.of(type, rows, cols);
        assertEquals(0, layout.rowBytes() % 16, "rows start 16-byte aligned");
        assertEquals(0, layout.scalesOffset() % 256);
        try (Arena arena = Arena.ofConfined(); CpuBackend cpu = new CpuBackend(1, false)) {
            MemorySegment packed = arena.allocate(layout.byteSize(), 256);
            MemorySegment scales = packed.asSlice(layout.scalesOffset());
            layout.pack(tensor, 0, rows, packed, scales);

            DeviceWeight weight = cpu.upload(tensor);
            DeviceBuffer decoded = cpu.allocate(rows, cols);
            cpu.embed(decoded, weight, IntStream.range(0, rows).toArray(), rows);
            float[] expected = new float[rows * cols];
            cpu.read(decoded, rows, expected);
            float[] actual = new float[rows * cols];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    actual[r * cols + c] = layout.element(packed, scales, r, c);
                }
            }
            assertArrayEquals(expected, actual);
        }
    }

    @Test
    void blockFormatsSplitQuantsFromScales() {
        WeightLayout q8 = WeightLayout.of(TensorType.Q8_0, 3, 64);
        assertEquals(64, q8.stride());
        assertEquals(256, q8.scalesOffset());
        assertEquals(256 + 3 * 2 * 2, q8.byteSize());
        WeightLayout q4 = WeightLayout.of(TensorType.Q4_0, 3, 64);
        assertEquals(32, q4.stride());
        assertEquals(256 + 12, q4.byteSize());
        WeightLayout f16 = WeightLayout.of(TensorType.F16, 2, 9);
        assertEquals(16, f16.stride());
        assertEquals(64, f16.byteSize());
    }

    @Test
    void kQuantsAreRefusedClearly() {
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> WeightLayout.of(TensorType.Q4_K, 1, 256));
        assertEquals("The CUDA backend does not support Q4_K weights (it multiplies F32, F16, BF16, Q8_0 and Q4_0)",
                e.getMessage());
    }
}
