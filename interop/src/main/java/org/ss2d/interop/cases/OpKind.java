package org.ss2d.interop.cases;

import java.util.Arrays;
import java.util.List;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The operations a case file can name in {@code ss2d.kind} (or {@code ss2d run --op}), each with the
 * runner that turns a file into a call. Adding a kind is one constant here plus one {@link Runner}
 * (usually a record in {@link OpCalls}); {@code ss2d run}, {@code ss2d conformance --cases} and the
 * tests all dispatch through this enum.
 */
public enum OpKind {
    SELECTIVE_SCAN("selective_scan", OpCalls.Scan::of),
    CROSS_SCAN("cross_scan", OpCalls.CrossScan::of),
    CROSS_MERGE("cross_merge", OpCalls.CrossMerge::of),
    SS2D("ss2d", OpCalls.Ss2dBlock::of),
    VSS_BLOCK("vss_block", OpCalls.VssBlock::of),
    VMAMBA("vmamba", ModelCalls.VMamba::of),
    PREPROCESS_IMAGE("preprocess_image", ModelCalls.PreprocessImage::of),
    SELECTIVE_SCAN_BACKWARD("selective_scan_backward", BackwardCalls.ScanBackward::of),
    SS2D_BACKWARD("ss2d_backward", BackwardCalls.BlockBackward::ss2d),
    VSS_BLOCK_BACKWARD("vss_block_backward", BackwardCalls.BlockBackward::vss);

    /** Reads and checks one kind's inputs and options; throws {@link Ss2dArgumentException} naming the column or option. */
    @FunctionalInterface
    public interface Runner {
        OpCall prepare(CaseFile file);
    }

    private final String key;
    private final Runner runner;

    OpKind(String key, Runner runner) {
        this.key = key;
        this.runner = runner;
    }

    /** The name used in files and on the command line. */
    public String key() {
        return key;
    }

    /** The call this kind makes of the file's columns and options. */
    public OpCall prepare(CaseFile file) {
        file.options(); // every kind's options are JSON parsed strictly, used by the kind or not
        return runner.prepare(file);
    }

    public static List<String> keys() {
        return Arrays.stream(values()).map(OpKind::key).toList();
    }

    /**
     * Parses a kind, spelled exactly as the table of the contract spells it (no case folding, no blanks:
     * a file that says {@code "SS2D "} is not a case file of kind {@code ss2d}); {@code argument} names where
     * it came from ({@code ss2d.kind} or {@code --op}).
     */
    public static OpKind parse(String argument, String value) {
        for (OpKind k : values()) {
            if (k.key.equals(value)) return k;
        }
        throw new Ss2dArgumentException(argument, "one of " + String.join(", ", keys()),
                value == null ? "nothing" : "\"" + CaseOptions.abbreviate(value) + "\"", null);
    }

    @Override
    public String toString() {
        return key;
    }
}
