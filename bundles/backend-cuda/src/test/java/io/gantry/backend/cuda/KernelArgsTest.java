package io.gantry.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.Test;

/** Parameters are packed in the order and kinds the kernel declares, or the launch is refused. */
class KernelArgsTest {

    @Test
    void aCompleteParameterListPacks() {
        KernelArgs args = new KernelArgs(Kernel.ADD_BIAS).pointer(new CUdeviceptr()).pointer(new CUdeviceptr()).i(64)
                .l(1L << 33);
        assertEquals(List.of(Kernel.Param.POINTER, Kernel.Param.POINTER, Kernel.Param.INT, Kernel.Param.LONG),
                args.kinds());
        assertTrue(args.pointer() != null);
    }

    @Test
    void aWrongKindOrAMissingParameterIsRefused() {
        IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                () -> new KernelArgs(Kernel.ADD).pointer(new CUdeviceptr()).i(3));
        assertEquals("Kernel add parameter 1 is POINTER, not INT", wrong.getMessage());
        IllegalStateException missing = assertThrows(IllegalStateException.class,
                () -> new KernelArgs(Kernel.ADD).pointer(new CUdeviceptr()).pointer(new CUdeviceptr()).pointer());
        assertEquals("Kernel add takes 3 parameters, 2 were packed", missing.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new KernelArgs(Kernel.ADD).pointer(new CUdeviceptr()).pointer(new CUdeviceptr()).l(1).l(2));
    }

    @Test
    void kernelNamesFollowTheWeightFormats() {
        assertEquals("gemv_bf16_8", Kernel.gemv(io.gantry.api.backend.TensorType.BF16, 8).name());
        assertEquals("mma_q8_0", Kernel.mma(io.gantry.api.backend.TensorType.Q8_0).name());
        assertThrows(IllegalArgumentException.class, () -> Kernel.mma(io.gantry.api.backend.TensorType.F32));
        assertThrows(UnsupportedOperationException.class, () -> Kernel.embed(io.gantry.api.backend.TensorType.Q6_K));
        assertEquals(37, Kernel.all().size());
    }
}
