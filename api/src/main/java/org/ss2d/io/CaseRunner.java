package org.ss2d.io;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Runs the operation a case file describes: builds the op's inputs from the columns and options
 * (per {@code case-files.md}), calls the {@link Ss2d} facade (which validates) and returns the result
 * columns. Shared by {@code ss2d run} and the conformance suite's {@code --cases}.
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
        CaseOptions o = f.options();
        Map<String, Tensor> out = new LinkedHashMap<>();
        long t0;
        long t1;
        switch (kind) {
            case SELECTIVE_SCAN -> {
                ScanArgs a = ScanArgs.builder(f.tensor("u"), f.tensor("delta"), f.tensor("A"), f.tensor("B"), f.tensor("C"))
                        .D(f.optional("D")).z(f.optional("z")).deltaBias(f.optional("delta_bias"))
                        .deltaSoftplus(o.bool("delta_softplus", false))
                        .returnLastState(o.bool("return_last_state", false)).build();
                t0 = System.nanoTime();
                ScanArgs.Result r = ss.selectiveScan(scope, a);
                t1 = System.nanoTime();
                out.put("out", r.out());
                if (r.lastState() != null) out.put("last_state", r.lastState());
            }
            case CROSS_SCAN -> {
                Tensor x = f.tensor("x");
                t0 = System.nanoTime();
                out.put("out", ss.crossScan(scope, x));
                t1 = System.nanoTime();
            }
            case CROSS_MERGE -> {
                Tensor ys = f.tensor("ys");
                long h = required(o, "H", "the grid height");
                long w = required(o, "W", "the grid width");
                t0 = System.nanoTime();
                out.put("out", ss.crossMerge(scope, ys, h, w));
                t1 = System.nanoTime();
            }
            case SS2D -> {
                SS2DWeights weights = ss2dWeights(f, "", BlockConfigs.ss2d(f, "", o));
                Tensor x = f.tensor("x");
                t0 = System.nanoTime();
                out.put("out", ss.ss2d(scope, weights, x));
                t1 = System.nanoTime();
            }
            case VSS_BLOCK -> {
                SS2DConfig c = BlockConfigs.ss2d(f, VSSWeights.OP, o);
                double mlpRatio = BlockConfigs.mlpRatio(f, c.dModel(), o);
                Map<String, Tensor> dict = new LinkedHashMap<>();
                for (String n : VSSWeights.expectedShapes(c, mlpRatio).keySet()) dict.put(n, f.tensor(n));
                VSSWeights weights = VSSWeights.fromStateDict(c, mlpRatio, dict, "");
                Tensor x = f.tensor("x");
                t0 = System.nanoTime();
                out.put("out", ss.vssBlock(scope, weights, x));
                t1 = System.nanoTime();
            }
            default -> throw new IllegalStateException("unhandled kind " + kind);
        }
        Backend b = ss.lastBackend();
        return new Outcome(kind, out, b.name(), b.capabilities().device(), (t1 - t0) / 1e6);
    }

    /** SS2D weights from the columns named as VMamba's state dict, under {@code prefix}. */
    static SS2DWeights ss2dWeights(CaseFile f, String prefix, SS2DConfig c) {
        Map<String, Tensor> dict = new LinkedHashMap<>();
        for (String n : SS2DWeights.expectedShapes(c).keySet()) dict.put(prefix + n, f.tensor(prefix + n));
        return SS2DWeights.fromStateDict(c, dict, prefix);
    }

    private static long required(CaseOptions o, String key, String what) {
        Long v = o.integer(key);
        if (v == null) {
            throw new Ss2dArgumentException("options." + key, "an integer, " + what + " (cross_merge needs H and W)",
                    "nothing", null);
        }
        return v;
    }
}
