package io.gantry.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * A kernel's parameters, packed for {@code cuLaunchKernel}: one host pointer per parameter, each to the value.
 * Every value is checked against the kernel's declared {@link Kernel#params() parameter list} as it is added,
 * and {@link #pointer()} fails unless all of them are there, so a launch never passes a wrong or missing value.
 */
final class KernelArgs {

    private final Kernel kernel;
    private final List<NativePointerObject> values = new ArrayList<>();
    private final List<Kernel.Param> kinds = new ArrayList<>();

    KernelArgs(Kernel kernel) {
        this.kernel = kernel;
    }

    KernelArgs pointer(CUdeviceptr address) {
        return add(Kernel.Param.POINTER, Pointer.to(address));
    }

    KernelArgs i(int value) {
        return add(Kernel.Param.INT, Pointer.to(new int[] {value}));
    }

    KernelArgs l(long value) {
        return add(Kernel.Param.LONG, Pointer.to(new long[] {value}));
    }

    KernelArgs f(float value) {
        return add(Kernel.Param.FLOAT, Pointer.to(new float[] {value}));
    }

    /** @return the kinds added so far, in order */
    List<Kernel.Param> kinds() {
        return List.copyOf(kinds);
    }

    /** @return the {@code kernelParams} argument of {@code cuLaunchKernel} */
    Pointer pointer() {
        if (kinds.size() != kernel.params().size()) {
            throw new IllegalStateException("Kernel " + kernel.name() + " takes " + kernel.params().size()
                    + " parameters, " + kinds.size() + " were packed");
        }
        return Pointer.to(values.toArray(NativePointerObject[]::new));
    }

    private KernelArgs add(Kernel.Param kind, NativePointerObject value) {
        int index = kinds.size();
        if (index >= kernel.params().size() || kernel.params().get(index) != kind) {
            throw new IllegalArgumentException("Kernel " + kernel.name() + " parameter " + index + " is "
                    + (index < kernel.params().size() ? kernel.params().get(index) : "absent") + ", not " + kind);
        }
        kinds.add(kind);
        values.add(value);
        return this;
    }
}
