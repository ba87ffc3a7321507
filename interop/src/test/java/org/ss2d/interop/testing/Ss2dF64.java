package org.ss2d.interop.testing;

import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.Tensor;

/**
 * A float64 SS2D (v05_noz, channels-first) and VSS block, written straight from the spec (5.2, 5.3)
 * for the interop tests: it checks that weights loaded from a file compute the block that PyTorch
 * computed from the same file, without depending on any backend module. Slow and simple on purpose.
 */
public final class Ss2dF64 {
    private Ss2dF64() {}

    /** {@code x (b, dm, h, w)} row-major. */
    public static double[] ss2d(SS2DWeights p, double[] x, int b, int h, int w) {
        int dm = p.config().dModel(), di = p.config().dInner(), n = p.config().dState(), r = p.config().dtRank();
        int k = p.config().dConv(), L = h * w, K = 4, rows = r + 2 * n;
        double[] inW = d(p.inProjWeight()), convW = d(p.conv2dWeight()), convB = p.conv2dBias() == null ? null : d(p.conv2dBias());
        double[] xProj = d(p.xProjWeight()), dtW = d(p.dtProjsWeight()), dtB = d(p.dtProjsBias()), aLogs = d(p.aLogs());
        double[] ds = d(p.ds()), nw = d(p.outNormWeight()), nb = d(p.outNormBias()), outW = d(p.outProjWeight());

        double[] xa = new double[b * di * L];
        double[] xi = linear(inW, x, b, dm, di, L, null);
        int pad = (k - 1) / 2;
        for (int bb = 0; bb < b; bb++) {
            for (int c = 0; c < di; c++) {
                for (int y = 0; y < h; y++) {
                    for (int xx = 0; xx < w; xx++) {
                        double s = convB == null ? 0 : convB[c];
                        for (int i = 0; i < k; i++) {
                            for (int j = 0; j < k; j++) {
                                int yy = y + i - pad, xw = xx + j - pad;
                                if (yy < 0 || yy >= h || xw < 0 || xw >= w) continue;
                                s += convW[(c * k + i) * k + j] * xi[(bb * di + c) * L + yy * w + xw];
                            }
                        }
                        xa[(bb * di + c) * L + y * w + xx] = s / (1 + Math.exp(-s)); // SiLU
                    }
                }
            }
        }
        double[] y = new double[b * di * L]; // merged output, row-major pixels
        for (int bb = 0; bb < b; bb++) {
            for (int route = 0; route < K; route++) {
                // xs[c][l] for this route
                double[] xs = new double[di * L];
                for (int c = 0; c < di; c++) {
                    for (int l = 0; l < L; l++) xs[c * L + l] = xa[(bb * di + c) * L + src(route, l, h, w)];
                }
                double[] dbl = new double[rows * L];
                for (int row = 0; row < rows; row++) {
                    for (int l = 0; l < L; l++) {
                        double s = 0;
                        for (int c = 0; c < di; c++) s += xProj[(route * rows + row) * di + c] * xs[c * L + l];
                        dbl[row * L + l] = s;
                    }
                }
                for (int c = 0; c < di; c++) {
                    int ch = route * di + c;
                    double[] hs = new double[n];
                    for (int l = 0; l < L; l++) {
                        double dt = dtB[ch];
                        for (int q = 0; q < r; q++) dt += dtW[(route * di + c) * r + q] * dbl[q * L + l];
                        dt = dt <= 20 ? Math.log1p(Math.exp(dt)) : dt;
                        double u = xs[c * L + l], out = ds[ch] * u;
                        for (int s = 0; s < n; s++) {
                            double a = -Math.exp(aLogs[ch * n + s]);
                            hs[s] = Math.exp(dt * a) * hs[s] + dt * u * dbl[(r + s) * L + l];
                            out += dbl[(r + n + s) * L + l] * hs[s];
                        }
                        y[(bb * di + c) * L + src(route, l, h, w)] += out; // CrossMerge: the adjoint
                    }
                }
            }
        }
        layerNorm(y, b, di, L, nw, nb);
        return linear(outW, y, b, di, dm, L, null);
    }

    public static double[] vss(VSSWeights p, double[] x, int b, int h, int w) {
        int dm = p.config().dModel(), L = h * w, hid = VSSWeights.hidden(p.config(), p.mlpRatio());
        double[] t = x.clone();
        layerNorm(t, b, dm, L, d(p.normWeight()), d(p.normBias()));
        double[] s = ss2d(p.op(), t, b, h, w);
        double[] x1 = new double[x.length];
        for (int i = 0; i < x.length; i++) x1[i] = x[i] + s[i];
        double[] t2 = x1.clone();
        layerNorm(t2, b, dm, L, d(p.norm2Weight()), d(p.norm2Bias()));
        double[] f1 = linear(d(p.fc1Weight()), t2, b, dm, hid, L, d(p.fc1Bias()));
        for (int i = 0; i < f1.length; i++) f1[i] = 0.5 * f1[i] * (1 + Erf.erf(f1[i] / Math.sqrt(2)));
        double[] f2 = linear(d(p.fc2Weight()), f1, b, hid, dm, L, d(p.fc2Bias()));
        for (int i = 0; i < x1.length; i++) x1[i] += f2[i];
        return x1;
    }

    /** Row-major pixel read by step {@code l} of route {@code k} (spec 5.2). */
    static int src(int k, int l, int h, int w) {
        int L = h * w;
        return switch (k) {
            case 0 -> l;
            case 1 -> (l % h) * w + l / h;
            case 2 -> L - 1 - l;
            default -> src(1, L - 1 - l, h, w);
        };
    }

    private static double[] linear(double[] wt, double[] x, int b, int cin, int cout, int L, double[] bias) {
        double[] out = new double[b * cout * L];
        for (int bb = 0; bb < b; bb++) {
            for (int o = 0; o < cout; o++) {
                for (int l = 0; l < L; l++) {
                    double s = bias == null ? 0 : bias[o];
                    for (int c = 0; c < cin; c++) s += wt[o * cin + c] * x[(bb * cin + c) * L + l];
                    out[(bb * cout + o) * L + l] = s;
                }
            }
        }
        return out;
    }

    private static void layerNorm(double[] x, int b, int c, int L, double[] wt, double[] bias) {
        for (int bb = 0; bb < b; bb++) {
            for (int l = 0; l < L; l++) {
                double mean = 0, var = 0;
                for (int i = 0; i < c; i++) mean += x[(bb * c + i) * L + l];
                mean /= c;
                for (int i = 0; i < c; i++) {
                    double dlt = x[(bb * c + i) * L + l] - mean;
                    var += dlt * dlt;
                }
                var /= c;
                double inv = 1 / Math.sqrt(var + 1e-5);
                for (int i = 0; i < c; i++) {
                    int at = (bb * c + i) * L + l;
                    x[at] = (x[at] - mean) * inv * wt[i] + bias[i];
                }
            }
        }
    }

    public static double[] d(Tensor t) {
        float[] f = t.toFloatArray();
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) out[i] = f[i];
        return out;
    }
}
