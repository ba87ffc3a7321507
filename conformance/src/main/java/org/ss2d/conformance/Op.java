package org.ss2d.conformance;

import java.util.Locale;

/** The operations the suite checks, named as {@code ss2d.kind} names them in case files. */
public enum Op {
    SELECTIVE_SCAN, CROSS_SCAN, CROSS_MERGE, SS2D, VSS_BLOCK;

    /** {@code selective_scan}, {@code cross_scan}, ... */
    public String kind() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Op ofKind(String kind) {
        for (Op op : values()) {
            if (op.kind().equals(kind)) return op;
        }
        throw new IllegalArgumentException("unknown op kind \"" + kind + "\"; valid: selective_scan, cross_scan, "
                + "cross_merge, ss2d, vss_block");
    }
}
