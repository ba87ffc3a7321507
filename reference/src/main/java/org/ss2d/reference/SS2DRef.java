package org.ss2d.reference;

import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.tensor.DType;

/**
 * VMamba's SS2D forward, {@code forward_type="v05_noz"}, channels-first (spec 5.3), in double precision.
 * Each step is a public method so that tests can check the block against the composition of its parts.
 * Activations are {@code (batch, channels, L)} with {@code L = h*w}, row-major pixels.
 */
public final class SS2DRef {
    private SS2DRef() {}

    /** LayerNorm epsilon of VMamba's LayerNorm2d. */
    public static final double LN_EPS = 1e-5;

    /** The block's parameters as doubles, state-dict layouts; {@code convB} null without conv bias. */
    public record Params(SS2DConfig config, double[] inProj, double[] convW, double[] convB, double[] xProj,
                         double[] dtW, double[] dtB, double[] aLogs, double[] ds, double[] normW, double[] normB,
                         double[] outProj) {
        /**
         * The weights as a backend holds them for a block in {@code dtype}: the matrices and the convolution's
         * weight and bias rounded to it ({@link HalfSteps#weight}), A_logs, Ds, dt_projs_bias and the LayerNorm
         * in float32 (mamba's scan takes A, D and delta_bias in float32; autocast runs LayerNorm in float32).
         */
        public Params in(DType dtype) {
            if (dtype == DType.F32) return this;
            return new Params(config, HalfSteps.weight(inProj, dtype), HalfSteps.weight(convW, dtype),
                    HalfSteps.weight(convB, dtype), HalfSteps.weight(xProj, dtype), HalfSteps.weight(dtW, dtype), dtB,
                    aLogs, ds, normW, normB, HalfSteps.weight(outProj, dtype));
        }

        public static Params of(SS2DWeights w) {
            return new Params(w.config(), Doubles.of(w.inProjWeight()), Doubles.of(w.conv2dWeight()),
                    Doubles.of(w.conv2dBias()), Doubles.of(w.xProjWeight()), Doubles.of(w.dtProjsWeight()),
                    Doubles.of(w.dtProjsBias()), Doubles.of(w.aLogs()), Doubles.of(w.ds()), Doubles.of(w.outNormWeight()),
                    Doubles.of(w.outNormBias()), Doubles.of(w.outProjWeight()));
        }
    }

    /** {@code x (batch, d_model, h, w)} to {@code out (batch, d_model, h, w)}. */
    public static double[] forward(Params p, double[] x, int batch, int h, int w) {
        return forward(p, x, batch, h, w, DType.F32);
    }

    /**
     * The block with activations of {@code dtype}, its weights as that block holds them ({@link Params#in}),
     * each step's result rounded to {@code dtype} where a backend stores it (in_proj; conv + SiLU; x_proj; dt_proj;
     * LayerNorm), the scan's output and the merge kept in float32 (VMamba's {@code out_float32}); the returned
     * out_proj result is not rounded (the caller rounds it, after a residual where there is one).
     */
    public static double[] forward(Params p, double[] x, int batch, int h, int w, DType dtype) {
        p = p.in(dtype); // rounding a rounded weight again changes nothing
        SS2DConfig c = p.config();
        int dm = c.dModel(), di = c.dInner(), len = h * w;
        double[] xi = HalfSteps.round(linear(p.inProj(), null, x, batch, dm, di, len), dtype);
        double[] xc = depthwiseConv(xi, p.convW(), p.convB(), batch, di, h, w, c.dConv());
        double[] xa = HalfSteps.round(silu(xc), dtype);
        double[] xs = CrossRef.scan(xa, batch, di, h, w);
        ScanRef.Problem scan = scanProblem(p, xs, batch, len, dtype);
        double[] ys = ScanRef.run(scan).out();
        double[] y = CrossRef.merge(ys, batch, di, h, w);
        double[] yn = HalfSteps.round(layerNorm(y, p.normW(), p.normB(), batch, di, len), dtype);
        return linear(p.outProj(), null, yn, batch, di, dm, len);
    }

    /**
     * The selective scan that SS2D runs on {@code xs (batch, 4, d_inner, L)}: routes are groups, so
     * u = xs as {@code (batch, 4*d_inner, L)}, delta = dt_projs(x_proj(xs)[:R]), B, C the next N rows each,
     * A = -exp(A_logs), D = Ds, delta_bias = dt_projs_bias flattened, softplus on.
     */
    public static ScanRef.Problem scanProblem(Params p, double[] xs, int batch, int len) {
        return scanProblem(p, xs, batch, len, DType.F32);
    }

    /** As {@link #scanProblem(Params, double[], int, int)} with x_proj's and dt_proj's results rounded to {@code dtype}. */
    public static ScanRef.Problem scanProblem(Params p, double[] xs, int batch, int len, DType dtype) {
        SS2DConfig c = p.config();
        int di = c.dInner(), n = c.dState(), r = c.dtRank(), rows = c.xProjRows(), K = SS2DConfig.ROUTES;
        double[] xdbl = HalfSteps.round(routeProjection(p.xProj(), xs, batch, di, rows, len), dtype); // (batch, 4, rows, L)
        double[] dts = new double[batch * K * di * len];
        double[] bs = new double[batch * K * n * len];
        double[] cs = new double[batch * K * n * len];
        for (int b = 0; b < batch; b++) {
            for (int k = 0; k < K; k++) {
                int base = (b * K + k) * rows * len;
                for (int d = 0; d < di; d++) {
                    for (int l = 0; l < len; l++) {
                        double s = 0;
                        for (int q = 0; q < r; q++) s += p.dtW()[(k * di + d) * r + q] * xdbl[base + q * len + l];
                        dts[((b * K + k) * di + d) * len + l] = s;
                    }
                }
                for (int s = 0; s < n; s++) {
                    for (int l = 0; l < len; l++) {
                        bs[((b * K + k) * n + s) * len + l] = xdbl[base + (r + s) * len + l];
                        cs[((b * K + k) * n + s) * len + l] = xdbl[base + (r + n + s) * len + l];
                    }
                }
            }
        }
        HalfSteps.round(dts, dtype);
        double[] a = new double[p.aLogs().length];
        for (int i = 0; i < a.length; i++) a[i] = -Math.exp(p.aLogs()[i]);
        return new ScanRef.Problem(batch, K * di, len, n, K, BCMode.GROUPED, BCMode.GROUPED, xs, dts, a, bs, cs,
                p.ds(), null, p.dtB(), true);
    }

    /** Per-route projection {@code out[b,k,c,l] = sum_d w[k,c,d] xs[b,k,d,l]}, w {@code (4, rows, d)}. */
    public static double[] routeProjection(double[] w, double[] xs, int batch, int d, int rows, int len) {
        int K = SS2DConfig.ROUTES;
        double[] out = new double[batch * K * rows * len];
        for (int b = 0; b < batch; b++)
            for (int k = 0; k < K; k++)
                for (int c = 0; c < rows; c++)
                    for (int l = 0; l < len; l++) {
                        double s = 0;
                        for (int i = 0; i < d; i++) s += w[(k * rows + c) * d + i] * xs[((b * K + k) * d + i) * len + l];
                        out[((b * K + k) * rows + c) * len + l] = s;
                    }
        return out;
    }

    /** 1x1 convolution (Linear2d): {@code out[b,o,l] = sum_i w[o,i] x[b,i,l] + bias[o]}; bias may be null. */
    public static double[] linear(double[] w, double[] bias, double[] x, int batch, int cin, int cout, int len) {
        double[] out = new double[batch * cout * len];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++)
                for (int l = 0; l < len; l++) {
                    double s = bias == null ? 0.0 : bias[o];
                    for (int i = 0; i < cin; i++) s += w[o * cin + i] * x[(b * cin + i) * len + l];
                    out[(b * cout + o) * len + l] = s;
                }
        return out;
    }

    /**
     * Depthwise k x k convolution (cross-correlation, as torch's conv2d), zero padding (k-1)/2 so the
     * grid keeps its size; w {@code (c, 1, k, k)}, bias {@code (c)} or null.
     */
    public static double[] depthwiseConv(double[] x, double[] w, double[] bias, int batch, int c, int h, int wd, int k) {
        int pad = (k - 1) / 2;
        double[] out = new double[x.length];
        for (int b = 0; b < batch; b++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < wd; xx++) {
                        double s = bias == null ? 0.0 : bias[ch];
                        for (int i = 0; i < k; i++) {
                            int yy = y + i - pad;
                            if (yy < 0 || yy >= h) continue;
                            for (int j = 0; j < k; j++) {
                                int xj = xx + j - pad;
                                if (xj < 0 || xj >= wd) continue;
                                s += w[(ch * k + i) * k + j] * x[((b * c + ch) * h + yy) * wd + xj];
                            }
                        }
                        out[((b * c + ch) * h + y) * wd + xx] = s;
                    }
        return out;
    }

    public static double[] silu(double[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = RefMath.silu(x[i]);
        return out;
    }

    /** LayerNorm over channels at each pixel (biased variance, eps 1e-5), then the affine map. */
    public static double[] layerNorm(double[] x, double[] g, double[] beta, int batch, int c, int len) {
        double[] out = new double[x.length];
        for (int b = 0; b < batch; b++)
            for (int l = 0; l < len; l++) {
                double mean = 0;
                for (int ch = 0; ch < c; ch++) mean += x[(b * c + ch) * len + l];
                mean /= c;
                double var = 0;
                for (int ch = 0; ch < c; ch++) {
                    double e = x[(b * c + ch) * len + l] - mean;
                    var += e * e;
                }
                var /= c;
                double inv = 1.0 / Math.sqrt(var + LN_EPS);
                for (int ch = 0; ch < c; ch++) {
                    int i = (b * c + ch) * len + l;
                    out[i] = (x[i] - mean) * inv * g[ch] + beta[ch];
                }
            }
        return out;
    }
}
