package org.ss2d.reference;

import org.ss2d.model.VSSWeights;

/**
 * VMamba's VSSBlock ({@code post_norm=False}, no drop path at inference) in double precision:
 * {@code x1 = x + SS2D(LN(x))}, {@code out = x1 + fc2(GELU(fc1(LN2(x1))))}, LayerNorms over channels.
 */
public final class VSSRef {
    private VSSRef() {}

    public record Params(SS2DRef.Params op, int hidden, double[] normW, double[] normB, double[] norm2W,
                         double[] norm2B, double[] fc1W, double[] fc1B, double[] fc2W, double[] fc2B) {
        public static Params of(VSSWeights w) {
            return new Params(SS2DRef.Params.of(w.op()), VSSWeights.hidden(w.config(), w.mlpRatio()),
                    Doubles.of(w.normWeight()), Doubles.of(w.normBias()), Doubles.of(w.norm2Weight()),
                    Doubles.of(w.norm2Bias()), Doubles.of(w.fc1Weight()), Doubles.of(w.fc1Bias()),
                    Doubles.of(w.fc2Weight()), Doubles.of(w.fc2Bias()));
        }
    }

    public static double[] forward(Params p, double[] x, int batch, int h, int w) {
        int dm = p.op().config().dModel(), len = h * w;
        double[] n1 = SS2DRef.layerNorm(x, p.normW(), p.normB(), batch, dm, len);
        double[] s = SS2DRef.forward(p.op(), n1, batch, h, w);
        double[] x1 = add(x, s);
        double[] n2 = SS2DRef.layerNorm(x1, p.norm2W(), p.norm2B(), batch, dm, len);
        double[] a = SS2DRef.linear(p.fc1W(), p.fc1B(), n2, batch, dm, p.hidden(), len);
        for (int i = 0; i < a.length; i++) a[i] = RefMath.gelu(a[i]);
        double[] m = SS2DRef.linear(p.fc2W(), p.fc2B(), a, batch, p.hidden(), dm, len);
        return add(x1, m);
    }

    private static double[] add(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) out[i] = a[i] + b[i];
        return out;
    }
}
