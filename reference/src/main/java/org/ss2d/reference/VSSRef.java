package org.ss2d.reference;

import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.DType;

/**
 * VMamba's VSSBlock ({@code post_norm=False}, no drop path at inference) in double precision:
 * {@code x1 = x + SS2D(LN(x))}, {@code out = x1 + fc2(GELU(fc1(LN2(x1))))}, LayerNorms over channels.
 */
public final class VSSRef {
    private VSSRef() {}

    public record Params(SS2DRef.Params op, int hidden, double[] normW, double[] normB, double[] norm2W,
                         double[] norm2B, double[] fc1W, double[] fc1B, double[] fc2W, double[] fc2B) {
        /** The weights as a VSS block in {@code dtype} holds them: as {@link SS2DRef.Params#in}, fc1/fc2 (weights and biases) rounded. */
        public Params in(DType dtype) {
            if (dtype == DType.F32) return this;
            return new Params(op.in(dtype), hidden, normW, normB, norm2W, norm2B, HalfSteps.weight(fc1W, dtype),
                    HalfSteps.weight(fc1B, dtype), HalfSteps.weight(fc2W, dtype), HalfSteps.weight(fc2B, dtype));
        }

        public static Params of(VSSWeights w) {
            return new Params(SS2DRef.Params.of(w.op()), VSSWeights.hidden(w.config(), w.mlpRatio()),
                    Doubles.of(w.normWeight()), Doubles.of(w.normBias()), Doubles.of(w.norm2Weight()),
                    Doubles.of(w.norm2Bias()), Doubles.of(w.fc1Weight()), Doubles.of(w.fc1Bias()),
                    Doubles.of(w.fc2Weight()), Doubles.of(w.fc2Bias()));
        }
    }

    public static double[] forward(Params p, double[] x, int batch, int h, int w) {
        return forward(p, x, batch, h, w, DType.F32);
    }

    /**
     * The block with activations of {@code dtype}, weights as {@link Params#in} gives them: LN(x), x1 = x + SS2D,
     * LN2(x1) and GELU(fc1 + bias) rounded to {@code dtype} where a backend stores them; the result
     * {@code x1 + fc2 + bias} is returned unrounded (rounded once at the store).
     */
    public static double[] forward(Params p, double[] x, int batch, int h, int w, DType dtype) {
        p = p.in(dtype);
        int dm = p.op().config().dModel(), len = h * w;
        double[] n1 = HalfSteps.round(SS2DRef.layerNorm(x, p.normW(), p.normB(), batch, dm, len), dtype);
        double[] s = SS2DRef.forward(p.op(), n1, batch, h, w, dtype);
        double[] x1 = HalfSteps.round(add(x, s), dtype);
        double[] n2 = HalfSteps.round(SS2DRef.layerNorm(x1, p.norm2W(), p.norm2B(), batch, dm, len), dtype);
        double[] a = SS2DRef.linear(p.fc1W(), p.fc1B(), n2, batch, dm, p.hidden(), len);
        for (int i = 0; i < a.length; i++) a[i] = RefMath.gelu(a[i]);
        HalfSteps.round(a, dtype);
        double[] m = SS2DRef.linear(p.fc2W(), p.fc2B(), a, batch, p.hidden(), dm, len);
        return add(x1, m);
    }

    private static double[] add(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) out[i] = a[i] + b[i];
        return out;
    }
}
