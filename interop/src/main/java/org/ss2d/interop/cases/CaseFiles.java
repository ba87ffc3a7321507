package org.ss2d.interop.cases;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.ss2d.tensor.Tensor;

/** Writing case files and result files (reading is {@link CaseFile#open}). */
public final class CaseFiles {
    private CaseFiles() {}

    /** A case file for {@code kind}: the tensors as columns, the options as {@code ss2d.options}. */
    public static void writeCase(Path target, OpKind kind, CaseOptions options, Map<String, Tensor> tensors,
                                 BufferAllocator allocator) {
        Map<String, String> md = new LinkedHashMap<>();
        md.put(CaseFile.KIND_KEY, kind.key());
        md.put(CaseFile.OPTIONS_KEY, options.toJson());
        TensorFiles.write(target, tensors, md, allocator);
    }

    /** A result file: the outcome's columns and {@code ss2d.kind/backend/device/elapsed_ms}. */
    public static void writeResult(Path target, CaseRunner.Outcome outcome, BufferAllocator allocator) {
        TensorFiles.write(target, outcome.outputs(), outcome.metadata(), allocator);
    }
}
