package org.ss2d.conformance;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Builds selective-scan arguments from per-tensor shapes and dtypes, so that a test can start from a
 * valid call and break exactly one thing (a shape, a dtype, a missing tensor).
 */
final class ScanBuilder {
    final Map<String, long[]> shapes = new LinkedHashMap<>();
    final Map<String, DType> dtypes = new LinkedHashMap<>();
    final Set<String> missing = new HashSet<>();
    boolean softplus = true, lastState = true;

    /** A valid call: u (b, d, L), A (d, N), B and C grouped (b, g, N, L), with D, z and delta_bias. */
    static ScanBuilder valid(int batch, int dim, int seqlen, int dstate, int groups) {
        ScanBuilder s = new ScanBuilder();
        s.shapes.put("u", new long[] {batch, dim, seqlen});
        s.shapes.put("delta", new long[] {batch, dim, seqlen});
        s.shapes.put("A", new long[] {dim, dstate});
        s.shapes.put("B", new long[] {batch, groups, dstate, seqlen});
        s.shapes.put("C", new long[] {batch, groups, dstate, seqlen});
        s.shapes.put("D", new long[] {dim});
        s.shapes.put("z", new long[] {batch, dim, seqlen});
        s.shapes.put("delta_bias", new long[] {dim});
        return s;
    }

    ScanBuilder shape(String name, long... shape) {
        shapes.put(name, shape);
        return this;
    }

    ScanBuilder dtype(String name, DType t) {
        dtypes.put(name, t);
        return this;
    }

    ScanBuilder without(String name) {
        missing.add(name);
        return this;
    }

    ScanArgs build(TensorScope scope) {
        Tensor[] t = new Tensor[ScanArgs.NAMES.length];
        for (int i = 0; i < t.length; i++) {
            String n = ScanArgs.NAMES[i];
            if (missing.contains(n) || !shapes.containsKey(n)) continue;
            DType dt = dtypes.getOrDefault(n, DType.F32);
            t[i] = scope.allocate(n, dt, shapes.get(n));
            t[i].fill(n.equals("A") ? -0.5f : 0.25f);
        }
        return new ScanArgs(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], softplus, lastState);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (var e : shapes.entrySet()) {
            if (missing.contains(e.getKey())) continue;
            sb.append(e.getKey()).append(org.ss2d.tensor.Shapes.format(e.getValue()));
            if (dtypes.containsKey(e.getKey())) sb.append(':').append(dtypes.get(e.getKey()));
            sb.append(' ');
        }
        return sb.toString().trim();
    }
}
