package io.gantry.engine.gguf;

import io.gantry.api.backend.TensorType;

import java.util.Arrays;
import java.util.Objects;

/**
 * Where a tensor lies in a GGUF file and what shape it has.
 *
 * @param name the tensor's name, e.g. {@code blk.0.attn_q.weight}
 * @param type its storage format
 * @param dims its GGUF shape {@code ne}, fastest-varying first (1 to 4 entries, each at least 1); the
 *             accessor returns a copy
 * @param offset where its data starts, relative to the start of the file's data section
 */
public record GgufTensorInfo(String name, TensorType type, long[] dims, long offset) {

    /** Copies the shape so that the record stays immutable. */
    public GgufTensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        dims = dims.clone();
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    /** @return elements per row: {@code ne[0]} */
    public long cols() {
        return dims[0];
    }

    /** @return the number of rows: the product of {@code ne[1..]} (1 for a vector) */
    public long rows() {
        long rows = 1;
        for (int i = 1; i < dims.length; i++) {
            rows = Math.multiplyExact(rows, dims[i]);
        }
        return rows;
    }

    /** @return the number of elements */
    public long elementCount() {
        return Math.multiplyExact(rows(), cols());
    }

    /** @return the bytes its data takes */
    public long byteSize() {
        return Math.multiplyExact(type.bytesFor(cols()), rows());
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof GgufTensorInfo that && name.equals(that.name) && type == that.type
                && Arrays.equals(dims, that.dims) && offset == that.offset;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, type, Arrays.hashCode(dims), offset);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(dims) + " @" + offset;
    }
}
