package org.ss2d.conformance.adversarial;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Small valid case files of every op kind, drawn from a seed: the starting points that the hostile
 * categories then break. Values are moderate (the value classes are the kernels' business and have
 * a category of their own once they pass).
 */
final class ValidCases {
    private ValidCases() {}

    static final List<String> KINDS = List.of("selective_scan", "cross_scan", "cross_merge", "ss2d", "vss_block");

    static CaseSpec of(String kind, SplittableRandom r) {
        return switch (kind) {
            case "selective_scan" -> scan(r);
            case "cross_scan" -> crossScan(r);
            case "cross_merge" -> crossMerge(r);
            case "ss2d" -> ss2d(r);
            case "vss_block" -> vss(r);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    static CaseSpec scan(SplittableRandom r) {
        int batch = r.nextInt(1, 3);
        int groups = r.nextInt(1, 3);
        int dim = groups * r.nextInt(1, 5);
        int seqlen = r.nextInt(1, 41);
        int dstate = r.nextBoolean() ? r.nextInt(1, 9) : 16;
        List<Col> cols = new ArrayList<>();
        cols.add(Col.tensor("u", new long[] {batch, dim, seqlen}, gauss(r, batch * dim * seqlen, 1.0)));
        boolean softplus = r.nextBoolean();
        double[] delta = softplus ? gauss(r, batch * dim * seqlen, 0.5) : uniform(r, batch * dim * seqlen, 0.01, 0.5);
        cols.add(Col.tensor("delta", new long[] {batch, dim, seqlen}, delta));
        double[] a = new double[dim * dstate];
        for (int i = 0; i < a.length; i++) a[i] = -Math.exp(0.5 * r.nextGaussian());
        cols.add(Col.tensor("A", new long[] {dim, dstate}, a));
        boolean fourD = groups > 1 || r.nextBoolean(); // B and C must agree on their groups (constant: 1)
        for (String bc : List.of("B", "C")) {
            long[] shape = groups == 1 && r.nextInt(3) == 0 ? new long[] {dim, dstate}
                    : fourD ? new long[] {batch, groups, dstate, seqlen} : new long[] {batch, dstate, seqlen};
            cols.add(Col.tensor(bc, shape, gauss(r, (int) count(shape), 1.0)));
        }
        if (r.nextBoolean()) cols.add(Col.tensor("D", new long[] {dim}, gauss(r, dim, 1.0)));
        if (r.nextBoolean()) cols.add(Col.tensor("z", new long[] {batch, dim, seqlen}, gauss(r, batch * dim * seqlen, 1.0)));
        if (r.nextBoolean()) cols.add(Col.tensor("delta_bias", new long[] {dim}, gauss(r, dim, 0.3)));
        String opts = "{\"delta_softplus\": " + softplus + ", \"return_last_state\": " + r.nextBoolean() + "}";
        return CaseSpec.of("selective_scan", opts, encode(r, cols));
    }

    static CaseSpec crossScan(SplittableRandom r) {
        long[] x = {r.nextInt(1, 3), r.nextInt(1, 5), r.nextInt(1, 7), r.nextInt(1, 7)};
        return CaseSpec.of("cross_scan", r.nextBoolean() ? null : "{}",
                encode(r, List.of(Col.tensor("x", x, gauss(r, (int) count(x), 1.0)))));
    }

    static CaseSpec crossMerge(SplittableRandom r) {
        int b = r.nextInt(1, 3), c = r.nextInt(1, 5), h = r.nextInt(1, 7), w = r.nextInt(1, 7);
        long[] ys = {b, 4, c, (long) h * w};
        return CaseSpec.of("cross_merge", "{\"H\": " + h + ", \"W\": " + w + "}",
                encode(r, List.of(Col.tensor("ys", ys, gauss(r, (int) count(ys), 1.0)))));
    }

    static SS2DConfig config(SplittableRandom r) {
        int dModel = 4 * r.nextInt(1, 4);
        double ratio = List.of(1.0, 1.5, 2.0).get(r.nextInt(3));
        int dtRank = r.nextBoolean() ? SS2DConfig.autoDtRank(dModel) : r.nextInt(1, 4);
        return new SS2DConfig(dModel, r.nextInt(1, 5), ratio, dtRank, r.nextBoolean() ? 3 : 1, r.nextBoolean());
    }

    static CaseSpec ss2d(SplittableRandom r) {
        SS2DConfig c = config(r);
        try (TensorScope s = TensorScope.root("adversarial ss2d")) {
            List<Col> cols = new ArrayList<>(columns(RandomWeights.ss2d(s, c, r.nextLong()).asMap()));
            long[] x = {r.nextInt(1, 3), c.dModel(), r.nextInt(1, 5), r.nextInt(1, 5)};
            cols.addFirst(Col.tensor("x", x, gauss(r, (int) count(x), 1.0)));
            s.release();
            return CaseSpec.of("ss2d", r.nextBoolean() ? "{}" : "{\"d_state\": " + c.dState() + ", \"d_conv\": " + c.dConv()
                    + "}", encode(r, cols));
        }
    }

    static CaseSpec vss(SplittableRandom r) {
        SS2DConfig c = config(r);
        double mlp = List.of(1.0, 2.0, 4.0).get(r.nextInt(3));
        try (TensorScope s = TensorScope.root("adversarial vss")) {
            VSSWeights w = RandomWeights.vss(s, c, mlp, r.nextLong());
            List<Col> cols = new ArrayList<>(columns(w.asMap()));
            long[] x = {1, c.dModel(), r.nextInt(1, 5), r.nextInt(1, 5)};
            cols.addFirst(Col.tensor("x", x, gauss(r, (int) count(x), 1.0)));
            s.release();
            return CaseSpec.of("vss_block", "{\"mlp_ratio\": " + mlp + "}", encode(r, cols));
        }
    }

    private static List<Col> columns(Map<String, Tensor> m) {
        List<Col> out = new ArrayList<>();
        for (var e : m.entrySet()) {
            float[] f = e.getValue().toFloatArray();
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) d[i] = f[i];
            out.add(Col.tensor(e.getKey(), e.getValue().shape(), d));
        }
        return out;
    }

    /** Each column in either encoding, and now and then stored as float64 (rounded on load). */
    private static List<Col> encode(SplittableRandom r, List<Col> cols) {
        boolean plain = r.nextInt(4) == 0;
        return cols.stream().map(c -> {
            Col e = plain || r.nextInt(8) == 0 ? c.with(Col.Encoding.PLAIN) : c;
            return r.nextInt(6) == 0 ? e.with(Col.Dtype.F64) : e;
        }).toList();
    }

    static long count(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    static double[] gauss(SplittableRandom r, int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = scale * r.nextGaussian();
        return v;
    }

    static double[] uniform(SplittableRandom r, int n, double lo, double hi) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = r.nextDouble(lo, hi);
        return v;
    }

    /** The SS2D parameter names, for picking a weight column to break. */
    static List<String> ss2dNames() {
        return List.copyOf(SS2DWeights.expectedShapes(new SS2DConfig(1, 1, 1, 1, 1, true)).keySet());
    }
}
