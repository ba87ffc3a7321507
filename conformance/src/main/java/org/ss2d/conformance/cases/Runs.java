package org.ss2d.conformance.cases;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Runs an op through the facade's {@code *Into} methods into outputs filled with NaN beforehand, so
 * that an element a backend forgot to write shows up as NaN (and NaN never passes).
 */
public final class Runs {
    private Runs() {}

    /** A fresh f32 output of {@code shape}, every element NaN. */
    public static Tensor poisoned(TensorScope scope, String name, long... shape) {
        return poisoned(scope, name, DType.F32, shape);
    }

    /** A fresh output of {@code dtype} and {@code shape}, every element NaN. */
    public static Tensor poisoned(TensorScope scope, String name, DType dtype, long... shape) {
        return scope.allocate(name, dtype, shape).fill(Float.NaN);
    }

    public static Map<String, float[]> scan(Ss2d ss, TensorScope scope, ScanArgs a) {
        long batch = a.u().dim(0), dim = a.u().dim(1), seqlen = a.u().dim(2), dstate = a.A().dim(1);
        Tensor out = poisoned(scope, "out", a.outDtype(), batch, dim, seqlen);
        Tensor last = a.returnLastState() ? poisoned(scope, "last_state", batch, dim, dstate) : null;
        try {
            ss.selectiveScanInto(a, out, last);
            Map<String, float[]> m = new LinkedHashMap<>();
            m.put("out", out.toFloatArray());
            if (last != null) m.put("last_state", last.toFloatArray());
            return m;
        } finally {
            out.close();
            if (last != null) last.close();
        }
    }

    public static float[] crossScan(Ss2d ss, TensorScope scope, Tensor x) {
        try (Tensor out = poisoned(scope, "out", x.dim(0), 4, x.dim(1), x.dim(2) * x.dim(3))) {
            ss.crossScanInto(x, out);
            return out.toFloatArray();
        }
    }

    public static float[] crossMerge(Ss2d ss, TensorScope scope, Tensor ys, long h, long w) {
        try (Tensor out = poisoned(scope, "out", ys.dim(0), ys.dim(2), h, w)) {
            ss.crossMergeInto(ys, out);
            return out.toFloatArray();
        }
    }

    /** The SS2D block with the dtype option set to x's dtype, into a poisoned output of that dtype. */
    public static float[] ss2d(Ss2d ss, TensorScope scope, SS2DWeights w, Tensor x) {
        try (Tensor out = poisoned(scope, "out", x.dtype(), x.shape())) {
            ss.ss2dInto(w, x, out, x.dtype());
            return out.toFloatArray();
        }
    }

    /** The VSS block with the dtype option set to x's dtype, as {@link #ss2d}. */
    public static float[] vss(Ss2d ss, TensorScope scope, VSSWeights w, Tensor x) {
        try (Tensor out = poisoned(scope, "out", x.dtype(), x.shape())) {
            ss.vssBlockInto(w, x, out, x.dtype());
            return out.toFloatArray();
        }
    }
}
