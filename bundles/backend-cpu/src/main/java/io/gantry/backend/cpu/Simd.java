package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species every kernel uses and the few building blocks they share.
 *
 * <p>Kernels run on {@link #F}: the platform's preferred float species capped at 512 bits, so one
 * code base serves NEON (4 lanes), AVX2 (8), AVX-512 and wide SVE (16). Quantized kernels step through
 * their blocks {@link #LANES} values at a time: load that many bytes, widen them to int lanes, decode with
 * int operations, convert to floats. Where the platform's vectors are narrower than 128 bits,
 * {@link #AVAILABLE} is false and the backend runs its scalar kernels.
 *
 * <p>Every dot product here accumulates lane {@code j} over elements {@code j, j + LANES, ...} in
 * increasing order and then sums lanes in a fixed tree ({@link #sum}), so a weight row gives bit-identical
 * results whichever kernel multiplies it: batch size never changes a result.
 */
final class Simd {

    /** The float species of all vector kernels. */
    static final VectorSpecies<Float> F = VectorSpecies.of(float.class,
            VectorShape.forBitSize(Math.min(512, FloatVector.SPECIES_PREFERRED.vectorBitSize())));
    /** Float lanes per vector: 4, 8 or 16 where {@link #AVAILABLE}. */
    static final int LANES = F.length();
    /** Whether the vector kernels can run here: at least 128-bit vectors. */
    static final boolean AVAILABLE = LANES >= 4 && 16 % LANES == 0;

    /** Bytes that widen to one int vector (unused for 4 lanes: no 32-bit species exists). */
    private static final VectorSpecies<Byte> BYTES = VectorSpecies.of(byte.class,
            VectorShape.forBitSize(Math.max(64, LANES * 8)));
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(LANES * 16));
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    private static final int F16_EXPONENT = 0x7C00 << 13;
    private static final int F16_TO_F32_BIAS = (127 - 15) << 23;
    private static final float F16_SUBNORMAL_MAGIC = 0x1p-14f;

    private Simd() {
    }

    /** @return the IEEE half float at {@code offset} (little-endian) as a float */
    static float f16(MemorySegment segment, long offset) {
        return Float.float16ToFloat(segment.get(SHORT_LE, offset));
    }

    /** @return the byte at {@code offset}, unsigned */
    static int unsignedByte(MemorySegment segment, long offset) {
        return Byte.toUnsignedInt(segment.get(ValueLayout.JAVA_BYTE, offset));
    }

    /**
     * Hands on {@link #LANES} decoded weights: stores them at {@code data[offset]}, or accumulates their
     * products with {@code data[offset]} into {@code acc}.
     *
     * @return the updated accumulator (unchanged when storing)
     */
    static FloatVector consume(FloatVector weights, float[] data, int offset, boolean store, FloatVector acc) {
        if (store) {
            weights.intoArray(data, offset);
            return acc;
        }
        return weights.fma(FloatVector.fromArray(F, data, offset), acc);
    }

    /**
     * Decodes {@link #LANES} small integers {@code q} to weights {@code q * scale + bias} and hands them to
     * {@link #consume(FloatVector, float[], int, boolean, FloatVector)}.
     */
    static FloatVector consume(IntVector q, FloatVector scale, FloatVector bias, float[] data, int offset,
            boolean store, FloatVector acc) {
        return consume(decode(q, scale, bias), data, offset, store, acc);
    }

    /**
     * @return the {@link #LANES} bytes at {@code offset} as sign-extended int lanes (quantized values are cut
     *         out and combined in int lanes: x86 has no byte shifts)
     */
    static IntVector bytes(MemorySegment weights, long offset) {
        if (LANES == 4) {
            // No 4-lane byte species, and an 8-byte load could run past the tensor: spread one int's bytes.
            return IntVector.broadcast(I, weights.get(INT_LE, offset)).lanewise(VectorOperators.LSHL, byteToTop())
                    .lanewise(VectorOperators.ASHR, 24);
        }
        return (IntVector) ByteVector.fromMemorySegment(BYTES, weights, offset, LE).castShape(I, 0);
    }

    /** @return lane {@code i} = {@code 24 - 8i}: the left shift that puts byte {@code i} of an int on top */
    private static IntVector byteToTop() {
        return IntVector.zero(I).addIndex(-8).add(24);
    }

    /** @return the nibbles at bit {@code shift} (0 or 4) of widened bytes; masking makes their sign harmless */
    static IntVector nibbles(IntVector bytes, int shift) {
        return (shift == 0 ? bytes : bytes.lanewise(VectorOperators.LSHR, shift)).and(0x0F);
    }

    private static FloatVector decode(IntVector q, FloatVector scale, FloatVector bias) {
        // One fused multiply-add per weight; the scalar kernels use Math.fma so that both decode identically.
        return ((FloatVector) q.castShape(F, 0)).fma(scale, bias);
    }

    /** @return {@link #LANES} IEEE half floats at {@code offset} as floats, exactly as {@link Float#float16ToFloat}. */
    static FloatVector halfToFloat(MemorySegment segment, long offset) {
        IntVector bits = (IntVector) ShortVector.fromMemorySegment(S, segment, offset, LE).castShape(I, 0);
        // The JDK has no vector half-float conversion: rebias the exponent with integer operations
        // (F. Giesen's half_to_float), which stays exact for subnormals, infinities and NaN.
        IntVector magnitude = bits.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        IntVector exponent = magnitude.and(F16_EXPONENT);
        IntVector result = magnitude.add(F16_TO_F32_BIAS);
        result = result.blend(result.add(F16_TO_F32_BIAS), exponent.compare(VectorOperators.EQ, F16_EXPONENT));
        // Subnormal: (2^-14 + m * 2^-24) - 2^-14 in float is exact and avoids subnormal arithmetic.
        IntVector subnormal = ((FloatVector) result.add(1 << 23).reinterpretAsFloats())
                .sub(F16_SUBNORMAL_MAGIC).reinterpretAsInts();
        result = result.blend(subnormal, exponent.compare(VectorOperators.EQ, 0));
        // bits is sign-extended, so its bit 31 is the half's sign bit.
        return (FloatVector) result.or(bits.and(0x8000_0000)).reinterpretAsFloats();
    }

    /** @return {@link #LANES} bfloat16 values at {@code offset} as floats (exact: the upper halves of floats) */
    static FloatVector bfloat16ToFloat(MemorySegment segment, long offset) {
        IntVector bits = (IntVector) ShortVector.fromMemorySegment(S, segment, offset, LE).castShape(I, 0);
        return (FloatVector) bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * Sums the lanes in a fixed pairwise order. {@code reduceLanes(ADD)} leaves the order open, and the
     * interpreter and C2 do pick different ones; a fixed order keeps results reproducible.
     */
    static float sum(FloatVector v) {
        if (LANES >= 16) {
            v = v.add(v.slice(8));
        }
        if (LANES >= 8) {
            v = v.add(v.slice(4));
        }
        v = v.add(v.slice(2));
        v = v.add(v.slice(1));
        return v.lane(0);
    }

    /** @return {@code Σ a[aOffset + i] * b[bOffset + i]} for {@code i < count}, in the lane order described above */
    static float dot(float[] a, int aOffset, float[] b, int bOffset, int count, boolean vector) {
        int i = 0;
        float result = 0;
        if (vector) {
            FloatVector acc = FloatVector.zero(F);
            for (int bound = F.loopBound(count); i < bound; i += LANES) {
                acc = FloatVector.fromArray(F, a, aOffset + i).fma(FloatVector.fromArray(F, b, bOffset + i), acc);
            }
            result = sum(acc);
        }
        for (; i < count; i++) {
            result = Math.fma(a[aOffset + i], b[bOffset + i], result);
        }
        return result;
    }
}
