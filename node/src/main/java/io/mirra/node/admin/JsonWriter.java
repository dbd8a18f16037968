package io.mirra.node.admin;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;

/**
 * A minimal JSON writer for the admin endpoint's answers: objects, arrays, strings, integers, booleans and
 * fixed-point numbers, compact (one line, for {@code events}) or indented by two spaces (for {@code status}). It
 * checks only what it must to stay valid (a value needs a name inside an object); callers write well-formed
 * sequences.
 */
final class JsonWriter
{
    private final StringBuilder out = new StringBuilder();
    private final boolean pretty;
    /** Per open container: true while it has no element yet (so no comma is due). */
    private final Deque<Boolean> empty = new ArrayDeque<>();
    private boolean afterName;

    /**
     * @param pretty true for one element per line indented by two spaces; false for one line.
     */
    JsonWriter(final boolean pretty)
    {
        this.pretty = pretty;
    }

    JsonWriter beginObject()
    {
        beforeValue();
        out.append('{');
        empty.push(Boolean.TRUE);
        return this;
    }

    JsonWriter endObject()
    {
        return close('}');
    }

    JsonWriter beginArray()
    {
        beforeValue();
        out.append('[');
        empty.push(Boolean.TRUE);
        return this;
    }

    JsonWriter endArray()
    {
        return close(']');
    }

    /**
     * @param name a member name; the next call writes its value.
     * @return this.
     */
    JsonWriter name(final String name)
    {
        beforeElement();
        quote(name);
        out.append(pretty ? ": " : ":");
        afterName = true;
        return this;
    }

    JsonWriter value(final String value)
    {
        beforeValue();
        if (value == null)
        {
            out.append("null");
        }
        else
        {
            quote(value);
        }
        return this;
    }

    JsonWriter value(final long value)
    {
        beforeValue();
        out.append(value);
        return this;
    }

    JsonWriter value(final boolean value)
    {
        beforeValue();
        out.append(value);
        return this;
    }

    /**
     * @param value    a number; NaN and infinities (which JSON cannot carry) are written as 0.
     * @param decimals digits after the point, as {@code printf("%.2f")} does in drbdsetup.
     * @return this.
     */
    JsonWriter value(final double value, final int decimals)
    {
        beforeValue();
        out.append(String.format(Locale.ROOT, "%." + decimals + "f", Double.isFinite(value) ? value : 0.0));
        return this;
    }

    /** Shorthand for {@code name(name).value(value)}. */
    JsonWriter field(final String name, final String value)
    {
        return name(name).value(value);
    }

    /** Shorthand for {@code name(name).value(value)}. */
    JsonWriter field(final String name, final long value)
    {
        return name(name).value(value);
    }

    /** Shorthand for {@code name(name).value(value)}. */
    JsonWriter field(final String name, final boolean value)
    {
        return name(name).value(value);
    }

    /**
     * @return the text written so far.
     */
    @Override
    public String toString()
    {
        return out.toString();
    }

    /**
     * Append {@code text} as a JSON string: quotes, backslashes and control characters escaped; U+2028/U+2029
     * escaped too (they end lines in JavaScript); an unpaired surrogate, which has no UTF-8 form, as {@code \\uXXXX}.
     *
     * @param sb   where to append.
     * @param text the string.
     */
    static void quote(final StringBuilder sb, final String text)
    {
        sb.append('"');
        for (int i = 0; i < text.length(); i++)
        {
            final char c = text.charAt(i);
            switch (c)
            {
                case '"':
                    sb.append("\\\"");
                    break;
                case '\\':
                    sb.append("\\\\");
                    break;
                case '\n':
                    sb.append("\\n");
                    break;
                case '\r':
                    sb.append("\\r");
                    break;
                case '\t':
                    sb.append("\\t");
                    break;
                case '\b':
                    sb.append("\\b");
                    break;
                case '\f':
                    sb.append("\\f");
                    break;
                default:
                    if (c < 0x20 || c == '\u2028' || c == '\u2029' || isUnpairedSurrogate(text, i))
                    {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int)c));
                    }
                    else
                    {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }

    private static boolean isUnpairedSurrogate(final String text, final int i)
    {
        final char c = text.charAt(i);
        if (Character.isHighSurrogate(c))
        {
            return i + 1 >= text.length() || !Character.isLowSurrogate(text.charAt(i + 1));
        }
        if (Character.isLowSurrogate(c))
        {
            return i == 0 || !Character.isHighSurrogate(text.charAt(i - 1));
        }
        return false;
    }

    private void quote(final String text)
    {
        quote(out, text);
    }

    private JsonWriter close(final char bracket)
    {
        final boolean wasEmpty = empty.pop();
        if (!wasEmpty)
        {
            newline();
        }
        out.append(bracket);
        return this;
    }

    /** Before a value: after a name nothing is due; in an array (or at the top) a separator may be. */
    private void beforeValue()
    {
        if (afterName)
        {
            afterName = false;
            return;
        }
        if (!empty.isEmpty())
        {
            beforeElement();
        }
    }

    private void beforeElement()
    {
        if (!empty.pop())
        {
            out.append(',');
        }
        empty.push(Boolean.FALSE);
        newline();
    }

    private void newline()
    {
        if (pretty)
        {
            out.append('\n');
            for (int i = 0; i < empty.size(); i++)
            {
                out.append("  ");
            }
        }
    }
}
