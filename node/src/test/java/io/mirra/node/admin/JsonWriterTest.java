package io.mirra.node.admin;

import io.mirra.test.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

@Timeout(10)
class JsonWriterTest
{
    @Test
    void shouldWriteNestedContainersCompactly()
    {
        final String json = new JsonWriter(false).beginObject()
            .field("a", 1)
            .name("b").beginArray().value(true).value("x").beginObject().endObject().beginArray().endArray()
            .endArray()
            .name("c").value(12.345, 2)
            .field("d", (String)null)
            .endObject().toString();
        assertEquals("{\"a\":1,\"b\":[true,\"x\",{},[]],\"c\":12.35,\"d\":null}", json);
    }

    @Test
    void shouldIndentByTwoSpacesWhenPretty()
    {
        final String json = new JsonWriter(true).beginArray().beginObject().field("a", "b")
            .name("c").beginArray().endArray().endObject().endArray().toString();
        assertEquals("[\n  {\n    \"a\": \"b\",\n    \"c\": []\n  }\n]", json);
    }

    @Test
    void shouldEscapeEveryCharacterJsonRequires()
    {
        final StringBuilder sb = new StringBuilder();
        JsonWriter.quote(sb, "q\"b\\s/n\nr\rt\tb\bf\fc\u0000\u001fls\u2028ok\u00e9\ud83d\ude00lone\ud800");
        assertEquals("\"q\\\"b\\\\s/n\\nr\\rt\\tb\\bf\\fc\\u0000\\u001fls\\u2028ok\u00e9\ud83d\ude00lone\\ud800\"",
            sb.toString());
        assertEquals("q\"b\\s/n\nr\rt\tb\bf\fc\u0000\u001fls\u2028ok\u00e9\ud83d\ude00lone\ud800",
            Json.parseStrict(sb.toString()));
    }

    @Test
    void shouldWriteNumbersThatJsonCanCarry()
    {
        assertEquals("[0.00,0.00,-1.50]", new JsonWriter(false).beginArray().value(Double.NaN, 2)
            .value(Double.POSITIVE_INFINITY, 2).value(-1.5, 2).endArray().toString());
        assertEquals(Map.of("n", List.of()), Json.parseStrict(new JsonWriter(false).beginObject().name("n")
            .beginArray().endArray().endObject().toString()));
    }
}
