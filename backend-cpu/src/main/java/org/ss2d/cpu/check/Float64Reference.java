package org.ss2d.cpu.check;

import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.tensor.Tensor;

/**
 * Plain sequential float64 versions of the ops (the spec's formulas, nothing clever), used by this
 * module's tests and by the benchmarks' check on a slice. Arrays are row-major copies of the tensors.
 */
public final class Float64Reference {
    private Float64Reference() {}

    public static double[] d(Tensor t) {
        if (t == null) return null;
        float[] f = t.toFloatArray();
        double[] r = new double[f.length];
        for (int i = 0; i < f.length; i++) r[i] = f[i];
        return r;
    }

    /**
     * Selective scan of batch rows {@code [b0, b1)} (all channels); returns {@code out} for those rows
     * ({@code (b1-b0) * dim * l}) and, if {@code last != null}, fills {@code last ((b1-b0) * dim * n)}.
     */
    public static double[] scan(double[] u, double[] delta, double[] a, double[] bm, BCMode bMode, double[] cm,
                                BCMode cMode, double[] dSkip, double[] z, double[] bias, boolean softplus, int batch,
                                int dim, int l, int n, int groups, int b0, int b1, double[] last) {
        double[] out = new double[(b1 - b0) * dim * l];
        double[] h = new double[n];
        int cpg = dim / groups;
        for (int b = b0; b < b1; b++) {
            for (int d = 0; d < dim; d++) {
                java.util.Arrays.fill(h, 0);
                int g = d / cpg;
                long row = ((long) b * dim + d) * l;
                for (int t = 0; t < l; t++) {
                    double x = delta[(int) (row + t)] + (bias == null ? 0 : bias[d]);
                    double dt = softplus ? (x <= 20 ? Math.log1p(Math.exp(x)) : x) : x;
                    double uu = u[(int) (row + t)], y = 0;
                    for (int s = 0; s < n; s++) {
                        double bb = bc(bm, bMode, b, g, groups, d, n, s, l, t);
                        double cc = bc(cm, cMode, b, g, groups, d, n, s, l, t);
                        h[s] = Math.exp(dt * a[d * n + s]) * h[s] + dt * uu * bb;
                        y += cc * h[s];
                    }
                    if (dSkip != null) y += dSkip[d] * uu;
                    if (z != null) {
                        double zz = z[(int) (row + t)];
                        y *= zz / (1 + Math.exp(-zz));
                    }
                    out[(int) (((long) (b - b0) * dim + d) * l + t)] = y;
                }
                if (last != null) {
                    for (int s = 0; s < n; s++) last[((b - b0) * dim + d) * n + s] = h[s];
                }
            }
        }
        return out;
    }

    private static double bc(double[] m, BCMode mode, int b, int g, int groups, int d, int n, int s, int l, int t) {
        return switch (mode) {
            case CONSTANT -> m[d * n + s];
            case VARIABLE -> m[(b * n + s) * l + t];
            case GROUPED -> m[((b * groups + g) * n + s) * l + t];
        };
    }

    /** Route k's source pixel for step s (spec 5.2). */
    public static int src(int k, int s, int h, int w) {
        int l = h * w;
        return switch (k) {
            case 0 -> s;
            case 1 -> (s % h) * w + s / h;
            case 2 -> l - 1 - s;
            default -> src(1, l - 1 - s, h, w);
        };
    }

    public static double[] crossScan(double[] x, int b, int c, int h, int w) {
        int l = h * w;
        double[] out = new double[b * 4 * c * l];
        for (int bi = 0; bi < b; bi++)
            for (int k = 0; k < 4; k++)
                for (int ci = 0; ci < c; ci++)
                    for (int s = 0; s < l; s++)
                        out[((bi * 4 + k) * c + ci) * l + s] = x[(bi * c + ci) * l + src(k, s, h, w)];
        return out;
    }

    public static double[] crossMerge(double[] ys, int b, int c, int h, int w) {
        int l = h * w;
        double[] out = new double[b * c * l];
        for (int bi = 0; bi < b; bi++)
            for (int k = 0; k < 4; k++)
                for (int ci = 0; ci < c; ci++)
                    for (int s = 0; s < l; s++)
                        out[(bi * c + ci) * l + src(k, s, h, w)] += ys[((bi * 4 + k) * c + ci) * l + s];
        return out;
    }

    /** {@code out (b, m, l) = W (m, k) @ x (b, k, l) + bias}. */
    static double[] conv1x1(double[] wt, double[] x, double[] bias, int b, int m, int k, int l) {
        double[] out = new double[b * m * l];
        for (int bi = 0; bi < b; bi++)
            for (int mi = 0; mi < m; mi++)
                for (int p = 0; p < l; p++) {
                    double s = bias == null ? 0 : bias[mi];
                    for (int ki = 0; ki < k; ki++) s += wt[mi * k + ki] * x[(bi * k + ki) * l + p];
                    out[(bi * m + mi) * l + p] = s;
                }
        return out;
    }

    static double[] layerNorm(double[] x, double[] g, double[] beta, int b, int c, int l) {
        double[] out = new double[x.length];
        for (int bi = 0; bi < b; bi++)
            for (int p = 0; p < l; p++) {
                double mean = 0, var = 0;
                for (int ci = 0; ci < c; ci++) mean += x[(bi * c + ci) * l + p];
                mean /= c;
                for (int ci = 0; ci < c; ci++) {
                    double v = x[(bi * c + ci) * l + p] - mean;
                    var += v * v;
                }
                double inv = 1 / Math.sqrt(var / c + 1e-5);
                for (int ci = 0; ci < c; ci++) {
                    int i = (bi * c + ci) * l + p;
                    out[i] = (x[i] - mean) * inv * g[ci] + beta[ci];
                }
            }
        return out;
    }

    /** SS2D v05_noz (spec 5.3): {@code x (b, d_model, h, w)}. */
    public static double[] ss2d(SS2DWeights wt, double[] x, int b, int h, int w) {
        SS2DConfig c = wt.config();
        int dm = c.dModel(), di = c.dInner(), n = c.dState(), r = c.dtRank(), k = c.dConv(), rows = c.xProjRows(), l = h * w;
        double[] xi = conv1x1(d(wt.inProjWeight()), x, null, b, di, dm, l);
        double[] cw = d(wt.conv2dWeight()), cb = d(wt.conv2dBias());
        double[] xa = new double[xi.length];
        int pad = (k - 1) / 2;
        for (int bi = 0; bi < b; bi++)
            for (int ci = 0; ci < di; ci++)
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < w; xx++) {
                        double s = cb == null ? 0 : cb[ci];
                        for (int i = 0; i < k; i++)
                            for (int j = 0; j < k; j++) {
                                int yy = y + i - pad, xc = xx + j - pad;
                                if (yy >= 0 && yy < h && xc >= 0 && xc < w) {
                                    s += cw[(ci * k + i) * k + j] * xi[((bi * di + ci) * h + yy) * w + xc];
                                }
                            }
                        xa[((bi * di + ci) * h + y) * w + xx] = s / (1 + Math.exp(-s));
                    }
        double[] xs = crossScan(xa, b, di, h, w);
        double[] xp = d(wt.xProjWeight()), dtw = d(wt.dtProjsWeight());
        double[] xdbl = new double[b * 4 * rows * l];
        double[] dts = new double[b * 4 * di * l];
        double[] bs = new double[b * 4 * n * l], cs = new double[b * 4 * n * l];
        for (int bi = 0; bi < b; bi++)
            for (int kr = 0; kr < 4; kr++) {
                for (int row = 0; row < rows; row++)
                    for (int p = 0; p < l; p++) {
                        double s = 0;
                        for (int dd = 0; dd < di; dd++) s += xp[(kr * rows + row) * di + dd] * xs[((bi * 4 + kr) * di + dd) * l + p];
                        xdbl[((bi * 4 + kr) * rows + row) * l + p] = s;
                    }
                for (int dd = 0; dd < di; dd++)
                    for (int p = 0; p < l; p++) {
                        double s = 0;
                        for (int q = 0; q < r; q++) s += dtw[(kr * di + dd) * r + q] * xdbl[((bi * 4 + kr) * rows + q) * l + p];
                        dts[((bi * 4 + kr) * di + dd) * l + p] = s;
                    }
                for (int s = 0; s < n; s++)
                    for (int p = 0; p < l; p++) {
                        bs[((bi * 4 + kr) * n + s) * l + p] = xdbl[((bi * 4 + kr) * rows + r + s) * l + p];
                        cs[((bi * 4 + kr) * n + s) * l + p] = xdbl[((bi * 4 + kr) * rows + r + n + s) * l + p];
                    }
            }
        double[] al = d(wt.aLogs()), a = new double[al.length];
        for (int i = 0; i < al.length; i++) a[i] = -Math.exp(al[i]);
        double[] ys = scan(xs, dts, a, bs, BCMode.GROUPED, cs, BCMode.GROUPED, d(wt.ds()), null, d(wt.dtProjsBias()), true,
                b, 4 * di, l, n, 4, 0, b, null);
        double[] y = crossMerge(ys, b, di, h, w);
        y = layerNorm(y, d(wt.outNormWeight()), d(wt.outNormBias()), b, di, l);
        return conv1x1(d(wt.outProjWeight()), y, null, b, dm, di, l);
    }

    /** VSS block: {@code x + SS2D(LN(x))}, then {@code + fc2(GELU(fc1(LN2(.))))}. */
    public static double[] vss(VSSWeights wt, double[] x, int b, int h, int w) {
        SS2DConfig c = wt.config();
        int dm = c.dModel(), l = h * w, hid = VSSWeights.hidden(c, wt.mlpRatio());
        double[] s = ss2d(wt.op(), layerNorm(x, d(wt.normWeight()), d(wt.normBias()), b, dm, l), b, h, w);
        double[] x1 = new double[x.length];
        for (int i = 0; i < x.length; i++) x1[i] = x[i] + s[i];
        double[] hh = conv1x1(d(wt.fc1Weight()), layerNorm(x1, d(wt.norm2Weight()), d(wt.norm2Bias()), b, dm, l),
                d(wt.fc1Bias()), b, hid, dm, l);
        for (int i = 0; i < hh.length; i++) hh[i] = 0.5 * hh[i] * (1 + erf(hh[i] / Math.sqrt(2)));
        double[] o = conv1x1(d(wt.fc2Weight()), hh, d(wt.fc2Bias()), b, dm, hid, l);
        for (int i = 0; i < o.length; i++) o[i] += x1[i];
        return o;
    }

    /** erf in double (series / continued fraction switch; |error| < 1e-14 is not needed, 1e-12 is). */
    public static double erf(double x) {
        double ax = Math.abs(x);
        double r;
        if (ax < 2.5) {
            double sum = 0, term = ax;
            for (int k = 0; k < 200; k++) {
                double add = term / (2 * k + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
                term *= -ax * ax / (k + 1);
            }
            r = 2 / Math.sqrt(Math.PI) * sum;
        } else {
            // continued fraction for erfc, evaluated backwards
            double f = 0;
            for (int k = 60; k >= 1; k--) f = k / 2.0 / (ax + f);
            r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
        }
        return Math.copySign(r, x);
    }

    /** max |got - want| / max |want| (NaN anywhere gives NaN; 0/0 gives 0). */
    public static double relErr(float[] got, double[] want) {
        if (got.length != want.length) throw new IllegalArgumentException(got.length + " != " + want.length);
        double maxWant = 0, maxDiff = 0;
        for (int i = 0; i < want.length; i++) {
            if (Float.isNaN(got[i]) || Double.isNaN(want[i])) return Double.NaN;
            maxWant = Math.max(maxWant, Math.abs(want[i]));
            maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
        }
        return maxWant == 0 ? (maxDiff == 0 ? 0 : Double.POSITIVE_INFINITY) : maxDiff / maxWant;
    }
}
