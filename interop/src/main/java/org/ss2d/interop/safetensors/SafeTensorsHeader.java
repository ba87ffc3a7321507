package org.ss2d.interop.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ss2d.tensor.Shapes;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The parsed and checked JSON header of a {@code .safetensors} file: every entry's dtype, shape and
 * byte range inside the data section, and the free-form {@code __metadata__} strings. Parsing checks
 * everything that can be checked without reading tensor bytes, so that a bad file fails on open
 * with the offending key named, never later with a crash.
 */
record SafeTensorsHeader(Map<String, SafeTensorsEntry> entries, Map<String, String> metadata) {

    /** The reference implementation refuses headers above 100 MB; so do we (a corrupt length is the usual cause). */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    static final String METADATA_KEY = "__metadata__";

    // Strict as the reference (serde_json) parser: no duplicate keys, nothing but padding after the object.
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /**
     * @param file       name used in messages
     * @param json       the header bytes (UTF-8 JSON, possibly padded with spaces)
     * @param dataBytes  size of the data section that follows the header
     */
    static SafeTensorsHeader parse(String file, byte[] json, long dataBytes) {
        JsonNode root;
        try {
            root = JSON.readTree(new String(json, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new Ss2dArgumentException(file + " header", "a JSON object",
                    "malformed JSON (" + e.getOriginalMessage() + ")", null);
        }
        if (root == null || !root.isObject()) {
            throw new Ss2dArgumentException(file + " header", "a JSON object",
                    root == null ? "nothing" : root.getNodeType().toString(), null);
        }
        Map<String, SafeTensorsEntry> entries = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (var it = root.properties().iterator(); it.hasNext(); ) {
            var field = it.next();
            String key = field.getKey();
            JsonNode v = field.getValue();
            if (key.equals(METADATA_KEY)) {
                readMetadata(file, v, metadata);
            } else {
                entries.put(key, entry(key, v, dataBytes));
            }
        }
        checkOverlaps(entries);
        return new SafeTensorsHeader(Collections.unmodifiableMap(entries), Collections.unmodifiableMap(metadata));
    }

    private static void readMetadata(String file, JsonNode v, Map<String, String> out) {
        if (!v.isObject()) {
            throw new Ss2dArgumentException(file + " " + METADATA_KEY, "an object of strings",
                    v.getNodeType().toString(), null);
        }
        for (var it = v.properties().iterator(); it.hasNext(); ) {
            var m = it.next();
            if (!m.getValue().isTextual()) {
                throw new Ss2dArgumentException(METADATA_KEY + "." + m.getKey(), "a string",
                        m.getValue().getNodeType() + " " + m.getValue(), null);
            }
            out.put(m.getKey(), m.getValue().textValue());
        }
    }

    private static SafeTensorsEntry entry(String key, JsonNode v, long dataBytes) {
        if (!v.isObject()) {
            throw new Ss2dArgumentException(key, "an object {dtype, shape, data_offsets}", v.getNodeType().toString(), null);
        }
        JsonNode dt = v.get("dtype"), sh = v.get("shape"), off = v.get("data_offsets");
        if (dt == null || !dt.isTextual()) {
            throw new Ss2dArgumentException(key, "a string \"dtype\"", String.valueOf(dt), null);
        }
        String dtype = dt.textValue();
        Integer size = SafeTensorsEntry.elementBytes(dtype);
        if (size == null) {
            throw new Ss2dArgumentException(key, "a safetensors dtype " + SafeTensorsEntry.KNOWN_DTYPES,
                    "dtype \"" + dtype + "\"", null);
        }
        if (sh == null || !sh.isArray()) {
            throw new Ss2dArgumentException(key, "a \"shape\" list of integers", String.valueOf(sh), null);
        }
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.canConvertToExactIntegral() || !d.canConvertToLong() || d.asLong() < 0) {
                throw new Ss2dArgumentException(key, "non-negative integer dimensions in \"shape\"", sh.toString(), null);
            }
            shape[i] = d.asLong();
        }
        if (off == null || !off.isArray() || off.size() != 2 || !integral(off.get(0)) || !integral(off.get(1))) {
            throw new Ss2dArgumentException(key, "\"data_offsets\": [begin, end]", String.valueOf(off), null);
        }
        long begin = off.get(0).asLong(), end = off.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw new Ss2dArgumentException(key, "data_offsets 0 <= begin <= end", "[" + begin + ", " + end + "]", null);
        }
        if (end > dataBytes) {
            throw new Ss2dArgumentException(key, "data_offsets inside the data section of " + dataBytes + " bytes",
                    "[" + begin + ", " + end + "] (file truncated or offsets out of range)", Long.toString(dataBytes));
        }
        long need;
        try {
            need = Math.multiplyExact(Shapes.elementCount(shape), size);
        } catch (ArithmeticException | IllegalArgumentException e) {
            throw new Ss2dArgumentException(key, "a shape whose byte size fits in a long", sh.toString(), null);
        }
        if (end - begin != need) {
            throw new Ss2dArgumentException(key, need + " bytes for " + dtype + Shapes.format(shape),
                    (end - begin) + " bytes in data_offsets [" + begin + ", " + end + "]", null);
        }
        return new SafeTensorsEntry(key, dtype, shape, begin, end);
    }

    private static boolean integral(JsonNode n) {
        return n != null && n.canConvertToExactIntegral() && n.canConvertToLong();
    }

    /** Two tensors sharing bytes would alias each other's writes; the format forbids it. */
    private static void checkOverlaps(Map<String, SafeTensorsEntry> entries) {
        List<SafeTensorsEntry> sorted = new ArrayList<>(entries.values());
        sorted.removeIf(e -> e.begin() == e.end());
        sorted.sort(Comparator.comparingLong(SafeTensorsEntry::begin));
        for (int i = 1; i < sorted.size(); i++) {
            SafeTensorsEntry a = sorted.get(i - 1), b = sorted.get(i);
            if (b.begin() < a.end()) {
                throw new Ss2dArgumentException(b.name(), "data_offsets that do not overlap another tensor's",
                        "[" + b.begin() + ", " + b.end() + ") overlaps \"" + a.name() + "\" [" + a.begin() + ", "
                                + a.end() + ")", null);
            }
        }
    }
}
