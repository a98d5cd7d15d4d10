package io.gantry.engine.gguf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Writes GGUF fields byte by byte, so that tests can build files the writer would refuse to make. */
final class RawGguf {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** @return a builder that has written the magic, version and both counts */
    static RawGguf header(int version, long tensorCount, long metadataCount) {
        return new RawGguf().u32(GgufParser.MAGIC).u32(version).u64(tensorCount).u64(metadataCount);
    }

    RawGguf u8(int value) {
        out.write(value);
        return this;
    }

    RawGguf u32(long value) {
        out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) value).array());
        return this;
    }

    RawGguf u64(long value) {
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array());
        return this;
    }

    RawGguf string(String value) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        u64(bytes.length);
        out.writeBytes(bytes);
        return this;
    }

    /** Writes a metadata entry of type UINT32. */
    RawGguf uint32Entry(String key, long value) {
        return string(key).u32(GgufValueType.UINT32.id()).u32(value);
    }

    /** Writes a tensor info. */
    RawGguf tensorInfo(String name, int typeId, long offset, long... dims) {
        string(name).u32(dims.length);
        for (long dim : dims) {
            u64(dim);
        }
        return u32(typeId).u64(offset);
    }

    /** Pads with zeros to a multiple of {@code alignment}, then appends {@code dataBytes} zero bytes. */
    RawGguf data(int alignment, int dataBytes) {
        while (out.size() % alignment != 0) {
            out.write(0);
        }
        out.writeBytes(new byte[dataBytes]);
        return this;
    }

    byte[] bytes() {
        return out.toByteArray();
    }
}
