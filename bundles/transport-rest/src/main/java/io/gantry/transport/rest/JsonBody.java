package io.gantry.transport.rest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A request's JSON object and typed access to its fields. Every way a body can be wrong (too large, not UTF-8, not
 * JSON, not an object, a field of the wrong type) becomes an {@link ApiException} that names the problem; fields
 * the server does not know are ignored. A JSON {@code null} counts as absent.
 */
final class JsonBody {

    /** The one mapper: thread-safe once configured. Jackson's default limits bound nesting and number lengths. */
    static final ObjectMapper MAPPER = new ObjectMapper();

    private final ObjectNode node;

    JsonBody(ObjectNode node) {
        this.node = node;
    }

    /**
     * Reads and parses a request body.
     *
     * @param in            the body
     * @param contentLength the declared length, or -1
     * @param maxBytes      the largest body accepted
     * @throws ApiException 413 for a larger body, 400 for one that ends early, is not UTF-8 or not a JSON object
     */
    static JsonBody read(InputStream in, long contentLength, long maxBytes) {
        if (contentLength > maxBytes) {
            throw tooLarge(maxBytes);
        }
        byte[] bytes;
        try {
            bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
        } catch (IOException e) {
            // The connection ended before the body did (a client that sends less than its Content-Length). Left
            // to the server, that would be an empty 500; the client may still be reading, so it is told why.
            throw ApiException.invalid(null, "The request body ended before its declared length: "
                    + e.getMessage());
        }
        if (bytes.length > maxBytes) {
            throw tooLarge(maxBytes);
        }
        return parse(bytes);
    }

    /** Parses a body already read. */
    static JsonBody parse(byte[] bytes) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes));
        } catch (CharacterCodingException e) {
            throw ApiException.invalid(null, "The request body is not valid UTF-8");
        }
        JsonNode tree;
        try {
            tree = MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw ApiException.invalid(null, "The request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiException.invalid(null, "The request body cannot be read: " + e.getMessage());
        }
        if (tree == null || tree.isMissingNode()) {
            throw ApiException.invalid(null, "The request body is empty; expected a JSON object");
        }
        if (!(tree instanceof ObjectNode object)) {
            throw ApiException.invalid(null, "The request body must be a JSON object, not " + describe(tree));
        }
        return new JsonBody(object);
    }

    private static ApiException tooLarge(long maxBytes) {
        return new ApiException(413, "invalid_request_error", null, "request_too_large",
                "The request body is larger than the limit of " + maxBytes + " bytes", 0);
    }

    /** @return the field's node, or {@code null} when absent or JSON null */
    JsonNode get(String name) {
        JsonNode value = node.get(name);
        return value == null || value.isNull() ? null : value;
    }

    /** @return whether the field is present and not null */
    boolean has(String name) {
        return get(name) != null;
    }

    String string(String name) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        if (!value.isTextual()) {
            throw wrongType(name, "a string", value);
        }
        return value.textValue();
    }

    Boolean bool(String name) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        if (!value.isBoolean()) {
            throw wrongType(name, "a boolean", value);
        }
        return value.booleanValue();
    }

    Integer integer(String name) {
        JsonNode value = get(name);
        return value == null ? null : integer(name, value);
    }

    Long int64(String name) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        if (!value.isIntegralNumber()) {
            throw wrongType(name, "an integer", value);
        }
        if (!value.canConvertToLong()) {
            throw ApiException.invalid(name, "'" + name + "' is out of range: " + value);
        }
        return value.longValue();
    }

    Float number(String name) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        if (!value.isNumber()) {
            throw wrongType(name, "a number", value);
        }
        return (float) value.doubleValue();
    }

    /** @return the field as an object, or {@code null} when absent */
    JsonBody object(String name) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        if (!(value instanceof ObjectNode object)) {
            throw wrongType(name, "an object", value);
        }
        return new JsonBody(object);
    }

    /** @return a string or an array of strings as a list, or {@code null} when absent */
    List<String> stringOrStrings(String name) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        if (value.isTextual()) {
            return List.of(value.textValue());
        }
        if (!value.isArray()) {
            throw wrongType(name, "a string or an array of strings", value);
        }
        List<String> strings = new ArrayList<>(value.size());
        for (JsonNode element : value) {
            if (!element.isTextual()) {
                throw wrongType(name + "[" + strings.size() + "]", "a string", element);
            }
            strings.add(element.textValue());
        }
        return strings;
    }

    /** @return an array of integers, or {@code null} when absent */
    int[] integers(String name) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        return integers(name, value);
    }

    static int[] integers(String name, JsonNode value) {
        if (!value.isArray()) {
            throw wrongType(name, "an array of integers", value);
        }
        int[] ints = new int[value.size()];
        for (int i = 0; i < ints.length; i++) {
            ints[i] = integer(name + "[" + i + "]", value.get(i));
        }
        return ints;
    }

    static int integer(String name, JsonNode value) {
        if (!value.isIntegralNumber()) {
            throw wrongType(name, "an integer", value);
        }
        if (!value.canConvertToInt()) {
            throw ApiException.invalid(name, "'" + name + "' is out of range: " + value);
        }
        return value.intValue();
    }

    static ApiException wrongType(String name, String expected, JsonNode value) {
        return ApiException.invalid(name, "'" + name + "' must be " + expected + ", not " + describe(value));
    }

    static String describe(JsonNode value) {
        return switch (value.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT, POJO -> "an object";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            case BINARY, MISSING -> "nothing";
        };
    }
}
