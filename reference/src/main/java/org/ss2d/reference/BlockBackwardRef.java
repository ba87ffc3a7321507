package org.ss2d.reference;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.model.SS2DConfig;

/**
 * The SS2D and VSS blocks' backward in double precision: the gradients of {@code sum(dout * out)} with respect to
 * the input and every parameter, under VMamba's state-dict names ({@code grad.x}, {@code grad.in_proj.weight}, ...;
 * the VSS block's SS2D parameters under {@code op.}). Each forward step of {@link SS2DRef} / {@link VSSRef} is undone
 * in reverse order; the scan's share is {@link ScanBackwardRef}, CrossScan's is CrossMerge (its adjoint) and the
 * reverse.
 */
public final class BlockBackwardRef {
    private BlockBackwardRef() {}

    /** {@code grad.<name>} of SS2D for {@code x (batch, d_model, h, w)} and {@code dout} of the same shape. */
    public static Map<String, double[]> ss2d(SS2DRef.Params p, double[] x, double[] dout, int batch, int h, int w) {
        Map<String, double[]> g = new LinkedHashMap<>();
        double[] dx = ss2dInto(p, x, dout, batch, h, w, g, "");
        Map<String, double[]> out = new LinkedHashMap<>();
        out.put("grad.x", dx);
        out.putAll(g);
        return out;
    }

    /** {@code grad.<name>} of the VSS block (SS2D parameters as {@code grad.op.<name>}). */
    public static Map<String, double[]> vss(VSSRef.Params p, double[] x, double[] dout, int batch, int h, int w) {
        int dm = p.op().config().dModel(), len = h * w, hid = p.hidden();
        // forward, keeping what the backward needs
        double[] n1 = SS2DRef.layerNorm(x, p.normW(), p.normB(), batch, dm, len);
        double[] s = SS2DRef.forward(p.op(), n1, batch, h, w);
        double[] x1 = new double[x.length];
        for (int i = 0; i < x.length; i++) x1[i] = x[i] + s[i];
        double[] n2 = SS2DRef.layerNorm(x1, p.norm2W(), p.norm2B(), batch, dm, len);
        double[] pre = SS2DRef.linear(p.fc1W(), p.fc1B(), n2, batch, dm, hid, len);
        double[] act = new double[pre.length];
        for (int i = 0; i < pre.length; i++) act[i] = RefMath.gelu(pre[i]);
        Map<String, double[]> g = new LinkedHashMap<>();
        // out = x1 + fc2(gelu(fc1(LN2(x1))))
        double[] dx1 = dout.clone();
        double[] dAct = linearBackward(p.fc2W(), act, dout, batch, hid, dm, len, g, "mlp.fc2.", true);
        for (int i = 0; i < dAct.length; i++) dAct[i] *= geluPrime(pre[i]);
        double[] dn2 = linearBackward(p.fc1W(), n2, dAct, batch, dm, hid, len, g, "mlp.fc1.", true);
        double[] dFromN2 = layerNormBackward(x1, p.norm2W(), dn2, batch, dm, len, g, "norm2.");
        for (int i = 0; i < dx1.length; i++) dx1[i] += dFromN2[i];
        // x1 = x + SS2D(LN(x))
        Map<String, double[]> gOp = new LinkedHashMap<>();
        double[] dn1 = ss2dInto(p.op(), n1, dx1, batch, h, w, gOp, "op.");
        double[] dFromN1 = layerNormBackward(x, p.normW(), dn1, batch, dm, len, g, "norm.");
        double[] dx = dx1.clone();
        for (int i = 0; i < dx.length; i++) dx[i] += dFromN1[i];
        Map<String, double[]> out = new LinkedHashMap<>();
        out.put("grad.x", dx);
        out.putAll(g);
        out.putAll(gOp);
        return out;
    }

    /** The SS2D backward; parameter gradients into {@code g} as {@code grad.<prefix><name>}; returns d(input). */
    static double[] ss2dInto(SS2DRef.Params p, double[] x, double[] dout, int batch, int h, int w,
                             Map<String, double[]> g, String prefix) {
        SS2DConfig c = p.config();
        int dm = c.dModel(), di = c.dInner(), len = h * w, n = c.dState(), r = c.dtRank(), rows = c.xProjRows();
        int K = SS2DConfig.ROUTES;
        // forward
        double[] xi = SS2DRef.linear(p.inProj(), null, x, batch, dm, di, len);
        double[] xc = SS2DRef.depthwiseConv(xi, p.convW(), p.convB(), batch, di, h, w, c.dConv());
        double[] xa = SS2DRef.silu(xc);
        double[] xs = CrossRef.scan(xa, batch, di, h, w);
        ScanRef.Problem scan = SS2DRef.scanProblem(p, xs, batch, len);
        double[] ys = ScanRef.run(scan).out();
        double[] y = CrossRef.merge(ys, batch, di, h, w);
        double[] yn = SS2DRef.layerNorm(y, p.normW(), p.normB(), batch, di, len);
        double[] xdbl = SS2DRef.routeProjection(p.xProj(), xs, batch, di, rows, len);
        // backward
        Map<String, double[]> gl = new LinkedHashMap<>();
        double[] dyn = linearBackward(p.outProj(), yn, dout, batch, di, dm, len, gl, "out_proj.", false);
        double[] dy = layerNormBackward(y, p.normW(), dyn, batch, di, len, gl, "out_norm.");
        double[] dys = CrossRef.scan(dy, batch, di, h, w); // CrossMerge's adjoint
        ScanBackwardRef.Grads sg = ScanBackwardRef.run(scan, dys, null);
        double[] dAlogs = new double[p.aLogs().length];
        for (int i = 0; i < dAlogs.length; i++) dAlogs[i] = sg.dA()[i] * -Math.exp(p.aLogs()[i]);
        // delta = dt_projs(x_dbl[:R]); B, C = the next rows of x_dbl
        double[] dXdbl = new double[xdbl.length];
        double[] dDtW = new double[p.dtW().length];
        for (int b = 0; b < batch; b++) {
            for (int k = 0; k < K; k++) {
                int base = (b * K + k) * rows * len;
                for (int d = 0; d < di; d++) {
                    for (int l = 0; l < len; l++) {
                        double gd = sg.dDelta()[((b * K + k) * di + d) * len + l];
                        for (int q = 0; q < r; q++) {
                            dDtW[(k * di + d) * r + q] += gd * xdbl[base + q * len + l];
                            dXdbl[base + q * len + l] += p.dtW()[(k * di + d) * r + q] * gd;
                        }
                    }
                }
                for (int s = 0; s < n; s++) {
                    for (int l = 0; l < len; l++) {
                        dXdbl[base + (r + s) * len + l] = sg.dB()[((b * K + k) * n + s) * len + l];
                        dXdbl[base + (r + n + s) * len + l] = sg.dC()[((b * K + k) * n + s) * len + l];
                    }
                }
            }
        }
        // x_dbl = x_proj per route on xs; u of the scan is xs too
        double[] dxs = sg.du().clone();
        double[] dXProj = new double[p.xProj().length];
        for (int b = 0; b < batch; b++)
            for (int k = 0; k < K; k++)
                for (int cc = 0; cc < rows; cc++)
                    for (int l = 0; l < len; l++) {
                        double gx = dXdbl[((b * K + k) * rows + cc) * len + l];
                        for (int i = 0; i < di; i++) {
                            int xi2 = ((b * K + k) * di + i) * len + l;
                            dXProj[(k * rows + cc) * di + i] += gx * xs[xi2];
                            dxs[xi2] += p.xProj()[(k * rows + cc) * di + i] * gx;
                        }
                    }
        double[] dxa = CrossRef.merge(dxs, batch, di, h, w); // CrossScan's adjoint
        double[] dxc = new double[dxa.length];
        for (int i = 0; i < dxc.length; i++) {
            double s = RefMath.sigmoid(xc[i]);
            dxc[i] = dxa[i] * s * (1 + xc[i] * (1 - s));
        }
        // depthwise conv, zero padding
        int k2 = c.dConv(), pad = (k2 - 1) / 2;
        double[] dConvW = new double[p.convW().length], dConvB = p.convB() == null ? null : new double[di];
        double[] dxi = new double[xi.length];
        for (int b = 0; b < batch; b++)
            for (int ch = 0; ch < di; ch++)
                for (int yy = 0; yy < h; yy++)
                    for (int xx = 0; xx < w; xx++) {
                        double gv = dxc[((b * di + ch) * h + yy) * w + xx];
                        if (dConvB != null) dConvB[ch] += gv;
                        for (int i = 0; i < k2; i++) {
                            int sy = yy + i - pad;
                            if (sy < 0 || sy >= h) continue;
                            for (int j = 0; j < k2; j++) {
                                int sx = xx + j - pad;
                                if (sx < 0 || sx >= w) continue;
                                int src = ((b * di + ch) * h + sy) * w + sx;
                                dConvW[(ch * k2 + i) * k2 + j] += gv * xi[src];
                                dxi[src] += p.convW()[(ch * k2 + i) * k2 + j] * gv;
                            }
                        }
                    }
        double[] dx = linearBackward(p.inProj(), x, dxi, batch, dm, di, len, gl, "in_proj.", false);
        // VMamba's state-dict order
        g.put("grad." + prefix + "in_proj.weight", gl.get("in_proj.weight"));
        g.put("grad." + prefix + "conv2d.weight", dConvW);
        if (dConvB != null) g.put("grad." + prefix + "conv2d.bias", dConvB);
        g.put("grad." + prefix + "x_proj_weight", dXProj);
        g.put("grad." + prefix + "dt_projs_weight", dDtW);
        g.put("grad." + prefix + "dt_projs_bias", sg.dDeltaBias());
        g.put("grad." + prefix + "A_logs", dAlogs);
        g.put("grad." + prefix + "Ds", sg.dD());
        g.put("grad." + prefix + "out_norm.weight", gl.get("out_norm.weight"));
        g.put("grad." + prefix + "out_norm.bias", gl.get("out_norm.bias"));
        g.put("grad." + prefix + "out_proj.weight", gl.get("out_proj.weight"));
        return dx;
    }

    /**
     * {@code out = W x (+ bias)}, W {@code (cout, cin)}: dW (and db) into {@code g} as {@code <name>weight}
     * ({@code <name>bias}) without the {@code grad.} prefix unless {@code prefixed}; returns dx.
     */
    static double[] linearBackward(double[] wt, double[] x, double[] dout, int batch, int cin, int cout, int len,
                                   Map<String, double[]> g, String name, boolean prefixed) {
        double[] dw = new double[wt.length], db = new double[cout], dx = new double[batch * cin * len];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++)
                for (int l = 0; l < len; l++) {
                    double gv = dout[(b * cout + o) * len + l];
                    db[o] += gv;
                    for (int i = 0; i < cin; i++) {
                        dw[o * cin + i] += gv * x[(b * cin + i) * len + l];
                        dx[(b * cin + i) * len + l] += wt[o * cin + i] * gv;
                    }
                }
        String pre = prefixed ? "grad." + name : name;
        g.put(pre + "weight", dw);
        if (prefixed) g.put(pre + "bias", db);
        return dx;
    }

    /** LayerNorm over channels per pixel: d(gamma), d(beta) into {@code g} as {@code <name>weight/bias}; returns dx. */
    static double[] layerNormBackward(double[] x, double[] gamma, double[] dy, int batch, int c, int len,
                                      Map<String, double[]> g, String name) {
        double[] dg = new double[c], dbeta = new double[c], dx = new double[x.length], xhat = new double[c],
                dxh = new double[c];
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
                double inv = 1.0 / Math.sqrt(var + SS2DRef.LN_EPS);
                double m1 = 0, m2 = 0;
                for (int ch = 0; ch < c; ch++) {
                    int i = (b * c + ch) * len + l;
                    xhat[ch] = (x[i] - mean) * inv;
                    dg[ch] += dy[i] * xhat[ch];
                    dbeta[ch] += dy[i];
                    dxh[ch] = dy[i] * gamma[ch];
                    m1 += dxh[ch];
                    m2 += dxh[ch] * xhat[ch];
                }
                m1 /= c;
                m2 /= c;
                for (int ch = 0; ch < c; ch++) dx[(b * c + ch) * len + l] = inv * (dxh[ch] - m1 - xhat[ch] * m2);
            }
        String pre = name.startsWith("out_norm") ? name : "grad." + name;
        g.put(pre + "weight", dg);
        g.put(pre + "bias", dbeta);
        return dx;
    }

    /** d/dx of x Phi(x): Phi(x) + x phi(x). */
    static double geluPrime(double x) {
        return 0.5 * (1 + RefMath.erf(x / Math.sqrt(2.0))) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
    }
}
