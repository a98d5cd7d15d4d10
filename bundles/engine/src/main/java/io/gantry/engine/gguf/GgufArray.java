package io.gantry.engine.gguf;

import java.util.Arrays;
import java.util.Objects;

/**
 * An immutable GGUF metadata array: an element type and its elements. Elements are kept in the smallest
 * Java array that holds them ({@code byte[]} for 8-bit integers, {@code short[]}, {@code int[]},
 * {@code long[]}, {@code float[]}, {@code double[]}, {@code boolean[]}, {@code String[]}, and
 * {@code GgufArray[]} for nested arrays); unsigned elements keep their bits, and the typed views widen
 * them to their unsigned value. The views return copies.
 */
public final class GgufArray {

    private final GgufValueType elementType;
    private final Object elements;

    private GgufArray(GgufValueType elementType, Object elements) {
        this.elementType = elementType;
        this.elements = elements;
    }

    /**
     * @param elementType the GGUF type of every element
     * @param elements a Java array of the class listed in this class's description for that type; it is copied
     * @return the array
     * @throws IllegalArgumentException if the Java array does not fit the element type
     */
    public static GgufArray of(GgufValueType elementType, Object elements) {
        Objects.requireNonNull(elementType, "elementType");
        Objects.requireNonNull(elements, "elements");
        Class<?> expected = storageClass(elementType);
        if (elements.getClass() != expected) {
            throw new IllegalArgumentException(elementType + " elements must be a " + expected.getSimpleName()
                    + ", not a " + elements.getClass().getSimpleName());
        }
        Object copy = copyOf(elements);
        if (copy instanceof Object[] objects) {
            for (Object element : objects) {
                Objects.requireNonNull(element, "array element");
            }
        }
        return new GgufArray(elementType, copy);
    }

    /** @return an array of STRING elements */
    public static GgufArray ofStrings(String... elements) {
        return of(GgufValueType.STRING, elements);
    }

    /** @return an array of FLOAT32 elements */
    public static GgufArray ofFloat32(float... elements) {
        return of(GgufValueType.FLOAT32, elements);
    }

    /** @return an array of INT32 elements */
    public static GgufArray ofInt32(int... elements) {
        return of(GgufValueType.INT32, elements);
    }

    /** Wraps elements the reader made and owns, without copying them. */
    static GgufArray wrap(GgufValueType elementType, Object elements) {
        return new GgufArray(elementType, elements);
    }

    static Class<?> storageClass(GgufValueType elementType) {
        return switch (elementType) {
            case UINT8, INT8 -> byte[].class;
            case UINT16, INT16 -> short[].class;
            case UINT32, INT32 -> int[].class;
            case UINT64, INT64 -> long[].class;
            case FLOAT32 -> float[].class;
            case FLOAT64 -> double[].class;
            case BOOL -> boolean[].class;
            case STRING -> String[].class;
            case ARRAY -> GgufArray[].class;
        };
    }

    /** @return the type of every element */
    public GgufValueType elementType() {
        return elementType;
    }

    /** @return the number of elements */
    public int size() {
        return java.lang.reflect.Array.getLength(elements);
    }

    /** The elements themselves, for the writer; callers must not change them. */
    Object rawElements() {
        return elements;
    }

    /**
     * @return the elements as longs: integers of any type, unsigned ones by value
     * @throws IllegalStateException if the elements are not integers, or a UINT64 element exceeds {@link Long#MAX_VALUE}
     */
    public long[] toLongArray() {
        long[] result = new long[size()];
        switch (elements) {
            case byte[] bytes -> {
                for (int i = 0; i < bytes.length; i++) {
                    result[i] = elementType.isUnsigned() ? Byte.toUnsignedLong(bytes[i]) : bytes[i];
                }
            }
            case short[] shorts -> {
                for (int i = 0; i < shorts.length; i++) {
                    result[i] = elementType.isUnsigned() ? Short.toUnsignedLong(shorts[i]) : shorts[i];
                }
            }
            case int[] ints -> {
                for (int i = 0; i < ints.length; i++) {
                    result[i] = elementType.isUnsigned() ? Integer.toUnsignedLong(ints[i]) : ints[i];
                }
            }
            case long[] longs -> {
                for (int i = 0; i < longs.length; i++) {
                    if (elementType.isUnsigned() && longs[i] < 0) {
                        throw new IllegalStateException("element " + i + " is " + Long.toUnsignedString(longs[i])
                                + ", too large for a long");
                    }
                    result[i] = longs[i];
                }
            }
            default -> throw new IllegalStateException("is an array of " + elementType + ", not of integers");
        }
        return result;
    }

    /**
     * @return the elements as ints: integers of any type whose values fit in an int
     * @throws IllegalStateException if the elements are not integers or one does not fit
     */
    public int[] toIntArray() {
        if (elementType == GgufValueType.INT32) {
            return ((int[]) elements).clone();
        }
        long[] longs = toLongArray();
        int[] result = new int[longs.length];
        for (int i = 0; i < longs.length; i++) {
            if (longs[i] != (int) longs[i]) {
                throw new IllegalStateException("element " + i + " is " + longs[i] + ", too large for an int");
            }
            result[i] = (int) longs[i];
        }
        return result;
    }

    /**
     * @return the elements as floats: FLOAT32 elements, or FLOAT64 ones rounded
     * @throws IllegalStateException if the elements are not floating point
     */
    public float[] toFloatArray() {
        return switch (elements) {
            case float[] floats -> floats.clone();
            case double[] doubles -> {
                float[] result = new float[doubles.length];
                for (int i = 0; i < doubles.length; i++) {
                    result[i] = (float) doubles[i];
                }
                yield result;
            }
            default -> throw new IllegalStateException("is an array of " + elementType + ", not of floats");
        };
    }

    /**
     * @return the elements as strings
     * @throws IllegalStateException if the elements are not strings
     */
    public String[] toStringArray() {
        if (elements instanceof String[] strings) {
            return strings.clone();
        }
        throw new IllegalStateException("is an array of " + elementType + ", not of strings");
    }

    /**
     * @return the elements as booleans
     * @throws IllegalStateException if the elements are not booleans
     */
    public boolean[] toBooleanArray() {
        if (elements instanceof boolean[] booleans) {
            return booleans.clone();
        }
        throw new IllegalStateException("is an array of " + elementType + ", not of booleans");
    }

    /**
     * @return the elements of an array of arrays
     * @throws IllegalStateException if the elements are not arrays
     */
    public GgufArray[] toNestedArrays() {
        if (elements instanceof GgufArray[] arrays) {
            return arrays.clone();
        }
        throw new IllegalStateException("is an array of " + elementType + ", not of arrays");
    }

    private static Object copyOf(Object array) {
        return switch (array) {
            case byte[] a -> a.clone();
            case short[] a -> a.clone();
            case int[] a -> a.clone();
            case long[] a -> a.clone();
            case float[] a -> a.clone();
            case double[] a -> a.clone();
            case boolean[] a -> a.clone();
            case Object[] a -> a.clone();
            default -> throw new IllegalArgumentException("not an array: " + array.getClass());
        };
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof GgufArray that && elementType == that.elementType
                && Arrays.deepEquals(new Object[] {elements}, new Object[] {that.elements});
    }

    @Override
    public int hashCode() {
        return 31 * elementType.hashCode() + Arrays.deepHashCode(new Object[] {elements});
    }

    @Override
    public String toString() {
        int size = size();
        if (size > 8) {
            return elementType + "[" + size + "]";
        }
        String wrapped = Arrays.deepToString(new Object[] {elements});
        return elementType + wrapped.substring(1, wrapped.length() - 1);
    }
}
