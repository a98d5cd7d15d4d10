package io.gantry.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species every kernel uses and the building blocks they share.
 *
 * <p>Kernels run on {@link #F}: the platform's preferred float species capped at 512 bits, so one code base
 * serves NEON (4 lanes), AVX2 (8), AVX-512 and wide SVE (16). Quantized kernels step through their blocks
 * {@link #LANES} values at a time: load that many bytes, widen them to int lanes, cut out and combine the
 * quantized values with int operations (x86 has no byte shifts), and decode them to floats. Where the
 * platform's vectors are narrower than 128 bits, {@link #AVAILABLE} is false and the backend runs its scalar
 * kernels.
 *
 * <p><b>Summation order.</b> Every dot product accumulates in two vectors, lane by lane in increasing element
 * order ({@code fma}): elements {@code i} with {@link #evenRun}{@code (i)} (runs of 16 starting at 0, 32, ...)
 * into one, the others into the second; the result is {@code sum(even) + sum(odd)} ({@link #sum}). Two
 * accumulators keep two FMA chains in flight, which one chain's latency would otherwise cap; runs of 16 match
 * the halves of Q4_0 and Q8_0 blocks at any vector width. The fused kernels and the batched tiles follow the
 * same order, so a weight row's result is bit-identical whatever the batch size.
 *
 * <p><b>C2 constraints</b>, each worth a factor of 3 to 30 where broken. Kernels return floats, never vectors: a
 * vector leaving a method that C2 does not inline is boxed, and then boxed on every loop iteration too. Helpers
 * have no loops: a helper with a loop gets compiled on its own and is then too big to inline. And a kernel
 * stays small: C2 stops inlining once a compilation has created about 18,000 nodes (each Vector API call
 * creates dozens, each memory segment access too), so kernels have one or two decoding sites and read scales
 * with as few segment accesses as they can. Decoded weights go to arrays, never to memory segments: with
 * segment stores in their loops, the kernels that both decode and multiply were, at random, recompiled again
 * and again for seconds (failing profiled loop predicates, measured on JDK 25). Helpers called once per block
 * rather than per element are not hot to C2, which then inlines them only under 35 bytecodes. A kernel that broke
 * one of these allocates on every step: JMH's {@code -prof gc} shows it ({@code gc.alloc.rate.norm} in megabytes
 * per call), and {@code -XX:CompileCommand=PrintInlining,<class>::<kernel>} names the call C2 left out
 * ({@code NodeCountInliningCutoff}, {@code callee is too large}).
 */
final class Simd {

    /** The float species of all vector kernels. */
    static final VectorSpecies<Float> F = VectorSpecies.of(float.class,
            VectorShape.forBitSize(Math.min(512, FloatVector.SPECIES_PREFERRED.vectorBitSize())));
    /** Float lanes per vector: 4, 8 or 16 where {@link #AVAILABLE}. */
    static final int LANES = F.length();
    /** Whether the vector kernels can run here: at least 128-bit vectors. */
    static final boolean AVAILABLE = LANES >= 4 && 16 % LANES == 0;
    /** Vectors per run of 16 elements (see the summation order). */
    private static final int CHUNKS_PER_RUN = AVAILABLE ? 16 / LANES : 1;

    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    /** Bytes that widen to one int vector (unused for 4 lanes: no 32-bit species exists). */
    private static final VectorSpecies<Byte> BYTES = VectorSpecies.of(byte.class,
            VectorShape.forBitSize(Math.max(64, LANES * 8)));
    private static final VectorSpecies<Short> SHORTS = VectorSpecies.of(short.class,
            VectorShape.forBitSize(Math.max(64, LANES * 16)));
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    private static final VectorShuffle<Float> ROTATE_8 = VectorShuffle.iota(F, 8, 1, true);
    private static final VectorShuffle<Float> ROTATE_4 = VectorShuffle.iota(F, 4, 1, true);
    private static final VectorShuffle<Float> ROTATE_2 = VectorShuffle.iota(F, 2, 1, true);
    private static final VectorShuffle<Float> ROTATE_1 = VectorShuffle.iota(F, 1, 1, true);

    private static final int HALF_SIGN_EXPONENT_MANTISSA = 0x8FFF_E000;
    /** Rebiases a half's exponent (15) to a float's (127). */
    static final float HALF_TO_FLOAT_SCALE = 0x1p112f;
    private static final short F16_EXPONENT_BITS = 0x7C00;

    /** Adding it to a float of magnitude below 2^22 rounds that to an integer, held in the low mantissa bits. */
    static final float ROUND_TO_INTEGER = 0x1.8p23f;
    private static final float LOG2_E = (float) (1 / Math.log(2));
    /** ln 2 split so that {@code n * LN2_HIGH} is exact for the {@code n} of {@link #exp}. */
    private static final float LN2_HIGH = 0x1.62e4p-1f;
    private static final float LN2_LOW = (float) (Math.log(2) - LN2_HIGH);
    /** Below it e^x is under the smallest normal float: {@link #exp} returns 0. */
    private static final float EXP_ZERO_BELOW = -87.33654f;
    /** Above it {@link #exp} returns infinity; the true overflow is at 88.72 (2^127.5 keeps the scale normal). */
    private static final float EXP_INFINITE_ABOVE = 88.37626f;
    private static final int FLOAT_EXPONENT_BIAS = 127;
    private static final int FLOAT_MANTISSA_BITS = 23;

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
     * Hands on {@link #LANES} decoded weights: stores them at {@code data[offset]}, or multiplies them with
     * {@code data[offset...]} into {@code acc}.
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

    /** @return the {@link #LANES} bytes at {@code offset} as sign-extended int lanes */
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

    /** @return the weights {@code q * scale + bias}, rounded once (the scalar kernels use {@link Math#fma}) */
    static FloatVector decode(IntVector q, FloatVector scale, FloatVector bias) {
        return ((FloatVector) q.castShape(F, 0)).fma(scale, bias);
    }

    /** @return whether element {@code i} of a dot product accumulates into the even accumulator */
    static boolean evenRun(int i) {
        return (i & 16) == 0;
    }

    /**
     * @param count elements, a multiple of {@link #LANES}
     * @param odd   whether to count the odd runs (else the even ones)
     * @return how many chunks of {@link #LANES} the even (or odd) runs of 16 hold among {@code count} elements
     */
    static int runChunks(int count, boolean odd) {
        int chunks = count / LANES;
        int remainder = chunks % (2 * CHUNKS_PER_RUN);
        int pairs = chunks / (2 * CHUNKS_PER_RUN) * CHUNKS_PER_RUN;
        return pairs + (odd ? Math.max(0, remainder - CHUNKS_PER_RUN) : Math.min(remainder, CHUNKS_PER_RUN));
    }

    /** @return the first element of chunk {@code m} of the even (or odd) runs of 16 */
    static int runChunk(int m, boolean odd) {
        return m / CHUNKS_PER_RUN * 32 + (odd ? 16 : 0) + m % CHUNKS_PER_RUN * LANES;
    }

    /**
     * @return lane {@code i} = {@code first + i}: from it kernels make the table of the 16 weights that nibbles
     *         decode to, for {@link #decodeNibbles} (meaningful where a vector holds 16 lanes)
     */
    static FloatVector nibbleValues(int first) {
        return FloatVector.zero(F).addIndex(1).add(first);
    }

    /**
     * As {@link #decode}, for {@code q} in {@code 0..15}, bit-identical: where a vector holds 16 lanes, looks the
     * weights up in {@code table} (a permute, on the integer pipes) instead of converting and multiplying each
     * one (two more operations on the floating-point pipes, which bound the 4-bit kernels).
     */
    static FloatVector decodeNibbles(IntVector q, IntVector table, FloatVector scale, FloatVector bias) {
        if (LANES == 16) {
            return q.selectFrom(table).reinterpretAsFloats();
        }
        return decode(q, scale, bias);
    }

    /**
     * @return {@link #LANES} IEEE half floats at {@code offset} as floats, exactly as {@link Float#float16ToFloat}
     *         for finite values; infinities and NaNs come out finite (weights holding them are refused at upload,
     *         {@link #firstNonFiniteHalf}: exactness for them would cost four more operations per vector, a third
     *         of the F16 kernel's time)
     */
    static FloatVector halfToFloat(MemorySegment segment, long offset) {
        return halfToDownscaledFloat(segment, offset).mul(HALF_TO_FLOAT_SCALE);
    }

    /**
     * @return {@link #halfToFloat} without its last multiplication: the halves times 2^-112, exactly (a half's
     *         11 significant bits fit a float's subnormals from 2^-149 on), for a caller that multiplies the other
     *         factor of each of its products by {@link #HALF_TO_FLOAT_SCALE} instead (the products are the same
     *         numbers, and a multiplication per vector is saved)
     */
    static FloatVector halfToDownscaledFloat(MemorySegment segment, long offset) {
        IntVector bits = (IntVector) ShortVector.fromMemorySegment(SHORTS, segment, offset, LE).castShape(I, 0);
        // The JDK has no vector half-float conversion. Shifted left by 13, a half's exponent and mantissa land
        // in a float's, its exponent biased by 15 instead of 127: the float is the half times 2^-112, exactly,
        // subnormal halves included (they become subnormal floats). The mask keeps the (sign-extended) sign bit and
        // clears the bits the sign extension set above the exponent.
        return downscaledHalfBits(bits.lanewise(VectorOperators.LSHL, 13));
    }

    /**
     * @param placed half floats, one per int lane, with exponent and mantissa moved to a float's (bits 27..13) and
     *               copies of the sign above them
     * @param scale  {@link #HALF_TO_FLOAT_SCALE}, or that times a power of two to scale the results exactly
     * @return the halves as floats times {@code scale / 2^112}: the mask keeps the top sign bit and clears its
     *         copies, and the multiplication rebiases the exponent
     */
    static FloatVector halfBitsToFloat(IntVector placed, float scale) {
        return downscaledHalfBits(placed).mul(scale);
    }

    /** @return {@link #halfBitsToFloat} before its multiplication: the halves times 2^-112 */
    private static FloatVector downscaledHalfBits(IntVector placed) {
        return (FloatVector) placed.and(HALF_SIGN_EXPONENT_MANTISSA).reinterpretAsFloats();
    }

    /**
     * @return the index of the first half float among {@code count} at {@code offset} that is an infinity or a
     *         NaN, or -1 if all are finite
     */
    static long firstNonFiniteHalf(MemorySegment segment, long offset, long count) {
        VectorSpecies<Short> species = ShortVector.SPECIES_PREFERRED;
        long i = 0;
        for (long bound = count - count % species.length(); i < bound; i += species.length()) {
            ShortVector halves = ShortVector.fromMemorySegment(species, segment, offset + 2 * i, LE);
            if (halves.and(F16_EXPONENT_BITS).compare(VectorOperators.EQ, F16_EXPONENT_BITS).anyTrue()) {
                break;
            }
        }
        for (; i < count; i++) {
            if ((segment.get(SHORT_LE, offset + 2 * i) & F16_EXPONENT_BITS) == F16_EXPONENT_BITS) {
                return i;
            }
        }
        return -1;
    }

    /** @return {@link #LANES} bfloat16 values at {@code offset} as floats (exact: the upper halves of floats) */
    static FloatVector bfloat16ToFloat(MemorySegment segment, long offset) {
        IntVector bits = (IntVector) ShortVector.fromMemorySegment(SHORTS, segment, offset, LE).castShape(I, 0);
        return (FloatVector) bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * e^x in every lane, by exactly the operations of {@link #exp(float)}, so the two give the same bits. The
     * Vector API's own EXP does not: C2 compiles it to the platform's SIMD math library while the interpreter
     * calls {@code Math.exp}, and the two differ in the last bit for about 1% of inputs. Outputs then depended on
     * whether the code had been compiled yet (the first requests after a start differed from later ones).
     *
     * <p>{@code x = n ln2 + r} with {@code n} an integer and {@code |r| <= ln2 / 2}; {@code e^r} by its Taylor
     * series to degree 7 (truncation under 1e-8 relative), times {@code 2^n} built in the exponent bits. Within
     * 1 ulp of {@code Math.exp}; 0 below {@link #EXP_ZERO_BELOW} (no subnormals), infinity above
     * {@link #EXP_INFINITE_ABOVE}, NaN for NaN.
     */
    static FloatVector exp(FloatVector x) {
        FloatVector clamped = x.max(EXP_ZERO_BELOW).min(EXP_INFINITE_ABOVE);
        FloatVector rounded = clamped.fma(LOG2_E, ROUND_TO_INTEGER);
        FloatVector n = rounded.sub(ROUND_TO_INTEGER);
        FloatVector r = n.fma(n.broadcast(-LN2_HIGH), clamped).add(n.mul(-LN2_LOW));
        FloatVector p = r.fma(1f / 5040, 1f / 720).fma(r, r.broadcast(1f / 120)).fma(r, r.broadcast(1f / 24))
                .fma(r, r.broadcast(1f / 6)).fma(r, r.broadcast(0.5f)).fma(r, r.broadcast(1f)).fma(r, r.broadcast(1f));
        // The low mantissa bits of rounded hold n; shifted into the exponent field they drop everything above.
        FloatVector scale = rounded.reinterpretAsInts().add(FLOAT_EXPONENT_BIAS)
                .lanewise(VectorOperators.LSHL, FLOAT_MANTISSA_BITS).reinterpretAsFloats();
        return p.mul(scale)
                .blend(0f, x.lt(EXP_ZERO_BELOW))
                .blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_INFINITE_ABOVE));
    }

    /** e^x: the scalar twin of {@link #exp(FloatVector)}, operation for operation. */
    static float exp(float x) {
        if (x < EXP_ZERO_BELOW) {
            return 0;
        }
        if (x > EXP_INFINITE_ABOVE) {
            return Float.POSITIVE_INFINITY;
        }
        float rounded = Math.fma(x, LOG2_E, ROUND_TO_INTEGER);
        float n = rounded - ROUND_TO_INTEGER;
        float r = Math.fma(n, -LN2_HIGH, x) + n * -LN2_LOW;
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(r, 1f / 5040, 1f / 720), r,
                1f / 120), r, 1f / 24), r, 1f / 6), r, 0.5f), r, 1f), r, 1f);
        float scale = Float.intBitsToFloat(
                (Float.floatToRawIntBits(rounded) + FLOAT_EXPONENT_BIAS) << FLOAT_MANTISSA_BITS);
        return p * scale;
    }

    /**
     * Sums the lanes in a fixed pairwise order. {@code reduceLanes(ADD)} leaves the order open, and the
     * interpreter and C2 do pick different ones; a fixed order keeps results reproducible.
     */
    static float sum(FloatVector v) {
        // Rotations by constant shuffles: one permute each, and far fewer C2 nodes than slice().
        if (LANES >= 16) {
            v = v.add(v.rearrange(ROTATE_8));
        }
        if (LANES >= 8) {
            v = v.add(v.rearrange(ROTATE_4));
        }
        v = v.add(v.rearrange(ROTATE_2));
        v = v.add(v.rearrange(ROTATE_1));
        return v.lane(0);
    }

    /**
     * {@link #sum} of many vectors at once: the same additions in the same order (so bit for bit the same sums),
     * with far fewer operations than one {@link #sum} per vector. Each round does {@link #sum}'s next rotation for
     * two vectors: {@code p} plus {@code p} rotated leaves the pair sums in the lower half of each group of lanes,
     * {@code q} plus {@code q} rotated the other way leaves them in the upper half (the same additions, operands
     * swapped: addition commutes exactly), and a blend packs both into one vector. Measured: straight-line code
     * for a fixed count exceeds C2's inlining budget, and shuffles and masks made here beat constant ones.
     *
     * @param lanes holds {@code count} vectors at {@code offset...}; overwritten
     * @param count a multiple of {@link #LANES}
     * @see #sumIndex
     */
    static void sums(float[] lanes, int offset, int count) {
        for (int width = LANES; width > 1; width /= 2, count /= 2) {
            int half = width / 2;
            VectorShuffle<Float> down = VectorShuffle.iota(F, half, 1, true);
            VectorShuffle<Float> up = VectorShuffle.iota(F, LANES - half, 1, true);
            VectorMask<Float> upperHalves = IntVector.zero(I).addIndex(1).and(half)
                    .compare(VectorOperators.NE, 0).cast(F);
            for (int v = 0; v < count; v += 2) {
                FloatVector p = FloatVector.fromArray(F, lanes, offset + v * LANES);
                FloatVector q = FloatVector.fromArray(F, lanes, offset + (v + 1) * LANES);
                p.add(p.rearrange(down)).blend(q.add(q.rearrange(up)), upperHalves)
                        .intoArray(lanes, offset + v / 2 * LANES);
            }
        }
    }

    /**
     * @param vector the index of a vector among those of a {@link #sums} call
     * @return the index of its sum in that call's {@code lanes}, from its {@code offset}: each group of
     *         {@link #LANES} vectors ends up in one vector, vector {@code i} of the group in the lane whose index
     *         is {@code i} bit-reversed
     */
    static int sumIndex(int vector) {
        int i = vector % LANES;
        return vector - i + (Integer.reverse(i) >>> (Integer.numberOfLeadingZeros(LANES) + 1));
    }

    /** @return {@code Σ a[aOffset + i] * b[bOffset + i]} for {@code i < count}, in the order described above */
    static float dot(float[] a, int aOffset, float[] b, int bOffset, int count, boolean vector) {
        int i = 0;
        float result = 0;
        if (vector) {
            FloatVector even = FloatVector.zero(F);
            FloatVector odd = even;
            for (int bound = F.loopBound(count); i < bound; i += LANES) {
                FloatVector product = FloatVector.fromArray(F, a, aOffset + i);
                if (evenRun(i)) {
                    even = product.fma(FloatVector.fromArray(F, b, bOffset + i), even);
                } else {
                    odd = product.fma(FloatVector.fromArray(F, b, bOffset + i), odd);
                }
            }
            result = sum(even) + sum(odd);
        }
        for (; i < count; i++) {
            result = Math.fma(a[aOffset + i], b[bOffset + i], result);
        }
        return result;
    }
}
