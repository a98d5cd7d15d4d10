package io.gantry.engine.chat;

import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.StringJoiner;
import java.util.regex.Pattern;

/**
 * Python's {@code str} methods for strings in chat templates: {@code content.strip()}, {@code role.startswith('x')},
 * {@code text.split('</think>')} and the like, with Python's semantics (a literal separator, not a Java regex), and
 * indexing a string ({@code text[0]}, {@code text[-1]}). Placed before Jinjava's own resolvers, it answers the
 * method calls on strings whose name it knows and integer subscripts of strings, and leaves everything else to them.
 */
final class PythonStringMethods extends ELResolver {

    /** What a call to a method this class does not know gives, so that the next resolver gets it. */
    private static final Object NOT_HANDLED = new Object();
    private static final Pattern INDEX = Pattern.compile("-?\\d{1,9}");

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(base instanceof CharSequence sequence) || !(method instanceof String name)) {
            return null;
        }
        String text = sequence.toString();
        Object[] args = params == null ? new Object[0] : params;
        Object result = switch (name) {
            case "strip" -> strip(text, optionalString(name, args, 1), true, true);
            case "lstrip" -> strip(text, optionalString(name, args, 1), true, false);
            case "rstrip" -> strip(text, optionalString(name, args, 1), false, true);
            case "split" -> split(text, optionalString(name, args, 2), args.length > 1 ? toInt(args[1]) : -1);
            case "startswith" -> matchesAny(text, one(name, args), true);
            case "endswith" -> matchesAny(text, one(name, args), false);
            case "upper" -> none(name, args, text.toUpperCase(Locale.ROOT));
            case "lower" -> none(name, args, text.toLowerCase(Locale.ROOT));
            case "title" -> none(name, args, title(text));
            case "capitalize" -> none(name, args, capitalize(text));
            case "replace" -> replace(name, text, args);
            case "join" -> join(text, one(name, args));
            default -> NOT_HANDLED;
        };
        if (result == NOT_HANDLED) {
            return null;
        }
        context.setPropertyResolved(true);
        return result;
    }

    private static String strip(String text, String chars, boolean leading, boolean trailing) {
        int start = 0;
        int end = text.length();
        while (leading && start < end && isStripped(text.charAt(start), chars)) {
            start++;
        }
        while (trailing && end > start && isStripped(text.charAt(end - 1), chars)) {
            end--;
        }
        return text.substring(start, end);
    }

    private static boolean isStripped(char c, String chars) {
        return chars == null ? isPythonSpace(c) : chars.indexOf(c) >= 0;
    }

    /** Python's {@code str.isspace()} for one character. */
    private static boolean isPythonSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }

    private static List<String> split(String text, String separator, int maxSplit) {
        List<String> parts = new ArrayList<>();
        if (separator == null) {
            int i = 0;
            int n = text.length();
            while (true) {
                while (i < n && isPythonSpace(text.charAt(i))) {
                    i++;
                }
                if (i == n) {
                    return parts;
                }
                if (maxSplit >= 0 && parts.size() == maxSplit) {
                    parts.add(text.substring(i));
                    return parts;
                }
                int wordEnd = i;
                while (wordEnd < n && !isPythonSpace(text.charAt(wordEnd))) {
                    wordEnd++;
                }
                parts.add(text.substring(i, wordEnd));
                i = wordEnd;
            }
        }
        if (separator.isEmpty()) {
            throw new IllegalArgumentException("str.split(): empty separator");
        }
        int from = 0;
        int at;
        while ((maxSplit < 0 || parts.size() < maxSplit) && (at = text.indexOf(separator, from)) >= 0) {
            parts.add(text.substring(from, at));
            from = at + separator.length();
        }
        parts.add(text.substring(from));
        return parts;
    }

    /** {@code startswith}/{@code endswith} take one string or a tuple of candidates. */
    private static boolean matchesAny(String text, Object candidates, boolean prefix) {
        if (candidates instanceof Iterable<?> many) {
            for (Object candidate : many) {
                if (matchesAny(text, candidate, prefix)) {
                    return true;
                }
            }
            return false;
        }
        String candidate = String.valueOf(candidates);
        return prefix ? text.startsWith(candidate) : text.endsWith(candidate);
    }

    /** Upper-cases the first letter of every run of letters and lower-cases the rest, as Python's {@code title}. */
    private static String title(String text) {
        StringBuilder out = new StringBuilder(text.length());
        boolean inWord = false;
        for (int i = 0; i < text.length(); ) {
            int codePoint = text.codePointAt(i);
            boolean letter = Character.isLetter(codePoint);
            out.appendCodePoint(!letter ? codePoint
                    : inWord ? Character.toLowerCase(codePoint) : Character.toTitleCase(codePoint));
            inWord = letter;
            i += Character.charCount(codePoint);
        }
        return out.toString();
    }

    private static String capitalize(String text) {
        if (text.isEmpty()) {
            return text;
        }
        int first = text.codePointAt(0);
        return new StringBuilder().appendCodePoint(Character.toTitleCase(first))
                .append(text.substring(Character.charCount(first)).toLowerCase(Locale.ROOT)).toString();
    }

    private static String replace(String name, String text, Object[] args) {
        if (args.length < 2 || args.length > 3) {
            throw wrongArguments(name, "2 or 3", args.length);
        }
        String old = String.valueOf(args[0]);
        String replacement = String.valueOf(args[1]);
        int count = args.length == 3 ? toInt(args[2]) : -1;
        if (count < 0) {
            return text.replace(old, replacement);
        }
        StringBuilder out = new StringBuilder();
        int from = 0;
        for (int done = 0; done < count; done++) {
            int at = text.indexOf(old, from);
            if (at < 0) {
                break;
            }
            out.append(text, from, at).append(replacement);
            from = at + old.length();
        }
        return out.append(text.substring(from)).toString();
    }

    private static String join(String separator, Object items) {
        if (!(items instanceof Iterable<?> iterable)) {
            throw new IllegalArgumentException("str.join() needs a list, not " + describe(items));
        }
        StringJoiner joined = new StringJoiner(separator);
        for (Object item : iterable) {
            joined.add(String.valueOf(item));
        }
        return joined.toString();
    }

    private static Object one(String name, Object[] args) {
        if (args.length != 1) {
            throw wrongArguments(name, "1", args.length);
        }
        return args[0];
    }

    private static Object none(String name, Object[] args, Object result) {
        if (args.length != 0) {
            throw wrongArguments(name, "no", args.length);
        }
        return result;
    }

    /** The first argument as a string, absent or None giving null, for a method that takes at most {@code maxArgs}. */
    private static String optionalString(String name, Object[] args, int maxArgs) {
        if (args.length > maxArgs) {
            throw wrongArguments(name, "at most " + maxArgs, args.length);
        }
        return args.length == 0 || args[0] == null ? null : args[0].toString();
    }

    private static int toInt(Object value) {
        if (value instanceof Number number) {
            return number.intValue();
        }
        throw new IllegalArgumentException("expected an integer, not " + describe(value));
    }

    private static String describe(Object value) {
        return value == null ? "None" : value.getClass().getSimpleName();
    }

    private static IllegalArgumentException wrongArguments(String name, String expected, int given) {
        return new IllegalArgumentException("str." + name + "() takes " + expected + " argument(s), " + given
                + " given");
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return Collections.emptyIterator();
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    /** {@code text[i]}: one character, counted from the end when {@code i} is negative. */
    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        if (!(base instanceof CharSequence text) || !(property instanceof String name) || !INDEX.matcher(name).matches()) {
            return null;
        }
        int index = Integer.parseInt(name);
        int at = index < 0 ? text.length() + index : index;
        if (at < 0 || at >= text.length()) {
            throw new IllegalArgumentException("string index " + index + " out of range for a string of "
                    + text.length() + " characters");
        }
        context.setPropertyResolved(true);
        return String.valueOf(text.charAt(at));
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return false;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {
        // Strings have no properties to set; the next resolver decides.
    }
}
