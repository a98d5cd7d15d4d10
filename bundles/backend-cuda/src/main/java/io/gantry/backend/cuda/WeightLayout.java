package io.gantry.backend.cuda;

import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * How a weight lies in device memory, and the repacking from the model file's layout into it.
 *
 * <p>Float formats keep their rows, each padded with zeros to a multiple of 16 bytes so that the kernels load
 * them with aligned 16-byte reads. The block formats are split: all quants first, row after row (Q8_0: 32
 * bytes per block; Q4_0: 16 nibble bytes per block, in ggml's order), then every block's F16 scale, row after
 * row, starting at {@link #scalesOffset()}. The file's 34- and 18-byte blocks would leave the quants unaligned.
 *
 * @param type         the format
 * @param rows         rows
 * @param cols         elements per row
 * @param stride       a row's length in the quants region: elements for float formats, bytes for block formats
 * @param scalesOffset where the scales start, in bytes (0 for float formats, which have none)
 * @param byteSize     the bytes the weight occupies on the device
 */
record WeightLayout(TensorType type, int rows, int cols, int stride, long scalesOffset, long byteSize) {

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int ALIGNMENT = 256;
    private static final int BLOCK = 32;

    /**
     * @return the layout of a {@code rows x cols} weight of {@code type}
     * @throws UnsupportedOperationException for formats the kernels do not read (Q4_K, Q6_K)
     */
    static WeightLayout of(TensorType type, int rows, int cols) {
        return switch (type) {
            case F32 -> floats(type, rows, cols, 4);
            case F16, BF16 -> floats(type, rows, cols, 2);
            case Q8_0 -> blocks(type, rows, cols, BLOCK);
            case Q4_0 -> blocks(type, rows, cols, BLOCK / 2);
            default -> throw new UnsupportedOperationException("The CUDA backend does not support " + type
                    + " weights (it multiplies F32, F16, BF16, Q8_0 and Q4_0)");
        };
    }

    private static WeightLayout floats(TensorType type, int rows, int cols, int elementBytes) {
        int perVector = 16 / elementBytes;
        int stride = Math.addExact(cols, perVector - 1) / perVector * perVector;
        return new WeightLayout(type, rows, cols, stride, 0, Math.multiplyExact((long) rows, stride) * elementBytes);
    }

    private static WeightLayout blocks(TensorType type, int rows, int cols, int quantBytesPerBlock) {
        int blocks = cols / BLOCK;
        int stride = blocks * quantBytesPerBlock;
        long scalesOffset = align(Math.multiplyExact((long) rows, stride));
        return new WeightLayout(type, rows, cols, stride, scalesOffset,
                scalesOffset + Math.multiplyExact((long) rows, blocks) * 2);
    }

    /** @return whether the weight has a separate scales region */
    boolean hasScales() {
        return type == TensorType.Q8_0 || type == TensorType.Q4_0;
    }

    /**
     * Repacks rows of a model file's tensor into this layout.
     *
     * @param tensor   the tensor, whose type and shape this layout was made for
     * @param firstRow the first row to pack
     * @param count    rows to pack
     * @param quants   receives the rows' quants (or elements), {@code count * rowBytes()} bytes
     * @param scales   receives the rows' scales, {@code count * scaleBytesPerRow()} bytes (unused for float formats)
     */
    void pack(HostTensor tensor, int firstRow, int count, MemorySegment quants, MemorySegment scales) {
        if (tensor.type() != type || tensor.rows() != rows || tensor.cols() != cols) {
            throw new IllegalArgumentException("Layout " + this + " does not fit tensor " + tensor.name());
        }
        MemorySegment source = tensor.data();
        long sourceRowBytes = tensor.rowBytes();
        int blocks = cols / BLOCK;
        for (int r = 0; r < count; r++) {
            long from = (firstRow + r) * sourceRowBytes;
            long to = r * rowBytes();
            switch (type) {
                case F32, F16, BF16 -> {
                    MemorySegment.copy(source, from, quants, to, sourceRowBytes);
                    quants.asSlice(to + sourceRowBytes, rowBytes() - sourceRowBytes).fill((byte) 0);
                }
                default -> {
                    int blockBytes = type.blockBytes();
                    int quantBytes = blockBytes - 2;
                    for (int b = 0; b < blocks; b++) {
                        long block = from + (long) b * blockBytes;
                        scales.set(SHORT, ((long) r * blocks + b) * 2, source.get(SHORT, block));
                        MemorySegment.copy(source, block + 2, quants, to + (long) b * quantBytes, quantBytes);
                    }
                }
            }
        }
    }

    /** @return bytes of one row in the quants region */
    long rowBytes() {
        return switch (type) {
            case F32 -> 4L * stride;
            case F16, BF16 -> 2L * stride;
            default -> stride;
        };
    }

    /** @return bytes of one row's scales (0 for float formats) */
    long scaleBytesPerRow() {
        return hasScales() ? 2L * (cols / BLOCK) : 0;
    }

    /**
     * Reads one element of a packed weight as the kernels' {@code element()} functions do: the host-side
     * statement of the device layout, for tests and for decoding small vectors.
     *
     * @param quants the packed quants region
     * @param scales the packed scales region
     */
    float element(MemorySegment quants, MemorySegment scales, int row, int col) {
        long rowStart = row * rowBytes();
        return switch (type) {
            case F32 -> quants.get(FLOAT, rowStart + 4L * col);
            case F16 -> Float.float16ToFloat(quants.get(SHORT, rowStart + 2L * col));
            case BF16 -> Float.intBitsToFloat(quants.get(SHORT, rowStart + 2L * col) << 16);
            case Q8_0 -> quants.get(ValueLayout.JAVA_BYTE, rowStart + col) * scale(scales, row, col);
            case Q4_0 -> {
                int packed = Byte.toUnsignedInt(quants.get(ValueLayout.JAVA_BYTE,
                        rowStart + col / BLOCK * 16L + col % BLOCK % 16));
                int q = col % BLOCK < 16 ? packed & 0x0F : packed >>> 4;
                yield (q - 8) * scale(scales, row, col);
            }
            default -> throw new AssertionError(type);
        };
    }

    private float scale(MemorySegment scales, int row, int col) {
        return Float.float16ToFloat(scales.get(SHORT, ((long) row * (cols / BLOCK) + col / BLOCK) * 2));
    }

    private static long align(long bytes) {
        return (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }
}
