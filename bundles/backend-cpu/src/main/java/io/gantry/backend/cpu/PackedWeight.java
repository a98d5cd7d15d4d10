package io.gantry.backend.cpu;

import io.gantry.api.backend.HostTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A weight copied, off the Java heap, into a layout of the CPU's own where vector lanes run along output rows: one
 * vector holds a column's weights of {@link #groupRows()} output rows, and a batch row's element multiplies it
 * broadcast. No horizontal sums are left to do, and each decoded weight vector feeds the products of several
 * batch rows. llama.cpp repacks its CPU weights the same way.
 *
 * <p>Each format's kernels give every output the same operations in the same order whatever the batch size, so a
 * row's result does not depend on its batch.
 */
abstract sealed class PackedWeight permits PackedQ8_0, PackedQ4_0 {

    private final Arena arena = Arena.ofShared();
    /** The repacked weight, aligned to a cache line. */
    final MemorySegment data;
    final int cols;

    PackedWeight(long bytes, int cols) {
        this.cols = cols;
        try {
            this.data = arena.allocate(bytes, 64);
        } catch (OutOfMemoryError e) {
            arena.close();
            throw e;
        }
    }

    /**
     * @param vector whether the backend runs its vector kernels (the packed kernels are vector kernels)
     * @return the weight repacked on the workers, or null where its format or shape has no packed kernels
     */
    static PackedWeight pack(HostTensor tensor, boolean vector, WorkerPool pool) {
        if (!vector) {
            return null;
        }
        return switch (tensor.type()) {
            case Q8_0 -> PackedQ8_0.packs(tensor.rows())
                    ? new PackedQ8_0(tensor.data(), tensor.rowBytes(), tensor.rows(), tensor.cols(), pool) : null;
            case Q4_0 -> PackedQ4_0.packs(tensor.rows())
                    ? new PackedQ4_0(tensor.data(), tensor.rowBytes(), tensor.rows(), tensor.cols(), pool) : null;
            default -> null;
        };
    }

    /** @return output rows the kernels produce together: the unit the workers share out */
    abstract int groupRows();

    /** @return whether {@link #multiply} reads the batch quantized ({@link BatchQuants}) */
    abstract boolean multipliesQuants();

    /** @return the floats of scratch space {@link #multiply} needs for a batch of {@code rows} rows */
    abstract int scratchFloats(int rows);

    /**
     * {@code out[r] = W · in[r]} for output rows {@code start..end} (whole groups) and every batch row.
     *
     * @param quants  {@code in} quantized where {@link #multipliesQuants()}, else unused
     * @param scratch at least {@link #scratchFloats} floats the call may overwrite
     */
    abstract void multiply(float[] in, BatchQuants quants, float[] out, int rows, int outRows, int start, int end,
            float[] scratch);

    /** Frees the packed copy; the weight must no longer be multiplied. */
    final void release() {
        arena.close();
    }
}
