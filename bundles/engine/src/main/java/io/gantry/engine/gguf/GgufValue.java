package io.gantry.engine.gguf;

import java.util.Objects;

/**
 * One GGUF metadata value: its type and its Java value. Integers of every width are held as a
 * {@link Long} with their numeric value (a UINT64 above {@link Long#MAX_VALUE} keeps its bits), FLOAT32 as
 * {@link Float}, FLOAT64 as {@link Double}, BOOL as {@link Boolean}, STRING as {@link String} and ARRAY as
 * {@link GgufArray}. The {@code as...} conversions widen where no information is lost and throw
 * {@link IllegalStateException} otherwise.
 *
 * @param type the GGUF type
 * @param value the Java value, of the class listed above for {@code type}
 */
public record GgufValue(GgufValueType type, Object value) {

    /** Checks that the Java value fits the GGUF type. */
    public GgufValue {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(value, "value");
        boolean fits = switch (type) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 ->
                    value instanceof Long number && inRange(type, number);
            case FLOAT32 -> value instanceof Float;
            case FLOAT64 -> value instanceof Double;
            case BOOL -> value instanceof Boolean;
            case STRING -> value instanceof String;
            case ARRAY -> value instanceof GgufArray;
        };
        if (!fits) {
            throw new IllegalArgumentException(value + " (" + value.getClass().getSimpleName()
                    + ") is not a valid " + type + " value");
        }
    }

    /**
     * @param type an integer type
     * @param value its numeric value (for UINT64, its bits)
     * @return the value
     * @throws IllegalArgumentException if {@code type} is not an integer type or the value is out of its range
     */
    public static GgufValue ofInteger(GgufValueType type, long value) {
        return new GgufValue(type, value);
    }

    /** @return a UINT32 value; {@code value} must be in [0, 2^32) */
    public static GgufValue ofUInt32(long value) {
        return new GgufValue(GgufValueType.UINT32, value);
    }

    /** @return an INT32 value */
    public static GgufValue ofInt32(int value) {
        return new GgufValue(GgufValueType.INT32, (long) value);
    }

    /** @return a FLOAT32 value */
    public static GgufValue ofFloat32(float value) {
        return new GgufValue(GgufValueType.FLOAT32, value);
    }

    /** @return a FLOAT64 value */
    public static GgufValue ofFloat64(double value) {
        return new GgufValue(GgufValueType.FLOAT64, value);
    }

    /** @return a BOOL value */
    public static GgufValue ofBool(boolean value) {
        return new GgufValue(GgufValueType.BOOL, value);
    }

    /** @return a STRING value */
    public static GgufValue ofString(String value) {
        return new GgufValue(GgufValueType.STRING, value);
    }

    /** @return an ARRAY value */
    public static GgufValue ofArray(GgufArray value) {
        return new GgufValue(GgufValueType.ARRAY, value);
    }

    private static boolean inRange(GgufValueType type, long value) {
        return switch (type) {
            case UINT8 -> value >= 0 && value <= 0xFF;
            case INT8 -> value == (byte) value;
            case UINT16 -> value >= 0 && value <= 0xFFFF;
            case INT16 -> value == (short) value;
            case UINT32 -> value >= 0 && value <= 0xFFFF_FFFFL;
            case INT32 -> value == (int) value;
            case UINT64, INT64 -> true;
            default -> false;
        };
    }

    /**
     * @return an integer value of any type
     * @throws IllegalStateException if this is not an integer, or a UINT64 above {@link Long#MAX_VALUE}
     */
    public long asLong() {
        if (!(value instanceof Long number)) {
            throw wrongType("an integer");
        }
        if (type == GgufValueType.UINT64 && number < 0) {
            throw new IllegalStateException("is UINT64 " + Long.toUnsignedString(number) + ", too large for a long");
        }
        return number;
    }

    /**
     * @return an integer value of any type that fits in an int
     * @throws IllegalStateException if this is not an integer or does not fit
     */
    public int asInt() {
        long number = asLong();
        if (number != (int) number) {
            throw new IllegalStateException("is " + type + " " + number + ", too large for an int");
        }
        return (int) number;
    }

    /**
     * @return a FLOAT32 value, or a FLOAT64 one rounded to float
     * @throws IllegalStateException if this is not a floating-point value
     */
    public float asFloat() {
        return (float) asDouble();
    }

    /**
     * @return a FLOAT32 or FLOAT64 value
     * @throws IllegalStateException if this is not a floating-point value
     */
    public double asDouble() {
        return switch (value) {
            case Float number -> number;
            case Double number -> number;
            default -> throw wrongType("a float");
        };
    }

    /**
     * @return a BOOL value
     * @throws IllegalStateException if this is not a BOOL
     */
    public boolean asBoolean() {
        if (value instanceof Boolean flag) {
            return flag;
        }
        throw wrongType("a boolean");
    }

    /**
     * @return a STRING value
     * @throws IllegalStateException if this is not a STRING
     */
    public String asString() {
        if (value instanceof String text) {
            return text;
        }
        throw wrongType("a string");
    }

    /**
     * @return an ARRAY value
     * @throws IllegalStateException if this is not an ARRAY
     */
    public GgufArray asArray() {
        if (value instanceof GgufArray array) {
            return array;
        }
        throw wrongType("an array");
    }

    private IllegalStateException wrongType(String wanted) {
        return new IllegalStateException("is " + type + ", not " + wanted);
    }
}
