package io.gantry.engine.gguf;

/**
 * The types a GGUF metadata value can have, with the ids GGUF files use for them.
 */
public enum GgufValueType {
    UINT8(0, 1),
    INT8(1, 1),
    UINT16(2, 2),
    INT16(3, 2),
    UINT32(4, 4),
    INT32(5, 4),
    FLOAT32(6, 4),
    BOOL(7, 1),
    /** A UTF-8 string: a 64-bit byte count, then the bytes. */
    STRING(8, 8),
    /** An element type, a 64-bit element count, then the elements; arrays may nest. */
    ARRAY(9, 12),
    UINT64(10, 8),
    INT64(11, 8),
    FLOAT64(12, 8);

    private final int id;
    private final int minBytes;

    GgufValueType(int id, int minBytes) {
        this.id = id;
        this.minBytes = minBytes;
    }

    /** @return the type id GGUF files use */
    public int id() {
        return id;
    }

    /**
     * @return the fewest bytes one value of this type takes in a file: its exact size for numbers and
     *         booleans, the length or header fields for strings and arrays
     */
    int minBytes() {
        return minBytes;
    }

    /** @return whether values of this type are integers (signed or unsigned, any width) */
    public boolean isInteger() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    /** @return whether values of this type are unsigned integers */
    public boolean isUnsigned() {
        return this == UINT8 || this == UINT16 || this == UINT32 || this == UINT64;
    }

    /**
     * @param id a GGUF value type id
     * @return the type with that id, or {@code null} if GGUF defines none
     */
    static GgufValueType fromId(long id) {
        for (GgufValueType type : values()) {
            if (type.id == id) {
                return type;
            }
        }
        return null;
    }
}
