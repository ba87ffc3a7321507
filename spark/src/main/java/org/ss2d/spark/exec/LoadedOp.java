package org.ss2d.spark.exec;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.interop.cases.CaseRunner;
import org.ss2d.interop.cases.OpCall;
import org.ss2d.interop.cases.OpCalls;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * One op of an executor JVM, prepared from a template case file: its parameters and options are read
 * and checked once (as {@code ss2d run} reads them), and each batch of rows takes the place of the
 * file's batched input. Calls are serialised: a backend's blocks keep workspaces between calls.
 */
final class LoadedOp implements AutoCloseable {
    private final TensorScope scope;
    private final CaseFile file;
    private final OpCall template;
    private final String input;
    private final long[] rowShape;
    private final Ss2d ss;

    private LoadedOp(TensorScope scope, CaseFile file, OpCall template, String input, long[] rowShape, Ss2d ss) {
        this.scope = scope;
        this.file = file;
        this.template = template;
        this.input = input;
        this.rowShape = rowShape;
        this.ss = ss;
    }

    static LoadedOp open(String caseFile, String backend, int threads) {
        TensorScope scope = TensorScope.root("ss2d-spark op");
        try {
            CaseFile f = CaseFile.open(scope, Path.of(caseFile));
            OpKind kind = CaseRunner.kindOf(f, null);
            String input = inputOf(kind);
            OpCall call = kind.prepare(f);
            long[] s = f.shape(input);
            return new LoadedOp(scope, f, call, input, Arrays.copyOfRange(s, 1, s.length), Facades.of(backend, threads));
        } catch (RuntimeException e) {
            scope.release();
            throw e;
        }
    }

    /** The column of the case file that rows replace: the op's one batched activation. */
    static String inputOf(OpKind kind) {
        return switch (kind) {
            case CROSS_SCAN, SS2D, VSS_BLOCK -> "x";
            case CROSS_MERGE -> "ys";
            default -> throw new Ss2dArgumentException("ss2d.kind", "an op with one batched input per row (cross_scan, "
                    + "cross_merge, ss2d, vss_block; a whole model runs through classify/features)", kind.key(), null);
        };
    }

    /** The shape each row must have: the template input's dimensions after the batch. */
    long[] rowShape() {
        return rowShape.clone();
    }

    /** The name of the input column in the case file, for error messages. */
    String input() {
        return input;
    }

    /** Runs the op on {@code x} (rows stacked on the batch axis); the outputs are allocated in {@code out}. */
    synchronized Map<String, Tensor> run(TensorScope out, Tensor x) {
        OpCall call = switch (template) {
            case OpCalls.CrossScan c -> new OpCalls.CrossScan(x);
            case OpCalls.CrossMerge c -> new OpCalls.CrossMerge(x, c.h(), c.w());
            // the template's dtype option holds for its rows too: float32 rows are rounded to it, as ss2d run rounds x
            case OpCalls.Ss2dBlock c -> new OpCalls.Ss2dBlock(c.weights(), in(out, x, c.dtype()), c.dtype());
            case OpCalls.VssBlock c -> new OpCalls.VssBlock(c.weights(), in(out, x, c.dtype()), c.dtype());
            default -> throw new IllegalStateException("no batched input for " + template.kind());
        };
        return call.run(ss, out);
    }

    private static Tensor in(TensorScope scope, Tensor x, org.ss2d.tensor.DType dtype) {
        return x.dtype() == dtype ? x : scope.convert(x, dtype);
    }

    @Override
    public void close() {
        file.close();
        scope.release();
    }
}
