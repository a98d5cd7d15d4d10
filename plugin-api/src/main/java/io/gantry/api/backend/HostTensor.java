package io.gantry.api.backend;

import java.lang.foreign.MemorySegment;

/**
 * A weight tensor as the engine found it in a model file: usually a slice of a memory-mapped file, never
 * copied onto the Java heap.
 *
 * @param name the tensor's name in the model file, e.g. {@code blk.0.attn_q.weight}
 * @param type its storage format
 * @param rows number of rows (GGUF {@code ne[1]}; 1 for a vector)
 * @param cols elements per row (GGUF {@code ne[0]}); a whole number of blocks of {@code type}
 * @param data {@code rows * type.bytesFor(cols)} bytes, row after row; valid while the model is loaded
 */
public record HostTensor(String name, TensorType type, int rows, int cols, MemorySegment data) {

    /** Checks that the data holds exactly the tensor's bytes. */
    public HostTensor {
        if (rows < 1 || cols < 1) {
            throw new IllegalArgumentException("Tensor " + name + " has an empty shape " + rows + "x" + cols);
        }
        long expected = Math.multiplyExact(type.bytesFor(cols), (long) rows);
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("Tensor " + name + " (" + type + ", " + rows + "x" + cols + ") needs "
                    + expected + " bytes but has " + data.byteSize());
        }
    }

    /** @return bytes per row */
    public long rowBytes() {
        return type.bytesFor(cols);
    }
}
