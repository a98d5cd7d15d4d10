package io.gantry.engine.gguf;

import io.gantry.api.backend.HostTensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.function.Function;

/**
 * An open GGUF file (version 2 or 3, little-endian), memory-mapped read-only. Opening parses and checks the
 * whole header: metadata, tensor infos, alignment, and that every tensor lies inside the file. Tensor data
 * is never copied: {@link #tensor(String)} returns a slice of the mapping, valid until {@link #close()}.
 * Files of any size that the address space can map are supported.
 *
 * <p>Metadata getters throw {@link GgufFormatException}, naming the file and the key, when a key is missing or
 * has a type that does not convert; integers widen to {@code int}/{@code long} when the value fits.
 *
 * <p>Thread-safe: the header is immutable and the mapping is shared. Closing while other threads still read
 * tensor data makes their reads fail with {@link IllegalStateException}.
 */
public final class GgufFile implements AutoCloseable {

    private final String name;
    private final Arena arena;
    private final MemorySegment mapping;
    private final GgufParser.Header header;
    private final Map<String, GgufTensorInfo> tensorsByName;
    private boolean closed;

    private GgufFile(String name, Arena arena, MemorySegment mapping, GgufParser.Header header) {
        this.name = name;
        this.arena = arena;
        this.mapping = mapping;
        this.header = header;
        Map<String, GgufTensorInfo> byName = new LinkedHashMap<>();
        for (GgufTensorInfo tensor : header.tensors()) {
            byName.put(tensor.name(), tensor);
        }
        this.tensorsByName = byName;
    }

    /**
     * Maps and parses a GGUF file.
     *
     * @param path the file
     * @return the open file; close it to unmap
     * @throws IOException if the file cannot be opened or mapped
     * @throws GgufFormatException if it is not a well-formed GGUF v2/v3 file Gantry can read
     */
    public static GgufFile open(Path path) throws IOException {
        String name = path.toString();
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size == 0) {
                throw new GgufFormatException(name, "the file is empty");
            }
            MemorySegment mapping = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new GgufFile(name, arena, mapping, GgufParser.parse(name, mapping));
        } catch (Throwable e) {
            arena.close();
            throw e;
        }
    }

    /** @return the file's path as it was given to {@link #open} */
    public String name() {
        return name;
    }

    /** @return the GGUF version, 2 or 3 */
    public int version() {
        return header.version();
    }

    /** @return the alignment of tensor data in bytes ({@code general.alignment}, 32 when absent) */
    public int alignment() {
        return header.alignment();
    }

    /** @return where the data section starts, in bytes from the start of the file */
    public long dataOffset() {
        return header.dataOffset();
    }

    /** @return the file's size in bytes */
    public long size() {
        return mapping.byteSize();
    }

    /** @return every metadata entry, in file order; unmodifiable */
    public SequencedMap<String, GgufValue> metadata() {
        return header.metadata();
    }

    /** @return whether the file has metadata under {@code key} */
    public boolean has(String key) {
        return header.metadata().containsKey(key);
    }

    /** @return the value under {@code key}, if there is one */
    public Optional<GgufValue> value(String key) {
        return Optional.ofNullable(header.metadata().get(key));
    }

    /** @return the STRING under {@code key} */
    public String getString(String key) {
        return convert(key, GgufValue::asString);
    }

    /** @return the STRING under {@code key}, or {@code fallback} if the key is absent */
    public String getString(String key, String fallback) {
        return has(key) ? getString(key) : fallback;
    }

    /** @return the integer under {@code key}, which must fit in an int */
    public int getInt(String key) {
        return convert(key, GgufValue::asInt);
    }

    /** @return the integer under {@code key}, or {@code fallback} if the key is absent */
    public int getInt(String key, int fallback) {
        return has(key) ? getInt(key) : fallback;
    }

    /** @return the integer under {@code key}, which must fit in a long */
    public long getLong(String key) {
        return convert(key, GgufValue::asLong);
    }

    /** @return the FLOAT32 (or FLOAT64, rounded) under {@code key} */
    public float getFloat(String key) {
        return convert(key, GgufValue::asFloat);
    }

    /** @return the float under {@code key}, or {@code fallback} if the key is absent */
    public float getFloat(String key, float fallback) {
        return has(key) ? getFloat(key) : fallback;
    }

    /** @return the BOOL under {@code key} */
    public boolean getBoolean(String key) {
        return convert(key, GgufValue::asBoolean);
    }

    /** @return the BOOL under {@code key}, or {@code fallback} if the key is absent */
    public boolean getBoolean(String key, boolean fallback) {
        return has(key) ? getBoolean(key) : fallback;
    }

    /** @return the ARRAY under {@code key} */
    public GgufArray getArray(String key) {
        return convert(key, GgufValue::asArray);
    }

    /** @return a copy of the array of STRINGs under {@code key} */
    public String[] getStringArray(String key) {
        return convert(key, value -> value.asArray().toStringArray());
    }

    /** @return a copy of the array of floats under {@code key} */
    public float[] getFloatArray(String key) {
        return convert(key, value -> value.asArray().toFloatArray());
    }

    /** @return a copy of the array of integers under {@code key}, each of which must fit in an int */
    public int[] getIntArray(String key) {
        return convert(key, value -> value.asArray().toIntArray());
    }

    private <T> T convert(String key, Function<GgufValue, T> conversion) {
        GgufValue value = header.metadata().get(key);
        if (value == null) {
            throw new GgufFormatException(name, "has no metadata key '" + key + "'");
        }
        try {
            return conversion.apply(value);
        } catch (IllegalStateException e) {
            throw new GgufFormatException(name, "metadata '" + key + "' " + e.getMessage(), e);
        }
    }

    /** @return every tensor's info, in file order */
    public List<GgufTensorInfo> tensorInfos() {
        return header.tensors();
    }

    /** @return the info of the tensor called {@code tensorName}, if there is one */
    public Optional<GgufTensorInfo> tensorInfo(String tensorName) {
        return Optional.ofNullable(tensorsByName.get(tensorName));
    }

    /** @return whether the file has a tensor called {@code tensorName} */
    public boolean hasTensor(String tensorName) {
        return tensorsByName.containsKey(tensorName);
    }

    /**
     * @param tensorName a tensor's name
     * @return the tensor as a view of the mapped file (rows = product of {@code ne[1..]}, cols = {@code ne[0]});
     *         valid until this file is closed
     * @throws GgufFormatException if the file has no such tensor
     * @throws IllegalStateException if this file is closed
     */
    public HostTensor tensor(String tensorName) {
        GgufTensorInfo info = tensorsByName.get(tensorName);
        if (info == null) {
            throw new GgufFormatException(name, "has no tensor '" + tensorName + "'");
        }
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException(name + " is closed");
            }
        }
        MemorySegment data = mapping.asSlice(header.dataOffset() + info.offset(), info.byteSize());
        return new HostTensor(info.name(), info.type(), (int) info.rows(), (int) info.cols(), data);
    }

    /** Unmaps the file; tensors returned earlier become unusable. Closing twice does nothing. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "GgufFile[" + name + ", v" + version() + ", " + metadata().size() + " keys, " + tensorInfos().size()
                + " tensors]";
    }
}
