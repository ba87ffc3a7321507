package org.ss2d.reference;

import java.util.ArrayList;
import java.util.List;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.vmamba.VMambaBlock;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;

/**
 * VMamba's classification network ({@code VSSM}) and its backbone ({@code Backbone_VSSM}) in double
 * precision, every activation channels-first {@code (batch, channels, H*W)}: VMamba's channels-last
 * models compute the same numbers with the same LayerNorms over channels. Blocks are
 * {@link VSSRef}/{@link SS2DRef} (v05_noz) or the v0 SS2D below; each other step is a public method.
 */
public final class VMambaRef {
    private VMambaRef() {}

    /** Logits {@code (batch, num_classes)} for {@code x (batch, in_chans, h, w)}. */
    public static double[] logits(VMambaWeights wt, double[] x, int batch, int h, int w) {
        return forward(wt, x, batch, h, w).logits();
    }

    /**
     * The four stage maps {@code (batch, dims[i], H_i*W_i)}: each stage's block output before its
     * downsampling, through {@code outnorm<i>} when the weights have it (as {@code Backbone_VSSM}).
     */
    public static List<double[]> features(VMambaWeights wt, double[] x, int batch, int h, int w) {
        return forward(wt, x, batch, h, w).features();
    }

    /** Logits (null for a backbone) and the four stage maps of one forward pass. */
    public record Result(double[] logits, List<double[]> features) {}

    public static Result forward(VMambaWeights wt, double[] x, int batch, int h, int w) {
        return forward(wt, x, batch, h, w, DType.F32);
    }

    /**
     * The model with activations of {@code dtype} (docs/models.md, "Half precision"): the convolution and linear
     * weights and biases rounded to it, LayerNorms, A_logs, Ds and dt_projs_bias float32; every map a backend
     * stores between steps rounded to {@code dtype} there (each stem and downsampling LayerNorm's output, each
     * block's steps as {@link VSSRef#forward(VSSRef.Params, double[], int, int, int, DType)} and its output, the
     * classifier's LayerNorm); the pooled features float32; logits and features are returned unrounded (rounded
     * once at the store).
     */
    public static Result forward(VMambaWeights wt, double[] x, int batch, int h, int w, DType dtype) {
        VMambaConfig c = wt.config();
        Run run = new Run(wt, batch, dtype);
        List<double[]> features = new ArrayList<>();
        double[] y = run.stages(x, h, w, features);
        if (!c.hasClassifier()) return new Result(null, features);
        int d3 = c.dim(3), len = run.gh * run.gw;
        double[] yn = HalfSteps.round(SS2DRef.layerNorm(y, d(wt, "classifier.norm.weight"), d(wt, "classifier.norm.bias"),
                batch, d3, len), dtype);
        return new Result(head(yn, run.m("classifier.head.weight"), run.m("classifier.head.bias"), batch, d3, len,
                c.numClasses()), features);
    }

    /** One forward pass's state: the current grid. */
    private static final class Run {
        final VMambaWeights wt;
        final VMambaConfig c;
        final int batch;
        final DType dtype;
        int gh, gw;

        Run(VMambaWeights wt, int batch, DType dtype) {
            this.wt = wt;
            this.c = wt.config();
            this.batch = batch;
            this.dtype = dtype;
        }

        /** A convolution's or linear layer's weight or bias as the model holds it (rounded to the dtype). */
        double[] m(String name) {
            return HalfSteps.weight(d(wt, name), dtype);
        }

        double[] r(double[] a) {
            return HalfSteps.round(a, dtype);
        }

        /** Stem and four stages; the last stage's output (before the classifier). */
        double[] stages(double[] x, int h, int w, List<double[]> features) {
            double[] y = patchEmbed(x, h, w);
            for (int i = 0; i < VMambaConfig.STAGES; i++) {
                for (int j = 0; j < c.depth(i); j++) y = block(wt.block(i, j), y, batch, gh, gw, dtype);
                if (features != null) {
                    Tensor[] on = wt.outNorm(i);
                    features.add(on == null ? y.clone()
                            : SS2DRef.layerNorm(y, Doubles.of(on[0]), Doubles.of(on[1]), batch, c.dim(i), gh * gw));
                }
                if (i + 1 < VMambaConfig.STAGES) y = downsample(i, y);
            }
            return y;
        }

        double[] patchEmbed(double[] x, int h, int w) {
            int in = c.inChans(), d0 = c.dim(0);
            if (c.patchEmbed() == VMambaConfig.PatchEmbed.V1) {
                int p = c.patchSize();
                double[] y = conv2d(x, m("patch_embed.0.weight"), m("patch_embed.0.bias"), batch, in, h, w, d0, p, p, 0);
                gh = outSize(h, p, p, 0);
                gw = outSize(w, p, p, 0);
                return r(SS2DRef.layerNorm(y, d(wt, "patch_embed.2.weight"), d(wt, "patch_embed.2.bias"), batch, d0, gh * gw));
            }
            int s = c.patchSize() / 2, k = s + 1, hid = c.stemHidden();
            double[] y = conv2d(x, m("patch_embed.0.weight"), m("patch_embed.0.bias"), batch, in, h, w, hid, k, s, 1);
            int h1 = outSize(h, k, s, 1), w1 = outSize(w, k, s, 1);
            y = SS2DRef.layerNorm(y, d(wt, "patch_embed.2.weight"), d(wt, "patch_embed.2.bias"), batch, hid, h1 * w1);
            for (int i = 0; i < y.length; i++) y[i] = RefMath.gelu(y[i]);
            y = conv2d(r(y), m("patch_embed.5.weight"), m("patch_embed.5.bias"), batch, hid, h1, w1, d0, k, s, 1);
            gh = outSize(h1, k, s, 1);
            gw = outSize(w1, k, s, 1);
            return r(SS2DRef.layerNorm(y, d(wt, "patch_embed.7.weight"), d(wt, "patch_embed.7.bias"), batch, d0, gh * gw));
        }

        double[] downsample(int i, double[] x) {
            String p = "layers." + i + ".downsample.";
            int cin = c.dim(i), cout = c.dim(i + 1);
            if (c.downsample() == VMambaConfig.Downsample.V1) {
                double[] m = patchMerge(x, batch, cin, gh, gw);
                gh = (gh + 1) / 2;
                gw = (gw + 1) / 2;
                int len = gh * gw;
                m = r(SS2DRef.layerNorm(m, d(wt, p + "norm.weight"), d(wt, p + "norm.bias"), batch, 4 * cin, len));
                return r(SS2DRef.linear(m(p + "reduction.weight"), null, m, batch, 4 * cin, cout, len));
            }
            int k = c.downsample() == VMambaConfig.Downsample.V2 ? 2 : 3, pad = k == 3 ? 1 : 0;
            double[] y = conv2d(x, m(p + "1.weight"), m(p + "1.bias"), batch, cin, gh, gw, cout, k, 2, pad);
            gh = outSize(gh, k, 2, pad);
            gw = outSize(gw, k, 2, pad);
            return r(SS2DRef.layerNorm(y, d(wt, p + "3.weight"), d(wt, p + "3.bias"), batch, cout, gh * gw));
        }
    }

    /**
     * One VSS block: {@code x + SS2D(LN(x))}, then {@code + fc2(GELU(fc1(LN2(.))))} when it has the MLP.
     * The v05_noz SS2D is {@link SS2DRef#forward}, the v0 one {@link #ss2dV0}.
     */
    public static double[] block(VMambaBlock b, double[] x, int batch, int h, int w) {
        return block(b, x, batch, h, w, DType.F32);
    }

    /**
     * One block with activations of {@code dtype}: the steps of {@link VSSRef#forward(VSSRef.Params, double[], int,
     * int, int, DType)} (or v0's, {@link #ss2dV0(VMambaBlock, double[], int, int, int, DType)}), and its output
     * rounded, as a model holds it for the next block.
     */
    public static double[] block(VMambaBlock b, double[] x, int batch, int h, int w, DType dtype) {
        int dm = b.ss2d().dModel(), len = h * w;
        double[] n1 = HalfSteps.round(SS2DRef.layerNorm(x, Doubles.of(b.normWeight()), Doubles.of(b.normBias()), batch,
                dm, len), dtype);
        double[] s = b.zGate() ? ss2dV0(b, n1, batch, h, w, dtype)
                : SS2DRef.forward(SS2DRef.Params.of(b.ss2dWeights()), n1, batch, h, w, dtype);
        double[] y = new double[x.length];
        for (int i = 0; i < y.length; i++) y[i] = x[i] + s[i];
        HalfSteps.round(y, dtype);
        if (!b.hasMlp()) return y;
        int hid = b.mlpHidden();
        double[] n2 = HalfSteps.round(SS2DRef.layerNorm(y, Doubles.of(b.norm2Weight()), Doubles.of(b.norm2Bias()), batch,
                dm, len), dtype);
        double[] a = SS2DRef.linear(HalfSteps.weight(Doubles.of(b.fc1Weight()), dtype),
                HalfSteps.weight(Doubles.of(b.fc1Bias()), dtype), n2, batch, dm, hid, len);
        for (int i = 0; i < a.length; i++) a[i] = RefMath.gelu(a[i]);
        HalfSteps.round(a, dtype);
        double[] m = SS2DRef.linear(HalfSteps.weight(Doubles.of(b.fc2Weight()), dtype),
                HalfSteps.weight(Doubles.of(b.fc2Bias()), dtype), a, batch, hid, dm, len);
        for (int i = 0; i < y.length; i++) y[i] += m[i];
        return HalfSteps.round(y, dtype);
    }

    public static double[] ss2dV0(VMambaBlock b, double[] x, int batch, int h, int w) {
        return ss2dV0(b, x, batch, h, w, DType.F32);
    }

    /**
     * VMamba's first SS2D ({@code forward_type="v0"}): in_proj gives x (first d_inner rows) and z (the
     * rest); x goes through the depthwise convolution (with bias), SiLU, the four-route scan and merge
     * exactly as v05_noz; then {@code out_proj(LayerNorm(y) * SiLU(z))}. In a half {@code dtype}, x and z, the
     * LayerNorm's output and the gated product are each rounded (a backend stores each).
     */
    public static double[] ss2dV0(VMambaBlock b, double[] x, int batch, int h, int w, DType dtype) {
        SS2DConfig c = b.ss2d();
        int dm = c.dModel(), di = c.dInner(), len = h * w;
        double[] xz = HalfSteps.round(SS2DRef.linear(HalfSteps.weight(Doubles.of(b.inProj()), dtype), null, x, batch,
                dm, 2 * di, len), dtype);
        double[] xi = new double[batch * di * len], z = new double[batch * di * len];
        for (int bi = 0; bi < batch; bi++) {
            System.arraycopy(xz, bi * 2 * di * len, xi, bi * di * len, di * len);
            System.arraycopy(xz, (bi * 2 + 1) * di * len, z, bi * di * len, di * len);
        }
        SS2DRef.Params p = new SS2DRef.Params(c, null, Doubles.of(b.convWeight()), Doubles.of(b.convBias()),
                Doubles.of(b.xProj()), Doubles.of(b.dtProjsWeight()), Doubles.of(b.dtProjsBias()), Doubles.of(b.aLogs()),
                Doubles.of(b.ds()), Doubles.of(b.outNormWeight()), Doubles.of(b.outNormBias()), Doubles.of(b.outProj()))
                .in(dtype);
        double[] xa = HalfSteps.round(SS2DRef.silu(SS2DRef.depthwiseConv(xi, p.convW(), p.convB(), batch, di, h, w,
                c.dConv())), dtype);
        double[] xs = CrossRef.scan(xa, batch, di, h, w);
        double[] ys = ScanRef.run(SS2DRef.scanProblem(p, xs, batch, len, dtype)).out();
        double[] y = HalfSteps.round(SS2DRef.layerNorm(CrossRef.merge(ys, batch, di, h, w), p.normW(), p.normB(), batch,
                di, len), dtype);
        for (int i = 0; i < y.length; i++) y[i] *= RefMath.silu(z[i]);
        return SS2DRef.linear(p.outProj(), null, HalfSteps.round(y, dtype), batch, di, dm, len);
    }

    /**
     * Dense 2-D convolution (cross-correlation, as torch's conv2d): {@code x (batch, cin, h, w)},
     * {@code wt (cout, cin, k, k)}, stride {@code s}, zero padding {@code pad}; bias may be null.
     */
    public static double[] conv2d(double[] x, double[] wt, double[] bias, int batch, int cin, int h, int w, int cout,
                                  int k, int s, int pad) {
        int oh = outSize(h, k, s, pad), ow = outSize(w, k, s, pad);
        double[] out = new double[batch * cout * oh * ow];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++)
                for (int y = 0; y < oh; y++)
                    for (int xx = 0; xx < ow; xx++) {
                        double acc = bias == null ? 0.0 : bias[o];
                        for (int i = 0; i < cin; i++)
                            for (int ky = 0; ky < k; ky++) {
                                int iy = y * s + ky - pad;
                                if (iy < 0 || iy >= h) continue;
                                for (int kx = 0; kx < k; kx++) {
                                    int ix = xx * s + kx - pad;
                                    if (ix < 0 || ix >= w) continue;
                                    acc += wt[((o * cin + i) * k + ky) * k + kx] * x[((b * cin + i) * h + iy) * w + ix];
                                }
                            }
                        out[((b * cout + o) * oh + y) * ow + xx] = acc;
                    }
        return out;
    }

    /** torch's convolution output size. */
    public static int outSize(int n, int k, int s, int pad) {
        return (n + 2 * pad - k) / s + 1;
    }

    /**
     * PatchMerging2D's gather on channels-first maps: odd sizes padded with zeros at the end, then channel
     * block q of the output holds the input at rows {@code 2y + (0,1,0,1)[q]} and columns {@code 2x + (0,0,1,1)[q]}.
     */
    public static double[] patchMerge(double[] x, int batch, int c, int h, int w) {
        int oh = (h + 1) / 2, ow = (w + 1) / 2;
        int[] dy = {0, 1, 0, 1}, dx = {0, 0, 1, 1};
        double[] out = new double[batch * 4 * c * oh * ow];
        for (int b = 0; b < batch; b++)
            for (int q = 0; q < 4; q++)
                for (int ch = 0; ch < c; ch++)
                    for (int y = 0; y < oh; y++)
                        for (int xx = 0; xx < ow; xx++) {
                            int iy = 2 * y + dy[q], ix = 2 * xx + dx[q];
                            out[((b * 4 * c + q * c + ch) * oh + y) * ow + xx] =
                                    iy < h && ix < w ? x[((b * c + ch) * h + iy) * w + ix] : 0.0;
                        }
        return out;
    }

    /** Global average pool over the {@code len} pixels, then {@code logits = W pooled + bias}. */
    public static double[] head(double[] x, double[] wt, double[] bias, int batch, int c, int len, int classes) {
        double[] out = new double[batch * classes];
        double[] pooled = new double[c];
        for (int b = 0; b < batch; b++) {
            for (int ch = 0; ch < c; ch++) {
                double s = 0;
                for (int l = 0; l < len; l++) s += x[(b * c + ch) * len + l];
                pooled[ch] = s / len;
            }
            for (int n = 0; n < classes; n++) {
                double s = bias[n];
                for (int ch = 0; ch < c; ch++) s += wt[n * c + ch] * pooled[ch];
                out[b * classes + n] = s;
            }
        }
        return out;
    }

    private static double[] d(VMambaWeights w, String name) {
        return Doubles.of(w.get(name));
    }
}
