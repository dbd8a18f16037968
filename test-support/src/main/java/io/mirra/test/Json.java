package io.mirra.test;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON reader for tests (client output such as {@code nbdinfo --json} and
 * {@code fio --output-format=json}, and mirra's own admin JSON): objects become {@link Map} (a repeated name keeps the
 * last value, or is an error with {@link #parseStrict(String)}), arrays {@link List}, numbers {@link BigDecimal}, plus {@link String}, {@link Boolean} and null. It fails on
 * anything RFC 8259 does not allow, so a test that parses output also checks that it is valid JSON.
 */
public final class Json
{
    private final String text;
    private final boolean uniqueNames;
    private int pos;

    private Json(final String text, final boolean uniqueNames)
    {
        this.text = text;
        this.uniqueNames = uniqueNames;
    }

    /**
     * @param text one JSON value, with optional surrounding whitespace.
     * @return the value.
     * @throws IllegalArgumentException on malformed input, naming the position.
     */
    public static Object parse(final String text)
    {
        return parse(text, false);
    }

    /**
     * Like {@link #parse(String)}, and an object naming a member twice is an error too (RFC 8259 only says names
     * SHOULD be unique; fio repeats them, mirra's own output must not).
     *
     * @param text one JSON value, with optional surrounding whitespace.
     * @return the value.
     * @throws IllegalArgumentException on malformed input or a duplicate name, naming the position.
     */
    public static Object parseStrict(final String text)
    {
        return parse(text, true);
    }

    private static Object parse(final String text, final boolean uniqueNames)
    {
        final Json json = new Json(text, uniqueNames);
        final Object value = json.value();
        json.skipWhitespace();
        if (json.pos != text.length())
        {
            throw json.error("trailing characters");
        }
        return value;
    }

    /**
     * @param value a parsed value.
     * @return it as an object.
     */
    public static Map<String, Object> object(final Object value)
    {
        return object(value, "value");
    }

    /**
     * @param value a parsed value.
     * @return it as an array.
     */
    public static List<Object> array(final Object value)
    {
        return array(value, "value");
    }

    /** @return {@code value} as an object, or an assertion-friendly failure. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> object(final Object value, final String what)
    {
        if (!(value instanceof Map))
        {
            throw new IllegalArgumentException(what + " is not a JSON object: " + value);
        }
        return (Map<String, Object>)value;
    }

    /** @return {@code value} as an array. */
    @SuppressWarnings("unchecked")
    public static List<Object> array(final Object value, final String what)
    {
        if (!(value instanceof List))
        {
            throw new IllegalArgumentException(what + " is not a JSON array: " + value);
        }
        return (List<Object>)value;
    }

    /** @return member {@code key} of {@code object} as a long. */
    public static long longValue(final Map<String, Object> object, final String key)
    {
        final Object value = object.get(key);
        if (!(value instanceof BigDecimal))
        {
            throw new IllegalArgumentException("'" + key + "' is not a number: " + value + " in " + object);
        }
        return ((BigDecimal)value).longValueExact();
    }

    private Object value()
    {
        skipWhitespace();
        if (pos >= text.length())
        {
            throw error("unexpected end");
        }
        final char c = text.charAt(pos);
        switch (c)
        {
            case '{':
                return objectValue();
            case '[':
                return arrayValue();
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9'))
                {
                    return number();
                }
                throw error("unexpected '" + c + "'");
        }
    }

    private Map<String, Object> objectValue()
    {
        final Map<String, Object> map = new LinkedHashMap<>();
        pos++;
        skipWhitespace();
        if (peek() == '}')
        {
            pos++;
            return map;
        }
        while (true)
        {
            skipWhitespace();
            if (peek() != '"')
            {
                throw error("expected a member name");
            }
            final String key = string();
            skipWhitespace();
            expect(':');
            if (uniqueNames && map.containsKey(key))
            {
                throw error("duplicate name " + key);
            }
            map.put(key, value());
            skipWhitespace();
            if (peek() == ',')
            {
                pos++;
                continue;
            }
            expect('}');
            return map;
        }
    }

    private List<Object> arrayValue()
    {
        final List<Object> list = new ArrayList<>();
        pos++;
        skipWhitespace();
        if (peek() == ']')
        {
            pos++;
            return list;
        }
        while (true)
        {
            list.add(value());
            skipWhitespace();
            if (peek() == ',')
            {
                pos++;
                continue;
            }
            expect(']');
            return list;
        }
    }

    private String string()
    {
        pos++;
        final StringBuilder sb = new StringBuilder();
        while (true)
        {
            if (pos >= text.length())
            {
                throw error("unterminated string");
            }
            final char c = text.charAt(pos++);
            if (c == '"')
            {
                return sb.toString();
            }
            if (c != '\\')
            {
                sb.append(c);
                continue;
            }
            final char e = text.charAt(pos++);
            switch (e)
            {
                case 'n': sb.append('\n'); break;
                case 't': sb.append('\t'); break;
                case 'r': sb.append('\r'); break;
                case 'b': sb.append('\b'); break;
                case 'f': sb.append('\f'); break;
                case 'u':
                    sb.append((char)Integer.parseInt(text.substring(pos, pos + 4), 16));
                    pos += 4;
                    break;
                default: sb.append(e);
            }
        }
    }

    private BigDecimal number()
    {
        final int start = pos;
        while (pos < text.length() && "+-0123456789.eE".indexOf(text.charAt(pos)) >= 0)
        {
            pos++;
        }
        try
        {
            return new BigDecimal(text.substring(start, pos));
        }
        catch (final NumberFormatException ex)
        {
            throw error("bad number '" + text.substring(start, pos) + "'");
        }
    }

    private Object literal(final String word, final Object value)
    {
        if (!text.startsWith(word, pos))
        {
            throw error("expected " + word);
        }
        pos += word.length();
        return value;
    }

    private void expect(final char c)
    {
        if (peek() != c)
        {
            throw error("expected '" + c + "'");
        }
        pos++;
    }

    private char peek()
    {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private void skipWhitespace()
    {
        while (pos < text.length() && Character.isWhitespace(text.charAt(pos)))
        {
            pos++;
        }
    }

    private IllegalArgumentException error(final String message)
    {
        final int from = Math.max(0, pos - 40);
        final int to = Math.min(text.length(), pos + 40);
        return new IllegalArgumentException("bad JSON at " + pos + ": " + message + " near '" +
            text.substring(from, to) + "'");
    }
}
