package io.gantry.engine.gguf;

import io.gantry.api.backend.TensorType;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SequencedMap;
import java.util.Set;

/**
 * Builds a GGUF version 3 file: metadata of every type, then tensors of any {@link TensorType} from their
 * raw bytes, each aligned to {@code general.alignment} (32 unless that key is set). Tensor bytes are pulled
 * only while {@link #write(Path)} runs, so a generator can stream tensors far larger than the heap.
 *
 * <p>Everything {@link GgufFile} would reject is rejected here too, with {@link IllegalArgumentException}.
 * Not thread-safe.
 */
public final class GgufWriter {

    /** Supplies one tensor's bytes, in GGUF layout, when the writer reaches it. */
    @FunctionalInterface
    public interface TensorContent {
        /**
         * @param out the file, positioned at the tensor's start; the content must leave it positioned exactly
         *            the tensor's byte size further on, and may skip ranges that are to read as zeros
         * @throws IOException if writing fails
         */
        void writeTo(SeekableByteChannel out) throws IOException;
    }

    private record PendingTensor(GgufTensorInfo info, TensorContent content) {
    }

    private static final int VERSION = 3;
    private static final int BUFFER_BYTES = 1 << 16;

    private final SequencedMap<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();
    private final Set<String> tensorNames = new HashSet<>();
    private int alignment = GgufParser.DEFAULT_ALIGNMENT;

    /**
     * Adds a metadata entry. Setting {@code general.alignment} (a UINT32 power of two) sets the alignment of all
     * tensors.
     *
     * @return this writer
     * @throws IllegalArgumentException if the key is already set or is an invalid alignment
     */
    public GgufWriter put(String key, GgufValue value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        if (metadata.containsKey(key)) {
            throw new IllegalArgumentException("metadata key '" + key + "' is already set");
        }
        if (key.equals(GgufParser.ALIGNMENT_KEY)) {
            if (value.type() != GgufValueType.UINT32 || Long.bitCount(value.asLong()) != 1
                    || value.asLong() > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(key + " must be a UINT32 power of two, not " + value);
            }
            alignment = value.asInt();
        }
        metadata.put(key, value);
        return this;
    }

    /** Adds a STRING entry; see {@link #put}. */
    public GgufWriter putString(String key, String value) {
        return put(key, GgufValue.ofString(value));
    }

    /** Adds a UINT32 entry; see {@link #put}. */
    public GgufWriter putUInt32(String key, long value) {
        return put(key, GgufValue.ofUInt32(value));
    }

    /** Adds an INT32 entry; see {@link #put}. */
    public GgufWriter putInt32(String key, int value) {
        return put(key, GgufValue.ofInt32(value));
    }

    /** Adds a FLOAT32 entry; see {@link #put}. */
    public GgufWriter putFloat32(String key, float value) {
        return put(key, GgufValue.ofFloat32(value));
    }

    /** Adds a BOOL entry; see {@link #put}. */
    public GgufWriter putBool(String key, boolean value) {
        return put(key, GgufValue.ofBool(value));
    }

    /** Adds an ARRAY entry; see {@link #put}. */
    public GgufWriter putArray(String key, GgufArray value) {
        return put(key, GgufValue.ofArray(value));
    }

    /**
     * Adds a tensor whose bytes are in memory (a heap segment from {@code MemorySegment.ofArray}, an off-heap
     * one, or a slice of another mapped file); they are read during {@link #write} and written as they are, so
     * a segment over a {@code float[]} must be in GGUF's little-endian order, the native order of every platform
     * Gantry runs on.
     *
     * @param dims the GGUF shape {@code ne}, fastest-varying first
     * @return this writer
     * @throws IllegalArgumentException if the name is taken, the shape is invalid, or {@code data} is not exactly
     *                                  the tensor's size
     */
    public GgufWriter addTensor(String name, TensorType type, long[] dims, MemorySegment data) {
        GgufTensorInfo info = checkedInfo(name, type, dims);
        if (data.byteSize() != info.byteSize()) {
            throw new IllegalArgumentException("tensor '" + name + "' " + type + Arrays.toString(dims) + " needs "
                    + info.byteSize() + " bytes, not " + data.byteSize());
        }
        return add(info, out -> writeSegment(data, out));
    }

    /**
     * Adds a tensor whose bytes {@code content} writes during {@link #write}.
     *
     * @param dims the GGUF shape {@code ne}, fastest-varying first
     * @return this writer
     * @throws IllegalArgumentException if the name is taken or the shape is invalid
     */
    public GgufWriter addTensor(String name, TensorType type, long[] dims, TensorContent content) {
        Objects.requireNonNull(content, "content");
        return add(checkedInfo(name, type, dims), content);
    }

    private GgufWriter add(GgufTensorInfo info, TensorContent content) {
        if (!tensorNames.add(info.name())) {
            throw new IllegalArgumentException("tensor '" + info.name() + "' is already added");
        }
        tensors.add(new PendingTensor(info, content));
        return this;
    }

    private static GgufTensorInfo checkedInfo(String name, TensorType type, long[] dims) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        if (dims.length < 1 || dims.length > GgufParser.MAX_DIMS) {
            throw new IllegalArgumentException("tensor '" + name + "' needs 1 to " + GgufParser.MAX_DIMS
                    + " dimensions, not " + dims.length);
        }
        for (long dim : dims) {
            if (dim < 1) {
                throw new IllegalArgumentException("tensor '" + name + "' has a dimension of " + dim);
            }
        }
        GgufTensorInfo info = new GgufTensorInfo(name, type, dims, 0);
        try {
            info.byteSize(); // also checks that a row is whole blocks
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("tensor '" + name + "' has more bytes than fit in 64 bits", e);
        }
        if (info.rows() > Integer.MAX_VALUE || info.cols() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tensor '" + name + "' has more than 2^31-1 rows or columns");
        }
        return info;
    }

    /**
     * Writes the file, replacing any file at {@code path}.
     *
     * @throws IOException if writing fails, or a {@link TensorContent} wrote the wrong number of bytes
     */
    public void write(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            HeaderOutput header = new HeaderOutput(channel);
            header.u32(GgufParser.MAGIC);
            header.u32(VERSION);
            header.u64(tensors.size());
            header.u64(metadata.size());
            for (Map.Entry<String, GgufValue> entry : metadata.entrySet()) {
                header.string(entry.getKey());
                header.u32(entry.getValue().type().id());
                header.value(entry.getValue());
            }
            long offset = 0;
            for (PendingTensor tensor : tensors) {
                GgufTensorInfo info = tensor.info();
                header.string(info.name());
                header.u32(info.dims().length);
                for (long dim : info.dims()) {
                    header.u64(dim);
                }
                header.u32(info.type().ggmlId());
                header.u64(offset);
                offset = GgufParser.alignUp(offset + info.byteSize(), alignment);
            }
            header.padTo(alignment);
            header.flush();
            for (PendingTensor tensor : tensors) {
                writeTensor(tensor, channel);
            }
        }
    }

    /** Writes a tensor at the channel's position, which is aligned, then pads to the next aligned position. */
    private void writeTensor(PendingTensor tensor, FileChannel channel) throws IOException {
        GgufTensorInfo info = tensor.info();
        long start = channel.position();
        tensor.content().writeTo(channel);
        long written = channel.position() - start;
        if (written != info.byteSize()) {
            throw new IOException("tensor '" + info.name() + "' should be " + info.byteSize()
                    + " bytes, but its content wrote " + written);
        }
        ByteBuffer padding = ByteBuffer.allocate((int) (GgufParser.alignUp(written, alignment) - written));
        while (padding.hasRemaining()) {
            channel.write(padding);
        }
    }

    /** Copies through a buffer: segments over {@code int[]}, {@code float[]} etc. have no ByteBuffer view. */
    private static void writeSegment(MemorySegment data, WritableByteChannel out) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocateDirect((int) Math.min(data.byteSize(), 1 << 20));
        MemorySegment bufferSegment = MemorySegment.ofBuffer(buffer);
        for (long offset = 0; offset < data.byteSize(); offset += buffer.capacity()) {
            int length = (int) Math.min(buffer.capacity(), data.byteSize() - offset);
            MemorySegment.copy(data, offset, bufferSegment, 0, length);
            buffer.clear().limit(length);
            while (buffer.hasRemaining()) {
                out.write(buffer);
            }
        }
    }

    /** Buffered little-endian output of the header's fields. */
    private static final class HeaderOutput {
        private final FileChannel channel;
        private final ByteBuffer buffer = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        private long written;

        HeaderOutput(FileChannel channel) {
            this.channel = channel;
        }

        void u8(int value) throws IOException {
            room(1).put((byte) value);
        }

        void u16(int value) throws IOException {
            room(2).putShort((short) value);
        }

        void u32(int value) throws IOException {
            room(4).putInt(value);
        }

        void u64(long value) throws IOException {
            room(8).putLong(value);
        }

        void string(String value) throws IOException {
            byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
            u64(bytes.length);
            for (int offset = 0; offset < bytes.length; offset += BUFFER_BYTES) {
                int length = Math.min(BUFFER_BYTES, bytes.length - offset);
                room(length).put(bytes, offset, length);
            }
        }

        void value(GgufValue value) throws IOException {
            switch (value.type()) {
                case UINT8, INT8 -> u8(((Long) value.value()).intValue());
                case BOOL -> u8(value.asBoolean() ? 1 : 0);
                case UINT16, INT16 -> u16(((Long) value.value()).intValue());
                case UINT32, INT32 -> u32(((Long) value.value()).intValue());
                case UINT64, INT64 -> u64((Long) value.value());
                case FLOAT32 -> u32(Float.floatToRawIntBits((Float) value.value()));
                case FLOAT64 -> u64(Double.doubleToRawLongBits((Double) value.value()));
                case STRING -> string(value.asString());
                case ARRAY -> array(value.asArray());
            }
        }

        void array(GgufArray array) throws IOException {
            u32(array.elementType().id());
            u64(array.size());
            switch (array.rawElements()) {
                case byte[] values -> {
                    for (byte element : values) {
                        u8(element);
                    }
                }
                case boolean[] values -> {
                    for (boolean element : values) {
                        u8(element ? 1 : 0);
                    }
                }
                case short[] values -> {
                    for (short element : values) {
                        u16(element);
                    }
                }
                case int[] values -> {
                    for (int element : values) {
                        u32(element);
                    }
                }
                case long[] values -> {
                    for (long element : values) {
                        u64(element);
                    }
                }
                case float[] values -> {
                    for (float element : values) {
                        u32(Float.floatToRawIntBits(element));
                    }
                }
                case double[] values -> {
                    for (double element : values) {
                        u64(Double.doubleToRawLongBits(element));
                    }
                }
                case String[] values -> {
                    for (String element : values) {
                        string(element);
                    }
                }
                case GgufArray[] values -> {
                    for (GgufArray element : values) {
                        array(element);
                    }
                }
                default -> throw new IllegalStateException("unexpected array storage " + array.rawElements().getClass());
            }
        }

        void padTo(int alignment) throws IOException {
            long end = written + buffer.position();
            for (long i = end; i < GgufParser.alignUp(end, alignment); i++) {
                u8(0);
            }
        }

        private ByteBuffer room(int bytes) throws IOException {
            if (buffer.remaining() < bytes) {
                flush();
            }
            return buffer;
        }

        void flush() throws IOException {
            buffer.flip();
            while (buffer.hasRemaining()) {
                written += channel.write(buffer);
            }
            buffer.clear();
        }
    }
}
