package org.ss2d.interop.cases;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ss2d.interop.arrow.FixedShapeTensorType;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The {@code ss2d.options} JSON object of a case file, with typed getters that reject a value of the
 * wrong type by naming the option ({@code options.H}). Unknown keys are ignored, as the contract says.
 */
public final class CaseOptions {
    /**
     * Strict JSON (duplicate keys and text after the object are errors) that accepts NaN/Infinity,
     * which Python's json.dumps writes, so that they are rejected by the option's name, not as bad JSON.
     */
    static final ObjectMapper JSON = FixedShapeTensorType.JSON;
    private static final Pattern DUPLICATE = Pattern.compile("Duplicate (?:field|Object property) '([^']*)'");
    private final ObjectNode root;

    private CaseOptions(ObjectNode root) {
        this.root = root;
    }

    public static CaseOptions empty() {
        return new CaseOptions(JSON.createObjectNode());
    }

    /** Parses the metadata value; null or blank means no options. */
    public static CaseOptions parse(String json) {
        if (json == null || json.isBlank()) {
            return empty();
        }
        JsonNode n;
        try {
            n = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            Matcher dup = DUPLICATE.matcher(String.valueOf(e.getOriginalMessage()));
            if (dup.find()) {
                throw new Ss2dArgumentException("options." + dup.group(1), "one value", "the key twice in "
                        + abbreviate(json), null);
            }
            throw new Ss2dArgumentException(CaseFile.OPTIONS_KEY, "a JSON object", "unparsable text " + abbreviate(json)
                    + " (" + Messages.abbreviate(String.valueOf(e.getOriginalMessage())) + ")", null);
        }
        if (!(n instanceof ObjectNode o)) {
            throw new Ss2dArgumentException(CaseFile.OPTIONS_KEY, "a JSON object", abbreviate(json), null);
        }
        return new CaseOptions(o);
    }

    /** Options from Java values (Boolean, Number, String), for writing case files. */
    public static CaseOptions of(Map<String, ?> values) {
        ObjectNode o = JSON.createObjectNode();
        values.forEach((k, v) -> o.set(k, JSON.valueToTree(v)));
        return new CaseOptions(o);
    }

    public boolean has(String key) {
        JsonNode v = root.get(key);
        return v != null && !v.isNull();
    }

    public boolean bool(String key, boolean fallback) {
        if (!has(key)) return fallback;
        JsonNode v = root.get(key);
        if (!v.isBoolean()) throw wrong(key, "true or false", v);
        return v.booleanValue();
    }

    /** An integer option, or null when absent: 4.5 and 1e300 are rejections, not 4 and 2^63-1. */
    public Long integer(String key) {
        if (!has(key)) return null;
        JsonNode v = root.get(key);
        if (v.isIntegralNumber() && v.canConvertToLong()) return v.longValue();
        double d = v.doubleValue();
        if (v.isFloatingPointNumber() && d == Math.rint(d) && Math.abs(d) < 0x1p63) {
            return (long) d; // 56.0 written by a float-minded tool is still 56
        }
        throw wrong(key, "an integer from " + Long.MIN_VALUE + " to " + Long.MAX_VALUE, v);
    }

    /** A finite number, or null when absent. */
    public Double number(String key) {
        if (!has(key)) return null;
        JsonNode v = root.get(key);
        if (!v.isNumber() || !Double.isFinite(v.doubleValue())) throw wrong(key, "a finite number", v);
        return v.doubleValue();
    }

    /** A string option, or null when absent. */
    public String text(String key) {
        if (!has(key)) return null;
        JsonNode v = root.get(key);
        return v.isTextual() ? v.textValue() : v.toString();
    }

    public boolean isText(String key) {
        return has(key) && root.get(key).isTextual();
    }

    /** Compact JSON, as written to files. */
    public String toJson() {
        return root.toString();
    }

    public Map<String, String> asStrings() {
        Map<String, String> m = new LinkedHashMap<>();
        root.properties().forEach(e -> m.put(e.getKey(), e.getValue().toString()));
        return m;
    }

    static Ss2dArgumentException wrong(String key, String expected, JsonNode found) {
        return new Ss2dArgumentException("options." + key, expected, abbreviate(found.toString()), null);
    }

    static String abbreviate(String s) {
        String one = s.replaceAll("\\s+", " ");
        return one.length() > 80 ? one.substring(0, 77) + "..." : one;
    }

    @Override
    public String toString() {
        return toJson();
    }
}
