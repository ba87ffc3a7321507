package org.ss2d.reference;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.tensor.TensorScope;

/**
 * SS2D and VSS forward equal the composition of their parts, the parts written again here
 * independently (padded-array convolution, explicit splits of x_proj, matrix products).
 */
class BlocksRefTest {

    @ParameterizedTest(name = "d_model {0}, d_state {1}, ssm_ratio {2}, conv bias {3}, grid {4}x{5}, batch {6}")
    @CsvSource({"8,1,1.0,false,5,6,2", "12,4,2.0,true,3,7,1", "16,2,1.0,true,4,4,1", "6,3,2.0,false,1,5,2"})
    void ss2dIsTheCompositionOfItsParts(int dm, int n, double ratio, boolean convBias, int h, int w, int batch) {
        SS2DConfig c = SS2DConfig.of(dm, n, ratio).withConvBias(convBias);
        TensorScope scope = TensorScope.root("ss2d-ref"); // an arena: inputs and weights die with it
        try {
            SS2DRef.Params p = SS2DRef.Params.of(RandomWeights.ss2d(scope, c, 7 + dm));
            double[] x = Problems.gauss(new java.util.SplittableRandom(dm), batch * dm * h * w, 1);
            double[] block = SS2DRef.forward(p, x, batch, h, w);
            double[] composed = composeSs2d(p, x, batch, h, w);
            double err = Problems.maxAbsDiff(block, composed) / Problems.maxAbs(composed);
            assertTrue(err < 1e-12, "SS2D " + c + ": block vs composition rel err " + err);
        } finally {
            scope.release();
        }
    }

    @ParameterizedTest(name = "d_model {0}, d_state {1}, ssm_ratio {2}, grid {3}x{4}")
    @CsvSource({"8,1,1.0,5,6", "12,2,2.0,3,3"})
    void vssIsTheCompositionOfItsParts(int dm, int n, double ratio, int h, int w) {
        SS2DConfig c = SS2DConfig.of(dm, n, ratio);
        TensorScope scope = TensorScope.root("vss-ref"); // an arena: inputs and weights die with it
        try {
            VSSWeights vw = RandomWeights.vss(scope, c, 4.0, 11);
            VSSRef.Params p = VSSRef.Params.of(vw);
            double[] x = Problems.gauss(new java.util.SplittableRandom(dm + 1), dm * h * w, 1);
            double[] block = VSSRef.forward(p, x, 1, h, w);
            int L = h * w, hid = p.hidden();
            double[] n1 = ln(x, p.normW(), p.normB(), dm, L);
            double[] s = composeSs2d(p.op(), n1, 1, h, w);
            double[] x1 = new double[x.length];
            for (int i = 0; i < x.length; i++) x1[i] = x[i] + s[i];
            double[] n2 = ln(x1, p.norm2W(), p.norm2B(), dm, L);
            double[] hidden = matmul(p.fc1W(), n2, hid, dm, L);
            for (int o = 0; o < hid; o++)
                for (int l = 0; l < L; l++) {
                    double v = hidden[o * L + l] + p.fc1B()[o];
                    hidden[o * L + l] = 0.5 * v * (1 + RefMath.erf(v / Math.sqrt(2)));
                }
            double[] m = matmul(p.fc2W(), hidden, dm, hid, L);
            double[] expect = new double[x.length];
            for (int o = 0; o < dm; o++)
                for (int l = 0; l < L; l++) expect[o * L + l] = x1[o * L + l] + m[o * L + l] + p.fc2B()[o];
            double err = Problems.maxAbsDiff(block, expect) / Problems.maxAbs(expect);
            assertTrue(err < 1e-12, "VSS " + c + ": block vs composition rel err " + err);
        } finally {
            scope.release();
        }
    }

    /** SS2D from its parts; batch items one at a time. */
    static double[] composeSs2d(SS2DRef.Params p, double[] x, int batch, int h, int w) {
        SS2DConfig c = p.config();
        int dm = c.dModel(), di = c.dInner(), L = h * w, n = c.dState(), r = c.dtRank(), k = c.dConv(), K = 4;
        double[] out = new double[batch * dm * L];
        for (int b = 0; b < batch; b++) {
            double[] xb = java.util.Arrays.copyOfRange(x, b * dm * L, (b + 1) * dm * L);
            double[] xi = matmul(p.inProj(), xb, di, dm, L);
            // depthwise conv on a zero-padded copy
            int pad = (k - 1) / 2, hp = h + 2 * pad, wp = w + 2 * pad;
            double[] xa = new double[di * L];
            for (int ch = 0; ch < di; ch++) {
                double[] padded = new double[hp * wp];
                for (int y = 0; y < h; y++) System.arraycopy(xi, ch * L + y * w, padded, (y + pad) * wp + pad, w);
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < w; xx++) {
                        double s = p.convB() == null ? 0 : p.convB()[ch];
                        for (int i = 0; i < k; i++)
                            for (int j = 0; j < k; j++) s += p.convW()[ch * k * k + i * k + j] * padded[(y + i) * wp + xx + j];
                        xa[ch * L + y * w + xx] = s / (1 + Math.exp(-s));
                    }
            }
            double[] xs = CrossRef.scan(xa, 1, di, h, w); // (4, di, L)
            double[] delta = new double[K * di * L], bs = new double[K * n * L], cs = new double[K * n * L];
            for (int route = 0; route < K; route++) {
                double[] xsK = java.util.Arrays.copyOfRange(xs, route * di * L, (route + 1) * di * L);
                double[] wK = java.util.Arrays.copyOfRange(p.xProj(), route * c.xProjRows() * di, (route + 1) * c.xProjRows() * di);
                double[] dbl = matmul(wK, xsK, c.xProjRows(), di, L);
                double[] dtR = java.util.Arrays.copyOfRange(dbl, 0, r * L);
                System.arraycopy(dbl, r * L, bs, route * n * L, n * L);
                System.arraycopy(dbl, (r + n) * L, cs, route * n * L, n * L);
                double[] dtW = java.util.Arrays.copyOfRange(p.dtW(), route * di * r, (route + 1) * di * r);
                System.arraycopy(matmul(dtW, dtR, di, r, L), 0, delta, route * di * L, di * L);
            }
            double[] a = new double[K * di * n];
            for (int i = 0; i < a.length; i++) a[i] = -Math.exp(p.aLogs()[i]);
            ScanRef.Problem sp = new ScanRef.Problem(1, K * di, L, n, K, BCMode.GROUPED, BCMode.GROUPED, xs, delta, a,
                    bs, cs, p.ds(), null, p.dtB(), true);
            double[] y = CrossRef.merge(ScanRef.run(sp).out(), 1, di, h, w);
            double[] o = matmul(p.outProj(), ln(y, p.normW(), p.normB(), di, L), dm, di, L);
            System.arraycopy(o, 0, out, b * dm * L, dm * L);
        }
        return out;
    }

    /** (rows x inner) times (inner x L). */
    static double[] matmul(double[] a, double[] b, int rows, int inner, int L) {
        double[] out = new double[rows * L];
        for (int i = 0; i < rows; i++)
            for (int q = 0; q < inner; q++) {
                double aiq = a[i * inner + q];
                for (int l = 0; l < L; l++) out[i * L + l] += aiq * b[q * L + l];
            }
        return out;
    }

    /** LayerNorm over channels of a (c, L) map, one pixel column at a time. */
    static double[] ln(double[] x, double[] g, double[] beta, int c, int L) {
        double[] out = new double[x.length];
        for (int l = 0; l < L; l++) {
            double[] col = new double[c];
            for (int ch = 0; ch < c; ch++) col[ch] = x[ch * L + l];
            double mean = java.util.Arrays.stream(col).sum() / c;
            double var = java.util.Arrays.stream(col).map(v -> (v - mean) * (v - mean)).sum() / c;
            for (int ch = 0; ch < c; ch++) out[ch * L + l] = g[ch] * (col[ch] - mean) / Math.sqrt(var + 1e-5) + beta[ch];
        }
        return out;
    }
}
