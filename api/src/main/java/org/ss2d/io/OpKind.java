package org.ss2d.io;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.ss2d.validate.Ss2dArgumentException;

/** The operations a case file can name in {@code ss2d.kind} (or {@code ss2d run --op}). */
public enum OpKind {
    SELECTIVE_SCAN("selective_scan"),
    CROSS_SCAN("cross_scan"),
    CROSS_MERGE("cross_merge"),
    SS2D("ss2d"),
    VSS_BLOCK("vss_block");

    private final String key;

    OpKind(String key) {
        this.key = key;
    }

    /** The name used in files and on the command line. */
    public String key() {
        return key;
    }

    public static List<String> keys() {
        return Arrays.stream(values()).map(OpKind::key).toList();
    }

    /** Parses a kind; {@code argument} names where it came from ({@code ss2d.kind} or {@code --op}). */
    public static OpKind parse(String argument, String value) {
        if (value != null) {
            String v = value.trim().toLowerCase(Locale.ROOT);
            for (OpKind k : values()) {
                if (k.key.equals(v)) return k;
            }
        }
        throw new Ss2dArgumentException(argument, "one of " + String.join(", ", keys()),
                value == null ? "nothing" : "\"" + value + "\"", null);
    }

    @Override
    public String toString() {
        return key;
    }
}
