package io.gantry.api.backend;

/**
 * Tensor storage formats, with their GGUF type ids and block layouts (as llama.cpp's ggml defines them).
 * A row of {@code n} elements of a block format takes {@code n / blockElements * blockBytes} bytes;
 * {@code n} must be a multiple of {@link #blockElements()}.
 */
public enum TensorType {
    /** 32-bit float. */
    F32(0, 1, 4),
    /** IEEE half float. */
    F16(1, 1, 2),
    /** 32 weights: an F16 scale and 16 bytes of 4-bit values (offset 8). */
    Q4_0(2, 32, 18),
    /** 32 weights: an F16 scale and 32 signed bytes. */
    Q8_0(8, 32, 34),
    /** 256 weights: F16 d and dmin, 12 bytes of 6-bit scales and mins, 128 bytes of 4-bit values. */
    Q4_K(12, 256, 144),
    /** 256 weights: 128 bytes low 4 bits, 64 bytes high 2 bits, 16 signed 8-bit scales, F16 d. */
    Q6_K(14, 256, 210),
    /** bfloat16: the upper half of an F32. */
    BF16(30, 1, 2);

    private final int ggmlId;
    private final int blockElements;
    private final int blockBytes;

    TensorType(int ggmlId, int blockElements, int blockBytes) {
        this.ggmlId = ggmlId;
        this.blockElements = blockElements;
        this.blockBytes = blockBytes;
    }

    /** @return the type id GGUF files use for this format */
    public int ggmlId() {
        return ggmlId;
    }

    /** @return elements per block (1 for plain float formats) */
    public int blockElements() {
        return blockElements;
    }

    /** @return bytes per block */
    public int blockBytes() {
        return blockBytes;
    }

    /**
     * @param elements number of elements; must be a multiple of {@link #blockElements()}
     * @return the bytes they take in this format
     * @throws IllegalArgumentException if {@code elements} is negative or not a whole number of blocks
     */
    public long bytesFor(long elements) {
        if (elements < 0 || elements % blockElements != 0) {
            throw new IllegalArgumentException(elements + " elements is not a whole number of " + this
                    + " blocks of " + blockElements);
        }
        return Math.multiplyExact(elements / blockElements, (long) blockBytes);
    }

    /**
     * @param ggmlId a GGUF tensor type id
     * @return the format with that id
     * @throws IllegalArgumentException if Gantry does not support that type
     */
    public static TensorType fromGgmlId(int ggmlId) {
        for (TensorType type : values()) {
            if (type.ggmlId == ggmlId) {
                return type;
            }
        }
        throw new IllegalArgumentException("Unsupported GGUF tensor type id " + ggmlId
                + " (Gantry supports F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)");
    }
}
