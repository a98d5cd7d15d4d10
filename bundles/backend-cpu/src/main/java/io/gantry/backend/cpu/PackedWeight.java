package io.gantry.backend.cpu;

import io.gantry.api.backend.HostTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * A weight copied, off the Java heap, into a layout of the CPU's own where vector lanes run along output rows: one
 * vector holds a column's weights of {@link #groupRows()} output rows, and a batch row's element multiplies it
 * broadcast. No horizontal sums are left to do, and each decoded weight vector feeds the products of several
 * batch rows. llama.cpp repacks its CPU weights the same way.
 *
 * <p>Each format's kernels give every output the same operations in the same order whatever the batch size, so a
 * row's result does not depend on its batch.
 */
abstract sealed class PackedWeight permits PackedFloatWeight, PackedQuantWeight {

    /** Elements of a Q8_0 or Q4_0 block; also the columns F16 is repacked by at a time. */
    static final int BLOCK = 32;

    private final Arena arena = Arena.ofShared();
    /** The repacked weight, aligned to a cache line, on huge pages where the machine has them ({@link HugePages}). */
    final MemorySegment data;
    final int cols;

    PackedWeight(long bytes, int cols) {
        this.cols = cols;
        try {
            this.data = HugePages.allocate(arena, bytes);
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
            case Q6_K -> PackedQ6_K.packs(tensor.rows())
                    ? new PackedQ6_K(tensor.data(), tensor.rowBytes(), tensor.rows(), tensor.cols(), pool) : null;
            case F16 -> PackedF16.packs(tensor.rows(), tensor.cols())
                    ? new PackedF16(tensor.data(), tensor.rowBytes(), tensor.rows(), tensor.cols(), pool) : null;
            case Q4_0 -> PackedQ4_0.packs(tensor.rows())
                    ? new PackedQ4_0(tensor.data(), tensor.rowBytes(), tensor.rows(), tensor.cols(), pool) : null;
            case Q4_K -> PackedQ4_K.packs(tensor.rows())
                    ? new PackedQ4_K(tensor.data(), tensor.rowBytes(), tensor.rows(), tensor.cols(), pool) : null;
            default -> null;
        };
    }

    /** Writes one row's source block into the packed block being assembled. */
    @FunctionalInterface
    interface BlockPacker {
        /**
         * @param source the row's source block, as the model file holds it
         * @param row    the row's index in its group
         * @param packed the group's packed block, written to the copy once every row is in
         */
        void pack(byte[] source, int row, byte[] packed);
    }

    /**
     * Fills the copy: for each group of {@code groupRows} rows, a task on the workers, block by block (a source
     * block is {@code blockCols} columns), each row's source block handed to {@code packer}, then the packed block
     * stored. Groups follow each other, and a group's blocks each other, so a kernel reads one stream.
     */
    final void repack(MemorySegment source, long rowBytes, int rows, int groupRows, int blockCols,
            int sourceBlockBytes, int packedBlockBytes, WorkerPool pool, BlockPacker packer) {
        int blocks = cols / blockCols;
        long groupBytes = (long) blocks * packedBlockBytes;
        pool.run(rows / groupRows, (group, worker) -> {
            byte[] sourceBlock = new byte[sourceBlockBytes];
            byte[] packedBlock = new byte[packedBlockBytes];
            for (int block = 0; block < blocks; block++) {
                for (int row = 0; row < groupRows; row++) {
                    long at = (long) (group * groupRows + row) * rowBytes + (long) sourceBlockBytes * block;
                    MemorySegment.copy(source, ValueLayout.JAVA_BYTE, at, sourceBlock, 0, sourceBlockBytes);
                    packer.pack(sourceBlock, row, packedBlock);
                }
                MemorySegment.copy(packedBlock, 0, data, ValueLayout.JAVA_BYTE,
                        group * groupBytes + (long) packedBlockBytes * block, packedBlockBytes);
            }
        });
    }

    /** Little-endian floats in a byte array. */
    static final VarHandle FLOATS = MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);
    /** Little-endian shorts in a byte array: a block's scale is the half float at its start. */
    static final VarHandle SHORTS = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);

    /** @return output rows the kernels produce together: the unit the workers share out */
    abstract int groupRows();

    /** How a kernel reads the batch: as floats, or quantized ({@link BatchQuants}) in one of three forms. */
    enum BatchForm {
        FLOATS,
        /** Quants paired for bytes of two nibbles, with each block's offset ({@link PackedQ4_0}). */
        NIBBLE_PAIRED_QUANTS,
        /** As {@link #NIBBLE_PAIRED_QUANTS}, with each block's sums too ({@link PackedQ4_K}). */
        NIBBLE_PAIRED_QUANTS_AND_SUMS,
        /** Quants paired for shorts of two bytes, with each 8 elements' offset ({@link PackedQ6_K}). */
        BYTE_PAIRED_QUANTS
    }

    /** @return how {@link #multiply} reads the batch */
    abstract BatchForm batchForm();

    /** @return the floats of scratch space {@link #multiply} needs for a batch of {@code rows} rows */
    abstract int scratchFloats(int rows);

    /** @return the floats of tile {@link #multiply} needs for a batch of {@code rows} rows */
    abstract int tileFloats(int rows);

    /**
     * {@code out[r] = W · in[r]} for output rows {@code start..end} (whole groups) and every batch row.
     *
     * @param quants  {@code in} quantized in {@link #batchForm()}, unless that is {@link BatchForm#FLOATS}
     * @param scratch at least {@link #scratchFloats} floats the call may overwrite
     * @param tile    at least {@link #tileFloats} floats, starting on a cache line, the call may overwrite
     */
    abstract void multiply(float[] in, BatchQuants quants, float[] out, int rows, int outRows, int start, int end,
            float[] scratch, MemorySegment tile);

    /** Frees the packed copy; the weight must no longer be multiplied. */
    final void release() {
        arena.close();
    }
}
