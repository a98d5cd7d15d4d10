package io.gantry.engine.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.PrettyPrinter;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.AdvancedFilter;
import com.hubspot.jinjava.lib.filter.Filter;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The filters chat templates use whose Jinjava versions differ from what Hugging Face's renderer gives them. */
final class PythonFilters {

    private PythonFilters() {
    }

    /** @return every filter of this class, to register over Jinjava's */
    static List<Filter> all() {
        return List.of(new ToJson(), new Items());
    }

    /**
     * {@code tojson} as Hugging Face defines it for chat templates: Python's {@code json.dumps} with
     * {@code ensure_ascii=False}, so {@code {"a": [1, 2]}} with Python's separators, or one item a line with
     * {@code indent=n}. Keyword arguments {@code indent}, {@code sort_keys} and {@code ensure_ascii}.
     */
    static final class ToJson implements AdvancedFilter {

        private final JsonMapper mapper = JsonMapper.builder().build();

        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object value, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            if (args.length > 0) {
                throw new IllegalArgumentException("tojson takes keyword arguments only (indent, sort_keys, ensure_ascii)");
            }
            Integer indent = null;
            ObjectWriter writer = mapper.writer();
            for (Map.Entry<String, Object> argument : kwargs.entrySet()) {
                Object given = argument.getValue();
                switch (argument.getKey()) {
                    case "indent" -> indent = given == null ? null : ((Number) given).intValue();
                    case "sort_keys" -> writer = isTrue(given) ? writer.with(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
                            : writer.without(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
                    case "ensure_ascii" -> writer = isTrue(given) ? writer.with(JsonWriteFeature.ESCAPE_NON_ASCII)
                            : writer.without(JsonWriteFeature.ESCAPE_NON_ASCII);
                    default -> throw new IllegalArgumentException("tojson has no argument '" + argument.getKey() + "'");
                }
            }
            try {
                return writer.with(pythonLayout(indent)).writeValueAsString(value);
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException("tojson cannot write this value: " + e.getOriginalMessage(), e);
            }
        }

        private static boolean isTrue(Object value) {
            return value instanceof Boolean b ? b : value != null;
        }

        /** Python's layout: {@code ", "} and {@code ": "} on one line, or {@code ","} and a newline per item. */
        private static PrettyPrinter pythonLayout(Integer indent) {
            Separators.Spacing between = indent == null ? Separators.Spacing.AFTER : Separators.Spacing.NONE;
            Separators separators = Separators.createDefaultInstance()
                    .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
                    .withObjectEntrySpacing(between)
                    .withArrayValueSpacing(between)
                    .withObjectEmptySeparator("")
                    .withArrayEmptySeparator("");
            DefaultPrettyPrinter.Indenter indenter = indent == null ? new DefaultPrettyPrinter.NopIndenter()
                    : new DefaultIndenter(" ".repeat(indent), "\n");
            DefaultPrettyPrinter printer = new DefaultPrettyPrinter(separators);
            printer.indentObjectsWith(indenter);
            printer.indentArraysWith(indenter);
            return printer;
        }
    }

    /** {@code items}: a mapping's key-value pairs, for {@code {% for key, value in mapping | items %}}. */
    static final class Items implements Filter {

        @Override
        public String getName() {
            return "items";
        }

        @Override
        public Object filter(Object value, JinjavaInterpreter interpreter, String... args) {
            if (value == null) {
                return List.of();
            }
            if (value instanceof Map<?, ?> map) {
                return new ArrayList<>(map.entrySet());
            }
            throw new IllegalArgumentException("items needs a mapping, not " + value.getClass().getSimpleName());
        }
    }
}
