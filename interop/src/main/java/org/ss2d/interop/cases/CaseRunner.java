package org.ss2d.interop.cases;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Runs the operation a case file describes: the kind's {@link OpKind.Runner} builds the op's inputs from
 * the columns and options (per the case-file contract), the {@link Ss2d} facade validates and runs it,
 * and the result columns come back. Shared by {@code ss2d run} and the conformance suite's {@code --cases}.
 */
public final class CaseRunner {
    private CaseRunner() {}

    /** The result columns in file order, and which backend ran them. Closing frees the outputs. */
    public record Outcome(OpKind kind, Map<String, Tensor> outputs, String backend, String device, double elapsedMs)
            implements AutoCloseable {
        /** Schema metadata of a result file. */
        public Map<String, String> metadata() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put(CaseFile.KIND_KEY, kind.key());
            m.put("ss2d.backend", backend);
            m.put("ss2d.device", device);
            m.put("ss2d.elapsed_ms", String.format(Locale.ROOT, "%.3f", elapsedMs));
            return m;
        }

        @Override
        public void close() {
            outputs.values().forEach(Tensor::close);
        }
    }

    /** The kind to run: {@code override} (from {@code --op}) if given, else the file's {@code ss2d.kind}. */
    public static OpKind kindOf(CaseFile f, String override) {
        if (override != null) return OpKind.parse("--op", override);
        if (f.kind() == null) {
            throw new Ss2dArgumentException(CaseFile.KIND_KEY, "schema metadata naming the operation (one of "
                    + String.join(", ", OpKind.keys()) + "), or --op", "none in " + f.path().getFileName(), null);
        }
        return OpKind.parse(CaseFile.KIND_KEY, f.kind());
    }

    /** Runs {@code kind} on the case's inputs; outputs are allocated in {@code scope}. */
    public static Outcome run(CaseFile f, OpKind kind, Ss2d ss, TensorScope scope) {
        OpCall call = kind.prepare(f);
        long t0 = System.nanoTime();
        Map<String, Tensor> out = call.run(ss, scope);
        long t1 = System.nanoTime();
        Backend b = call.ranOn(ss);
        return new Outcome(kind, out, b == null ? "host" : b.name(),
                b == null ? "host (" + kind.key() + " runs on no backend)" : b.capabilities().device(), (t1 - t0) / 1e6);
    }
}
