package io.gantry.engine.synth;

import io.gantry.api.backend.TensorType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.EnumSet;
import java.util.Set;

/**
 * Converts between floats and the bytes of GGUF tensor formats. Encoding writes F32, F16, Q8_0 and Q4_0 with the
 * rounding of ggml's reference quantizers, so a file Gantry writes holds the same bytes llama.cpp would write for
 * the same values, and Q4_K and Q6_K by their reference algorithms ({@link KQuantEncoding}); decoding reads the plain
 * float formats F32, F16 and BF16 (the sources of quantization).
 *
 * <p>A run of values passed to either direction is a whole number of blocks of its format; consecutive rows of a
 * tensor are such runs back to back. Stateless and thread-safe.
 */
public final class TensorEncoding {

    /** The formats {@link #encode} writes. */
    public static final Set<TensorType> ENCODABLE = Set.copyOf(EnumSet.of(TensorType.F32, TensorType.F16,
            TensorType.Q8_0, TensorType.Q4_0, TensorType.Q4_K, TensorType.Q6_K));
    /** The formats {@link #decode} reads. */
    public static final Set<TensorType> DECODABLE = Set.copyOf(EnumSet.of(TensorType.F32, TensorType.F16,
            TensorType.BF16));

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int BLOCK = 32;

    private TensorEncoding() {
    }

    /**
     * Encodes {@code values[from .. from+count)} into {@code out} at {@code offset}.
     *
     * @return the number of bytes written: {@code type.bytesFor(count)}
     * @throws IllegalArgumentException if the format is not {@link #ENCODABLE} or {@code count} is not a whole number
     *                                  of its blocks
     */
    public static long encode(TensorType type, float[] values, int from, int count, MemorySegment out, long offset) {
        long bytes = type.bytesFor(count);
        switch (type) {
            case F32 -> MemorySegment.copy(values, from, out, F32_LE, offset, count);
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    out.set(I16_LE, offset + 2L * i, Float.floatToFloat16(values[from + i]));
                }
            }
            case Q8_0, Q4_0, Q4_K, Q6_K -> {
                int block = type.blockElements();
                for (int i = 0; i < count / block; i++) {
                    int start = from + i * block;
                    long at = offset + (long) i * type.blockBytes();
                    switch (type) {
                        case Q8_0 -> q8_0Block(values, start, out, at);
                        case Q4_0 -> q4_0Block(values, start, out, at);
                        case Q4_K -> KQuantEncoding.q4_KBlock(values, start, out, at);
                        default -> KQuantEncoding.q6_KBlock(values, start, out, at);
                    }
                }
            }
            default -> throw new IllegalArgumentException("Gantry cannot encode " + type + " tensors (it encodes "
                    + ENCODABLE + ")");
        }
        return bytes;
    }

    /**
     * Decodes {@code count} values of a float format from {@code in} at {@code offset} into
     * {@code values[from ..]}.
     *
     * @throws IllegalArgumentException if the format is not {@link #DECODABLE}
     */
    public static void decode(TensorType type, MemorySegment in, long offset, float[] values, int from, int count) {
        switch (type) {
            case F32 -> MemorySegment.copy(in, F32_LE, offset, values, from, count);
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    values[from + i] = Float.float16ToFloat(in.get(I16_LE, offset + 2L * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    values[from + i] = Float.intBitsToFloat((in.get(I16_LE, offset + 2L * i) & 0xFFFF) << 16);
                }
            }
            default -> throw new IllegalArgumentException("Gantry cannot decode " + type + " tensors here (it decodes "
                    + DECODABLE + ")");
        }
    }

    /** @return {@code value} rounded to the nearest F16, as a float */
    public static float roundToF16(float value) {
        return Float.float16ToFloat(Float.floatToFloat16(value));
    }

    /** Q8_0: {@code d = amax / 127} and {@code q = round(x / d)}, rounding halves away from zero. */
    private static void q8_0Block(float[] values, int from, MemorySegment out, long offset) {
        float amax = 0;
        for (int i = 0; i < BLOCK; i++) {
            amax = Math.max(amax, Math.abs(values[from + i]));
        }
        float d = amax / 127;
        float inverse = d != 0 ? 1 / d : 0;
        out.set(I16_LE, offset, Float.floatToFloat16(d));
        for (int i = 0; i < BLOCK; i++) {
            out.set(ValueLayout.JAVA_BYTE, offset + 2 + i, (byte) roundHalfAwayFromZero(values[from + i] * inverse));
        }
    }

    /**
     * Q4_0: {@code d = max / -8}, where {@code max} is the value of largest magnitude with its sign, so that it maps to
     * q = 0 exactly; {@code q = min(15, (int) (x / d + 8.5))}. Weights 0..15 go to the low nibbles, 16..31 to the high.
     */
    private static void q4_0Block(float[] values, int from, MemorySegment out, long offset) {
        float amax = 0;
        float max = 0;
        for (int i = 0; i < BLOCK; i++) {
            float v = values[from + i];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8;
        float inverse = d != 0 ? 1 / d : 0;
        out.set(I16_LE, offset, Float.floatToFloat16(d));
        for (int i = 0; i < BLOCK / 2; i++) {
            int low = Math.min(15, (int) (values[from + i] * inverse + 8.5f));
            int high = Math.min(15, (int) (values[from + BLOCK / 2 + i] * inverse + 8.5f));
            out.set(ValueLayout.JAVA_BYTE, offset + 2 + i, (byte) (low | high << 4));
        }
    }

    /** C's {@code roundf}: Java's {@link Math#round(float)} rounds halves up, -2.5 to -2 where roundf gives -3. */
    private static int roundHalfAwayFromZero(float value) {
        float magnitude = Math.abs(value);
        float whole = (float) Math.floor(magnitude);
        if (magnitude - whole >= 0.5f) {
            whole += 1;
        }
        return (int) Math.copySign(whole, value);
    }
}
