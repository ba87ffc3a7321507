package org.ss2d.cpu;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanGrads;
import org.ss2d.ops.ScanShape;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The SS2D and VSS blocks' backward on the CPU: the forward is recomputed from x (nothing saved), then undone step
 * by step in float32 (sums over pixels in double), the selective scan through the backend's own deterministic scan
 * forward and backward. Plain loops, one image after another, parameter gradients summed over the batch in order:
 * correct and deterministic first (it is what {@code ss2d demo --train} and the conformance suite run), not yet
 * tuned (the dense steps do not use the SIMD GEMM).
 */
final class CpuBlockBackward {
    private static final double LN_EPS = 1e-5;
    private final CpuBackend backend;

    CpuBlockBackward(CpuBackend backend) {
        this.backend = backend;
    }

    /** Per-parameter gradient accumulators (double), by {@code grad.<name>}. */
    private static final class Acc {
        final Map<String, double[]> m = new LinkedHashMap<>();

        double[] get(String name, int size) {
            return m.computeIfAbsent(name, k -> new double[size]);
        }
    }

    void ss2d(SS2DWeights w, Tensor x, Tensor dout, Map<String, Tensor> grads) {
        int batch = (int) x.dim(0), h = (int) x.dim(2), wd = (int) x.dim(3), dm = w.config().dModel(), len = h * wd;
        float[] xv = x.toFloatArray(), gv = dout.toFloatArray(), dx = new float[xv.length];
        Acc acc = new Acc();
        P p = P.of(w);
        for (int b = 0; b < batch; b++) {
            float[] xb = slice(xv, b, dm * len), gb = slice(gv, b, dm * len);
            System.arraycopy(ss2dOne(p, xb, gb, h, wd, acc, ""), 0, dx, b * dm * len, dm * len);
        }
        grads.get("grad.x").copyFrom(dx);
        store(acc, grads);
    }

    void vss(VSSWeights w, Tensor x, Tensor dout, Map<String, Tensor> grads) {
        int batch = (int) x.dim(0), h = (int) x.dim(2), wd = (int) x.dim(3), dm = w.config().dModel(), len = h * wd;
        int hid = VSSWeights.hidden(w.config(), w.mlpRatio());
        float[] xv = x.toFloatArray(), gv = dout.toFloatArray(), dx = new float[xv.length];
        float[] nW = w.normWeight().toFloatArray(), nB = w.normBias().toFloatArray();
        float[] n2W = w.norm2Weight().toFloatArray(), n2B = w.norm2Bias().toFloatArray();
        float[] f1W = w.fc1Weight().toFloatArray(), f1B = w.fc1Bias().toFloatArray();
        float[] f2W = w.fc2Weight().toFloatArray(), f2B = w.fc2Bias().toFloatArray();
        Acc acc = new Acc();
        P p = P.of(w.op());
        for (int b = 0; b < batch; b++) {
            float[] xb = slice(xv, b, dm * len), gb = slice(gv, b, dm * len);
            float[] n1 = layerNorm(xb, nW, nB, dm, len);
            float[] s = ss2dForward(p, n1, h, wd).out;
            float[] x1 = new float[xb.length];
            for (int i = 0; i < x1.length; i++) x1[i] = xb[i] + s[i];
            float[] n2 = layerNorm(x1, n2W, n2B, dm, len);
            float[] pre = linear(f1W, f1B, n2, dm, hid, len);
            float[] act = new float[pre.length];
            for (int i = 0; i < pre.length; i++) act[i] = gelu(pre[i]);
            float[] dx1 = gb.clone();
            float[] dAct = linearBackward(f2W, act, gb, hid, dm, len, acc, "grad.mlp.fc2.", true);
            for (int i = 0; i < dAct.length; i++) dAct[i] *= geluPrime(pre[i]);
            float[] dn2 = linearBackward(f1W, n2, dAct, dm, hid, len, acc, "grad.mlp.fc1.", true);
            float[] d2 = layerNormBackward(x1, n2W, dn2, dm, len, acc, "grad.norm2.");
            for (int i = 0; i < dx1.length; i++) dx1[i] += d2[i];
            float[] dn1 = ss2dOne(p, n1, dx1, h, wd, acc, "op.");
            float[] d1 = layerNormBackward(xb, nW, dn1, dm, len, acc, "grad.norm.");
            for (int i = 0; i < dx1.length; i++) dx[b * dm * len + i] = dx1[i] + d1[i];
        }
        grads.get("grad.x").copyFrom(dx);
        store(acc, grads);
    }

    private static void store(Acc acc, Map<String, Tensor> grads) {
        for (var e : grads.entrySet()) {
            if (e.getKey().equals("grad.x")) continue;
            double[] v = acc.m.get(e.getKey());
            if (v == null) throw new IllegalStateException("no gradient computed for " + e.getKey());
            float[] f = new float[v.length];
            for (int i = 0; i < f.length; i++) f[i] = (float) v[i];
            e.getValue().copyFrom(f);
        }
    }

    private static float[] slice(float[] v, int b, int n) {
        return java.util.Arrays.copyOfRange(v, b * n, (b + 1) * n);
    }

    /** The SS2D parameters as float arrays. */
    private record P(SS2DConfig c, float[] inProj, float[] convW, float[] convB, float[] xProj, float[] dtW, float[] dtB,
                     float[] aLogs, float[] ds, float[] normW, float[] normB, float[] outProj) {
        static P of(SS2DWeights w) {
            return new P(w.config(), w.inProjWeight().toFloatArray(), w.conv2dWeight().toFloatArray(),
                    w.conv2dBias() == null ? null : w.conv2dBias().toFloatArray(), w.xProjWeight().toFloatArray(),
                    w.dtProjsWeight().toFloatArray(), w.dtProjsBias().toFloatArray(), w.aLogs().toFloatArray(),
                    w.ds().toFloatArray(), w.outNormWeight().toFloatArray(), w.outNormBias().toFloatArray(),
                    w.outProjWeight().toFloatArray());
        }
    }

    /** One image's SS2D forward intermediates. */
    private record Fwd(float[] xi, float[] xc, float[] xs, float[] xdbl, float[] dts, float[] bs, float[] cs, float[] a,
                       float[] y, float[] out) {}

    private Fwd ss2dForward(P p, float[] x, int h, int wd) {
        SS2DConfig c = p.c();
        int dm = c.dModel(), di = c.dInner(), len = h * wd, n = c.dState(), r = c.dtRank(), rows = c.xProjRows(), K = 4;
        float[] xi = linear(p.inProj(), null, x, dm, di, len);
        float[] xc = conv(xi, p.convW(), p.convB(), di, h, wd, c.dConv());
        float[] xa = new float[xc.length];
        for (int i = 0; i < xa.length; i++) xa[i] = xc[i] / (1f + (float) Math.exp(-xc[i]));
        float[] xs = new float[K * di * len];
        for (int k = 0; k < K; k++)
            for (int d = 0; d < di; d++)
                for (int l = 0; l < len; l++) xs[(k * di + d) * len + l] = xa[d * len + source(k, l, h, wd)];
        float[] xdbl = new float[K * rows * len];
        for (int k = 0; k < K; k++)
            for (int cc = 0; cc < rows; cc++)
                for (int l = 0; l < len; l++) {
                    double s = 0;
                    for (int i = 0; i < di; i++) s += p.xProj()[(k * rows + cc) * di + i] * xs[(k * di + i) * len + l];
                    xdbl[(k * rows + cc) * len + l] = (float) s;
                }
        float[] dts = new float[K * di * len], bs = new float[K * n * len], cs = new float[K * n * len];
        for (int k = 0; k < K; k++) {
            for (int d = 0; d < di; d++)
                for (int l = 0; l < len; l++) {
                    double s = 0;
                    for (int q = 0; q < r; q++) s += p.dtW()[(k * di + d) * r + q] * xdbl[(k * rows + q) * len + l];
                    dts[(k * di + d) * len + l] = (float) s;
                }
            for (int s = 0; s < n; s++) {
                System.arraycopy(xdbl, (k * rows + r + s) * len, bs, (k * n + s) * len, len);
                System.arraycopy(xdbl, (k * rows + r + n + s) * len, cs, (k * n + s) * len, len);
            }
        }
        float[] a = new float[p.aLogs().length];
        for (int i = 0; i < a.length; i++) a[i] = (float) -Math.exp(p.aLogs()[i]);
        float[] ys;
        TensorScope t = TensorScope.root("cpu block backward scan"); // an arena
        try {
            ScanArgs args = scanArgs(t, p, xs, dts, a, bs, cs, di, len, n);
            Tensor out = t.allocate(DType.F32, 1, K * di, len);
            backend.selectiveScan(args, shape(c, len), out, null);
            ys = out.toFloatArray();
        } finally {
            t.release();
        }
        float[] y = new float[di * len];
        for (int k = 0; k < K; k++)
            for (int d = 0; d < di; d++)
                for (int l = 0; l < len; l++) y[d * len + source(k, l, h, wd)] += ys[(k * di + d) * len + l];
        float[] yn = layerNorm(y, p.normW(), p.normB(), di, len);
        return new Fwd(xi, xc, xs, xdbl, dts, bs, cs, a, y, linear(p.outProj(), null, yn, di, dm, len));
    }

    private static ScanShape shape(SS2DConfig c, int len) {
        return new ScanShape(1, 4 * c.dInner(), len, c.dState(), 4, BCMode.GROUPED, BCMode.GROUPED);
    }

    private static ScanArgs scanArgs(TensorScope t, P p, float[] xs, float[] dts, float[] a, float[] bs, float[] cs,
                                     int di, int len, int n) {
        return ScanArgs.builder(t.allocate(DType.F32, 1, 4 * di, len).copyFrom(xs),
                        t.allocate(DType.F32, 1, 4 * di, len).copyFrom(dts), t.allocate(DType.F32, 4 * di, n).copyFrom(a),
                        t.allocate(DType.F32, 1, 4, n, len).copyFrom(bs), t.allocate(DType.F32, 1, 4, n, len).copyFrom(cs))
                .D(t.allocate(DType.F32, 4 * di).copyFrom(p.ds())).deltaBias(t.allocate(DType.F32, 4 * di).copyFrom(p.dtB()))
                .deltaSoftplus(true).build();
    }

    /** One image: the SS2D gradients into acc (names grad.<prefix><name>); returns d(input). */
    private float[] ss2dOne(P p, float[] x, float[] dout, int h, int wd, Acc acc, String prefix) {
        SS2DConfig c = p.c();
        int dm = c.dModel(), di = c.dInner(), len = h * wd, n = c.dState(), r = c.dtRank(), rows = c.xProjRows(), K = 4;
        String g = "grad." + prefix;
        Fwd f = ss2dForward(p, x, h, wd);
        float[] yn = layerNorm(f.y(), p.normW(), p.normB(), di, len);
        float[] dyn = linearBackward(p.outProj(), yn, dout, di, dm, len, acc, g + "out_proj.", false);
        float[] dy = layerNormBackward(f.y(), p.normW(), dyn, di, len, acc, g + "out_norm.");
        float[] dys = new float[K * di * len];
        for (int k = 0; k < K; k++)
            for (int d = 0; d < di; d++)
                for (int l = 0; l < len; l++) dys[(k * di + d) * len + l] = dy[d * len + source(k, l, h, wd)];
        float[] du, dDelta, dA, dB, dC, dD, dBias;
        TensorScope t = TensorScope.root("cpu block backward scan"); // an arena
        try {
            ScanArgs args = scanArgs(t, p, f.xs(), f.dts(), f.a(), f.bs(), f.cs(), di, len, n);
            Tensor[] in = args.tensors(), out = new Tensor[in.length];
            for (int i = 0; i < in.length; i++) out[i] = in[i] == null ? null : t.allocate(DType.F32, in[i].shape());
            ScanGrads sg = ScanGrads.of(out);
            backend.selectiveScanBackward(args, shape(c, len), t.allocate(DType.F32, 1, K * di, len).copyFrom(dys), null, sg);
            du = sg.du().toFloatArray();
            dDelta = sg.dDelta().toFloatArray();
            dA = sg.dA().toFloatArray();
            dB = sg.dB().toFloatArray();
            dC = sg.dC().toFloatArray();
            dD = sg.dD().toFloatArray();
            dBias = sg.dDeltaBias().toFloatArray();
        } finally {
            t.release();
        }
        double[] gA = acc.get(g + "A_logs", dA.length), gD = acc.get(g + "Ds", dD.length),
                gBias = acc.get(g + "dt_projs_bias", dBias.length);
        for (int i = 0; i < dA.length; i++) gA[i] += (double) dA[i] * f.a()[i];
        for (int i = 0; i < dD.length; i++) gD[i] += dD[i];
        for (int i = 0; i < dBias.length; i++) gBias[i] += dBias[i];
        float[] dXdbl = new float[K * rows * len];
        double[] gDt = acc.get(g + "dt_projs_weight", p.dtW().length);
        for (int k = 0; k < K; k++) {
            for (int d = 0; d < di; d++)
                for (int q = 0; q < r; q++) {
                    double s = 0;
                    float wq = p.dtW()[(k * di + d) * r + q];
                    for (int l = 0; l < len; l++) {
                        float gd = dDelta[(k * di + d) * len + l];
                        s += (double) gd * f.xdbl()[(k * rows + q) * len + l];
                        dXdbl[(k * rows + q) * len + l] += wq * gd;
                    }
                    gDt[(k * di + d) * r + q] += s;
                }
            for (int s = 0; s < n; s++) {
                System.arraycopy(dB, (k * n + s) * len, dXdbl, (k * rows + r + s) * len, len);
                System.arraycopy(dC, (k * n + s) * len, dXdbl, (k * rows + r + n + s) * len, len);
            }
        }
        float[] dxs = du;
        double[] gX = acc.get(g + "x_proj_weight", p.xProj().length);
        for (int k = 0; k < K; k++)
            for (int cc = 0; cc < rows; cc++)
                for (int i = 0; i < di; i++) {
                    double s = 0;
                    float wv = p.xProj()[(k * rows + cc) * di + i];
                    for (int l = 0; l < len; l++) {
                        float gx = dXdbl[(k * rows + cc) * len + l];
                        s += (double) gx * f.xs()[(k * di + i) * len + l];
                        dxs[(k * di + i) * len + l] += wv * gx;
                    }
                    gX[(k * rows + cc) * di + i] += s;
                }
        float[] dxc = new float[di * len];
        for (int k = 0; k < K; k++)
            for (int d = 0; d < di; d++)
                for (int l = 0; l < len; l++) dxc[d * len + source(k, l, h, wd)] += dxs[(k * di + d) * len + l];
        for (int i = 0; i < dxc.length; i++) {
            float s = 1f / (1f + (float) Math.exp(-f.xc()[i]));
            dxc[i] *= s * (1f + f.xc()[i] * (1f - s));
        }
        int k2 = c.dConv(), pad = (k2 - 1) / 2;
        double[] gW = acc.get(g + "conv2d.weight", p.convW().length);
        double[] gB = p.convB() == null ? null : acc.get(g + "conv2d.bias", di);
        float[] dxi = new float[di * len];
        for (int ch = 0; ch < di; ch++)
            for (int yy = 0; yy < h; yy++)
                for (int xx = 0; xx < wd; xx++) {
                    float gv = dxc[(ch * h + yy) * wd + xx];
                    if (gB != null) gB[ch] += gv;
                    for (int i = 0; i < k2; i++) {
                        int sy = yy + i - pad;
                        if (sy < 0 || sy >= h) continue;
                        for (int j = 0; j < k2; j++) {
                            int sx = xx + j - pad;
                            if (sx < 0 || sx >= wd) continue;
                            int src = (ch * h + sy) * wd + sx;
                            gW[(ch * k2 + i) * k2 + j] += (double) gv * f.xi()[src];
                            dxi[src] += p.convW()[(ch * k2 + i) * k2 + j] * gv;
                        }
                    }
                }
        return linearBackward(p.inProj(), x, dxi, dm, di, len, acc, g + "in_proj.", false);
    }

    /** Row-major pixel read by route k at step l (VMamba's CrossScan, spec 5.2). */
    private static int source(int k, int l, int h, int w) {
        int len = h * w;
        return switch (k) {
            case 0 -> l;
            case 1 -> (l % h) * w + l / h;
            case 2 -> len - 1 - l;
            default -> {
                int m = len - 1 - l;
                yield (m % h) * w + m / h;
            }
        };
    }

    private static float[] linear(float[] w, float[] bias, float[] x, int cin, int cout, int len) {
        float[] out = new float[cout * len];
        for (int o = 0; o < cout; o++) {
            float b0 = bias == null ? 0f : bias[o];
            java.util.Arrays.fill(out, o * len, (o + 1) * len, b0);
            for (int i = 0; i < cin; i++) {
                float wv = w[o * cin + i];
                for (int l = 0; l < len; l++) out[o * len + l] += wv * x[i * len + l];
            }
        }
        return out;
    }

    private static float[] linearBackward(float[] w, float[] x, float[] dout, int cin, int cout, int len, Acc acc,
                                          String name, boolean bias) {
        double[] gw = acc.get(name + "weight", w.length);
        double[] gb = bias ? acc.get(name + "bias", cout) : null;
        float[] dx = new float[cin * len];
        for (int o = 0; o < cout; o++) {
            if (gb != null) {
                double s = 0;
                for (int l = 0; l < len; l++) s += dout[o * len + l];
                gb[o] += s;
            }
            for (int i = 0; i < cin; i++) {
                double s = 0;
                float wv = w[o * cin + i];
                for (int l = 0; l < len; l++) {
                    float gv = dout[o * len + l];
                    s += (double) gv * x[i * len + l];
                    dx[i * len + l] += wv * gv;
                }
                gw[o * cin + i] += s;
            }
        }
        return dx;
    }

    private static float[] conv(float[] x, float[] w, float[] bias, int c, int h, int wd, int k) {
        int pad = (k - 1) / 2;
        float[] out = new float[x.length];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < wd; xx++) {
                    float s = bias == null ? 0f : bias[ch];
                    for (int i = 0; i < k; i++) {
                        int yy = y + i - pad;
                        if (yy < 0 || yy >= h) continue;
                        for (int j = 0; j < k; j++) {
                            int xj = xx + j - pad;
                            if (xj < 0 || xj >= wd) continue;
                            s += w[(ch * k + i) * k + j] * x[(ch * h + yy) * wd + xj];
                        }
                    }
                    out[(ch * h + y) * wd + xx] = s;
                }
        return out;
    }

    private static float[] layerNorm(float[] x, float[] g, float[] beta, int c, int len) {
        float[] out = new float[x.length];
        for (int l = 0; l < len; l++) {
            double mean = 0, var = 0;
            for (int ch = 0; ch < c; ch++) mean += x[ch * len + l];
            mean /= c;
            for (int ch = 0; ch < c; ch++) var += (x[ch * len + l] - mean) * (x[ch * len + l] - mean);
            double inv = 1.0 / Math.sqrt(var / c + LN_EPS);
            for (int ch = 0; ch < c; ch++) out[ch * len + l] = (float) ((x[ch * len + l] - mean) * inv * g[ch] + beta[ch]);
        }
        return out;
    }

    private static float[] layerNormBackward(float[] x, float[] gamma, float[] dy, int c, int len, Acc acc, String name) {
        double[] dg = acc.get(name + "weight", c), db = acc.get(name + "bias", c);
        float[] dx = new float[x.length];
        double[] xhat = new double[c], dxh = new double[c];
        for (int l = 0; l < len; l++) {
            double mean = 0, var = 0;
            for (int ch = 0; ch < c; ch++) mean += x[ch * len + l];
            mean /= c;
            for (int ch = 0; ch < c; ch++) var += (x[ch * len + l] - mean) * (x[ch * len + l] - mean);
            double inv = 1.0 / Math.sqrt(var / c + LN_EPS), m1 = 0, m2 = 0;
            for (int ch = 0; ch < c; ch++) {
                int i = ch * len + l;
                xhat[ch] = (x[i] - mean) * inv;
                dg[ch] += dy[i] * xhat[ch];
                db[ch] += dy[i];
                dxh[ch] = dy[i] * gamma[ch];
                m1 += dxh[ch];
                m2 += dxh[ch] * xhat[ch];
            }
            m1 /= c;
            m2 /= c;
            for (int ch = 0; ch < c; ch++) dx[ch * len + l] = (float) (inv * (dxh[ch] - m1 - xhat[ch] * m2));
        }
        return dx;
    }

    private static float gelu(float x) {
        return (float) (0.5 * x * (1 + erf(x / Math.sqrt(2.0))));
    }

    private static float geluPrime(float x) {
        return (float) (0.5 * (1 + erf(x / Math.sqrt(2.0))) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI));
    }

    /** erf, |error| < 1.5e-7 (Abramowitz and Stegun 7.1.26), as the forward kernels use. */
    private static double erf(double xf) {
        double x = Math.abs(xf), t = 1.0 / (1.0 + 0.3275911 * x);
        double y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
                * Math.exp(-x * x);
        return Math.copySign(y, xf);
    }
}
