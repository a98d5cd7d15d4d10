package io.gantry.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.KvPool;
import io.gantry.api.backend.KvPoolSpec;
import io.gantry.api.backend.TensorType;
import java.lang.annotation.Annotation;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.EnumSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Construction, configuration, closing and the checks on handles. */
class CpuBackendLifecycleTest {

    @Test
    void configurationWithZeroThreadsUsesEveryProcessor() {
        try (CpuBackend backend = new CpuBackend(config(0, true))) {
            assertEquals("cpu", backend.deviceId());
            int processors = Runtime.getRuntime().availableProcessors();
            assertTrue(backend.description().contains(processors + (processors == 1 ? " thread" : " threads")),
                    backend.description());
            assertEquals(EnumSet.allOf(TensorType.class), backend.supportedTypes());
        }
    }

    @Test
    void closingFreesAllocationsAndRefusesFurtherCalls() {
        CpuBackend backend = new CpuBackend(2, true);
        DeviceBuffer buffer = backend.allocate(2, 8);
        KvPool pool = backend.allocateKvPool(new KvPoolSpec(1, 1, 8, 4, TensorType.F16));
        // Keys and values of one layer, 8 elements per slot, the 4 slots rounded up to a whole tile.
        assertEquals(2L * 8 * CpuKvPool.TILE * Short.BYTES, pool.byteSize());
        backend.close();
        assertThrows(IllegalStateException.class, () -> ((CpuBuffer) buffer).data());
        assertThrows(IllegalStateException.class, () -> ((CpuKvPool) pool).keys(0));
        assertThrows(IllegalStateException.class, () -> backend.allocate(1, 1));
        assertThrows(IllegalStateException.class, backend::synchronize);
        backend.close();
    }

    @Test
    void rejectsHandlesOfAnotherBackendAndReleasedOnes() {
        try (CpuBackend backend = new CpuBackend(1, true); CpuBackend other = new CpuBackend(1, true)) {
            DeviceBuffer foreign = other.allocate(1, 4);
            DeviceBuffer own = backend.allocate(1, 4);
            assertThrows(IllegalArgumentException.class, () -> backend.add(own, foreign, 1));
            own.release();
            own.release();
            DeviceBuffer fresh = backend.allocate(1, 4);
            assertThrows(IllegalStateException.class, () -> backend.add(fresh, own, 1));
            assertThrows(IllegalArgumentException.class, () -> backend.add(fresh, backend.allocate(1, 5), 1));
        }
    }

    @Test
    void rejectsWeightsConfinedToOneThread() {
        try (CpuBackend backend = new CpuBackend(2, true); Arena confined = Arena.ofConfined()) {
            HostTensor tensor = new HostTensor("confined", TensorType.F32, 1, 4, confined.allocate(16));
            assertThrows(IllegalArgumentException.class, () -> backend.upload(tensor));
        }
    }

    /** An F16 weight with an infinite element, a Q4_0 weight with an infinite block scale (2 rows each). */
    static Stream<Arguments> weightsHoldingAnInfinity() {
        return Stream.of(Arguments.of(TensorType.F16, 32, 2 * 40, "element 40"),
                Arguments.of(TensorType.Q4_0, 64, 3 * 18, "the scale of block 3"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("weightsHoldingAnInfinity")
    void rejectsWeightsHoldingAnInfinity(TensorType type, int cols, long infinityAt, String where) {
        assumeTrue(Simd.AVAILABLE, "no vector species of 128 bits or more here: the scalar kernels decode every half");
        MemorySegment data = Arena.ofAuto().allocate(2 * type.bytesFor(cols));
        data.set(Simd.SHORT_LE, infinityAt, (short) 0x7C00);
        HostTensor tensor = new HostTensor("blk.0.ffn_up.weight", type, 2, cols, data);
        try (CpuBackend backend = new CpuBackend(1, true)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> backend.upload(tensor));
            assertTrue(e.getMessage().contains("blk.0.ffn_up.weight") && e.getMessage().contains(where)
                    && e.getMessage().contains("corrupt"), e.getMessage());
        }
    }

    @Test
    void rejectsTokensOutsideTheTable() {
        try (CpuBackend backend = new CpuBackend(1, true)) {
            var table = BackendTestSupport.f32Weight(backend, new float[8], 2, 4);
            assertThrows(IllegalArgumentException.class,
                    () -> backend.embed(backend.allocate(1, 4), table, new int[] {2}, 1));
        }
    }

    private static CpuBackend.Config config(int threads, boolean vectorKernels) {
        return new CpuBackend.Config() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return CpuBackend.Config.class;
            }

            @Override
            public int threads() {
                return threads;
            }

            @Override
            public boolean vectorKernels() {
                return vectorKernels;
            }
        };
    }
}
