package io.gantry.engine.gguf;

import io.gantry.api.backend.TensorType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import java.util.Set;

/**
 * Reads the header of a GGUF file (metadata and tensor infos) from a memory segment. Every count and
 * length is checked against the bytes that remain before anything is allocated for it, so a corrupted
 * file costs at most its own size in heap and always ends in a {@link GgufFormatException}.
 */
final class GgufParser {

    static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
    static final String ALIGNMENT_KEY = "general.alignment";
    static final int DEFAULT_ALIGNMENT = 32;
    /** ggml's GGML_MAX_DIMS. */
    static final int MAX_DIMS = 4;
    /** Real files nest arrays at most once; the limit keeps a crafted file from exhausting the stack. */
    private static final int MAX_ARRAY_DEPTH = 8;
    /**
     * Limits far above any real file's metadata (the largest vocabularies have about 500k merges, the largest
     * strings are embedded tokenizer.json files of a few MiB) that keep a corrupted count in a multi-GiB model
     * from making the reader allocate gigabytes.
     */
    private static final long MAX_ARRAY_ELEMENTS = 1 << 24;
    private static final long MAX_STRING_BYTES = 1 << 26;
    /** Name length, dimension count, one dimension, type and offset. */
    private static final int MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;
    /** Key length, value type and the smallest value. */
    private static final int MIN_METADATA_BYTES = 8 + 4 + 1;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * What the header says.
     *
     * @param version the GGUF version (2 or 3)
     * @param metadata the key/value pairs in file order
     * @param tensors the tensor infos in file order, each checked to lie inside the file
     * @param alignment the data alignment in bytes
     * @param dataOffset where the data section starts, from the start of the file
     */
    record Header(int version, SequencedMap<String, GgufValue> metadata, List<GgufTensorInfo> tensors,
            int alignment, long dataOffset) {
    }

    private final String file;
    private final MemorySegment data;
    private long position;

    private GgufParser(String file, MemorySegment data) {
        this.file = file;
        this.data = data;
    }

    /**
     * @param file the file's name, for messages
     * @param data the whole file
     * @return its header
     * @throws GgufFormatException if the header is malformed or describes data outside the file
     */
    static Header parse(String file, MemorySegment data) {
        return new GgufParser(file, data).header();
    }

    private Header header() {
        int magic = readU32("the magic number");
        if (magic != MAGIC) {
            throw fail(String.format("not a GGUF file: it starts with bytes %02X %02X %02X %02X, not 'GGUF'",
                    magic & 0xFF, (magic >>> 8) & 0xFF, (magic >>> 16) & 0xFF, magic >>> 24));
        }
        int version = readU32("the version");
        if (version != 2 && version != 3) {
            throw fail(describeUnsupportedVersion(version));
        }
        long tensorCount = readCount("the tensor count", MIN_TENSOR_INFO_BYTES, Long.MAX_VALUE);
        long metadataCount = readCount("the metadata count", MIN_METADATA_BYTES, Long.MAX_VALUE);

        SequencedMap<String, GgufValue> metadata = new LinkedHashMap<>();
        for (long i = 0; i < metadataCount; i++) {
            String key = readString("the key of metadata entry #" + i);
            if (metadata.containsKey(key)) {
                throw fail("metadata key '" + key + "' appears twice");
            }
            String what = "metadata '" + key + "'";
            metadata.put(key, readValue(readType(what), what, 0));
        }
        int alignment = alignment(metadata.get(ALIGNMENT_KEY));

        List<GgufTensorInfo> tensors = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (long i = 0; i < tensorCount; i++) {
            GgufTensorInfo tensor = readTensorInfo(i, alignment);
            if (!names.add(tensor.name())) {
                throw fail("tensor '" + tensor.name() + "' appears twice");
            }
            tensors.add(tensor);
        }
        long dataOffset = alignUp(position, alignment);
        checkTensorsInsideFile(tensors, dataOffset);
        return new Header(version, Collections.unmodifiableSequencedMap(metadata), List.copyOf(tensors), alignment,
                dataOffset);
    }

    private static String describeUnsupportedVersion(int version) {
        if (version == 1) {
            return "GGUF version 1 is not supported (only versions 2 and 3); convert the model again";
        }
        if (Integer.reverseBytes(version) == 2 || Integer.reverseBytes(version) == 3) {
            return "the file is big-endian (version " + Integer.reverseBytes(version)
                    + " with swapped bytes); only little-endian GGUF files are supported";
        }
        return "unknown GGUF version " + Integer.toUnsignedString(version) + " (supported: 2 and 3)";
    }

    private int alignment(GgufValue value) {
        if (value == null) {
            return DEFAULT_ALIGNMENT;
        }
        if (!value.type().isInteger()) {
            throw fail(ALIGNMENT_KEY + " is " + value.type() + ", not an integer");
        }
        long alignment = (Long) value.value();
        if (alignment <= 0 || alignment > Integer.MAX_VALUE || Long.bitCount(alignment) != 1) {
            throw fail(ALIGNMENT_KEY + " is " + Long.toUnsignedString(alignment) + ", not a power of two");
        }
        return (int) alignment;
    }

    private GgufTensorInfo readTensorInfo(long index, int alignment) {
        String name = readString("the name of tensor #" + index);
        String what = "tensor '" + name + "'";
        int dimCount = readU32("the dimension count of " + what);
        if (dimCount < 1 || dimCount > MAX_DIMS) {
            throw fail(what + " has " + Integer.toUnsignedString(dimCount) + " dimensions (must be 1 to " + MAX_DIMS
                    + ")");
        }
        long[] dims = new long[dimCount];
        for (int d = 0; d < dimCount; d++) {
            dims[d] = readU64("dimension " + d + " of " + what);
            if (dims[d] < 1) {
                throw fail(what + " has dimension " + d + " of size " + Long.toUnsignedString(dims[d])
                        + " (must be 1 to 2^63-1)");
            }
        }
        int typeId = readU32("the type of " + what);
        TensorType type;
        try {
            type = TensorType.fromGgmlId(typeId);
        } catch (IllegalArgumentException e) {
            throw fail(what + ": " + e.getMessage(), e);
        }
        long offset = readU64("the data offset of " + what);
        GgufTensorInfo tensor = new GgufTensorInfo(name, type, dims, offset);
        checkShape(tensor);
        if (offset < 0) {
            throw fail(what + " has data offset " + Long.toUnsignedString(offset) + ", past the end of the file");
        }
        if (offset % alignment != 0) {
            throw fail(what + " has data offset " + offset + ", which is not a multiple of the alignment " + alignment);
        }
        return tensor;
    }

    private void checkShape(GgufTensorInfo tensor) {
        String what = "tensor '" + tensor.name() + "' " + Arrays.toString(tensor.dims());
        if (tensor.cols() % tensor.type().blockElements() != 0) {
            throw fail(what + " has rows of " + tensor.cols() + " elements, not a whole number of " + tensor.type()
                    + " blocks of " + tensor.type().blockElements());
        }
        long rows;
        try {
            rows = tensor.rows();
            tensor.byteSize();
        } catch (ArithmeticException e) {
            throw fail(what + " has more elements or bytes than fit in 64 bits", e);
        }
        if (rows > Integer.MAX_VALUE || tensor.cols() > Integer.MAX_VALUE) {
            throw fail(what + " has " + rows + " rows of " + tensor.cols()
                    + " elements; Gantry supports at most 2^31-1 of each");
        }
    }

    private void checkTensorsInsideFile(List<GgufTensorInfo> tensors, long dataOffset) {
        if (tensors.isEmpty()) {
            return;
        }
        if (dataOffset > data.byteSize()) {
            throw fail("the data section would start at byte " + dataOffset + ", past the end of the file ("
                    + data.byteSize() + " bytes)");
        }
        long dataBytes = data.byteSize() - dataOffset;
        for (GgufTensorInfo tensor : tensors) {
            long size = tensor.byteSize();
            if (tensor.offset() > dataBytes || size > dataBytes - tensor.offset()) {
                throw fail("tensor '" + tensor.name() + "' (" + size + " bytes at data offset " + tensor.offset()
                        + ") runs past the end of the file; the data section holds " + dataBytes + " bytes");
            }
        }
    }

    private GgufValueType readType(String what) {
        int id = readU32("the type of " + what);
        GgufValueType type = GgufValueType.fromId(Integer.toUnsignedLong(id));
        if (type == null) {
            throw fail(what + " has unknown value type " + Integer.toUnsignedString(id));
        }
        return type;
    }

    private GgufValue readValue(GgufValueType type, String what, int depth) {
        return switch (type) {
            case UINT8 -> GgufValue.ofInteger(type, Byte.toUnsignedLong(readBytes(1, what)[0]));
            case INT8 -> GgufValue.ofInteger(type, readBytes(1, what)[0]);
            case UINT16 -> GgufValue.ofInteger(type, Short.toUnsignedLong(readU16(what)));
            case INT16 -> GgufValue.ofInteger(type, readU16(what));
            case UINT32 -> GgufValue.ofInteger(type, Integer.toUnsignedLong(readU32(what)));
            case INT32 -> GgufValue.ofInteger(type, readU32(what));
            case UINT64, INT64 -> GgufValue.ofInteger(type, readU64(what));
            case FLOAT32 -> GgufValue.ofFloat32(Float.intBitsToFloat(readU32(what)));
            case FLOAT64 -> GgufValue.ofFloat64(Double.longBitsToDouble(readU64(what)));
            case BOOL -> GgufValue.ofBool(toBoolean(readBytes(1, what)[0], what));
            case STRING -> GgufValue.ofString(readString(what));
            case ARRAY -> GgufValue.ofArray(readArray(what, depth + 1));
        };
    }

    private GgufArray readArray(String what, int depth) {
        if (depth > MAX_ARRAY_DEPTH) {
            throw fail(what + " nests arrays more than " + MAX_ARRAY_DEPTH + " deep");
        }
        GgufValueType elementType = readType("the elements of " + what);
        long count = readCount("the length of " + what, elementType.minBytes(), MAX_ARRAY_ELEMENTS);
        int n = (int) count;
        Object elements = switch (elementType) {
            case UINT8, INT8 -> readBytes(n, what);
            case BOOL -> {
                byte[] bytes = readBytes(n, what);
                boolean[] flags = new boolean[n];
                for (int i = 0; i < n; i++) {
                    flags[i] = toBoolean(bytes[i], what);
                }
                yield flags;
            }
            case UINT16, INT16 -> copyOut(U16, new short[n], n);
            case UINT32, INT32 -> copyOut(U32, new int[n], n);
            case UINT64, INT64 -> copyOut(U64, new long[n], n);
            case FLOAT32 -> copyOut(F32, new float[n], n);
            case FLOAT64 -> copyOut(F64, new double[n], n);
            case STRING -> {
                String[] strings = new String[n];
                for (int i = 0; i < n; i++) {
                    strings[i] = readString(what);
                }
                yield strings;
            }
            case ARRAY -> {
                GgufArray[] arrays = new GgufArray[n];
                for (int i = 0; i < n; i++) {
                    arrays[i] = readArray(what, depth + 1);
                }
                yield arrays;
            }
        };
        return GgufArray.wrap(elementType, elements);
    }

    /** Copies {@code n} little-endian elements, which {@link #readCount} has checked are there, into a heap array. */
    private Object copyOut(ValueLayout layout, Object array, int n) {
        MemorySegment.copy(data, layout, position, array, 0, n);
        position += n * layout.byteSize();
        return array;
    }

    private boolean toBoolean(byte value, String what) {
        if (value != 0 && value != 1) {
            throw fail(what + " holds boolean byte " + value + " at byte " + (position - 1) + " (must be 0 or 1)");
        }
        return value == 1;
    }

    /**
     * Reads a u64 count of things that take at least {@code minBytesEach} bytes each and checks that that
     * many could fit in the rest of the file, and that it is at most {@code max}.
     */
    private long readCount(String what, int minBytesEach, long max) {
        long count = readU64(what);
        long remaining = data.byteSize() - position;
        if (count < 0 || count > remaining / minBytesEach) {
            throw fail(what + " is " + Long.toUnsignedString(count) + ", but only " + remaining
                    + " bytes follow, room for at most " + remaining / minBytesEach);
        }
        if (count > max) {
            throw fail(what + " is " + count + ", more than the " + max + " Gantry accepts");
        }
        return count;
    }

    private String readString(String what) {
        long lengthAt = position;
        long length = readU64("the length of " + what);
        long remaining = data.byteSize() - position;
        if (length < 0 || length > remaining) {
            throw fail("the length of " + what + " at byte " + lengthAt + " is " + Long.toUnsignedString(length)
                    + ", but only " + remaining + " bytes follow");
        }
        if (length > MAX_STRING_BYTES) {
            throw fail(what + " is " + length + " bytes long, more than the " + MAX_STRING_BYTES + " Gantry accepts");
        }
        return new String(readBytes((int) length, what), StandardCharsets.UTF_8);
    }

    private byte[] readBytes(int count, String what) {
        need(count, what);
        byte[] bytes = new byte[count];
        MemorySegment.copy(data, ValueLayout.JAVA_BYTE, position, bytes, 0, count);
        position += count;
        return bytes;
    }

    private short readU16(String what) {
        need(2, what);
        short value = data.get(U16, position);
        position += 2;
        return value;
    }

    private int readU32(String what) {
        need(4, what);
        int value = data.get(U32, position);
        position += 4;
        return value;
    }

    private long readU64(String what) {
        need(8, what);
        long value = data.get(U64, position);
        position += 8;
        return value;
    }

    private void need(long bytes, String what) {
        if (bytes > data.byteSize() - position) {
            throw fail("truncated: " + what + " needs " + bytes + " bytes at byte " + position + ", but the file ends at byte "
                    + data.byteSize());
        }
    }

    static long alignUp(long offset, int alignment) {
        return (offset + alignment - 1) / alignment * alignment;
    }

    private GgufFormatException fail(String problem) {
        return new GgufFormatException(file, problem);
    }

    private GgufFormatException fail(String problem, Throwable cause) {
        return new GgufFormatException(file, problem, cause);
    }
}
