package org.ss2d.model;

import java.util.SplittableRandom;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Seeded weights drawn as VMamba's {@code mamba_init} ("v0") and PyTorch's defaults draw them, so that
 * demos, benchmarks and tests run on realistic magnitudes. The LayerNorm affine parameters are
 * perturbed around (1, 0) so that a kernel that ignored them would be caught.
 */
public final class RandomWeights {
    private RandomWeights() {}

    /**
     * Seeded SS2D weights, drawn as the class comment says (same seed, same values).
     *
     * @param scope owner of the tensors
     * @param c     the block's sizes
     * @param seed  the random seed
     * @return weights for {@code c}
     */
    public static SS2DWeights ss2d(TensorScope scope, SS2DConfig c, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int dm = c.dModel(), di = c.dInner(), n = c.dState(), rank = c.dtRank(), k = c.dConv(), K = SS2DConfig.ROUTES;
        Tensor inProj = truncatedNormal(scope, r, 0.02, 2.0, di, dm);
        double convBound = 1.0 / k; // kaiming-uniform bound for fan_in = k*k
        Tensor convW = uniform(scope, r, convBound, di, 1, k, k);
        Tensor convB = c.convBias() ? uniform(scope, r, convBound, di) : null;
        Tensor xProj = uniform(scope, r, 1.0 / Math.sqrt(di), K, c.xProjRows(), di);
        Tensor dtW = uniform(scope, r, Math.pow(rank, -0.5), K, di, rank);
        float[] dtB = new float[K * di];
        for (int i = 0; i < dtB.length; i++) {
            double dt = Math.exp(r.nextDouble() * (Math.log(0.1) - Math.log(0.001)) + Math.log(0.001));
            dt = Math.max(dt, 1e-4);
            dtB[i] = (float) (dt + Math.log(-Math.expm1(-dt))); // inverse softplus
        }
        float[] aLogs = new float[K * di * n];
        for (int row = 0; row < K * di; row++) {
            for (int s = 0; s < n; s++) aLogs[row * n + s] = (float) Math.log(s + 1.0);
        }
        float[] ds = new float[K * di];
        java.util.Arrays.fill(ds, 1f);
        Tensor normW = around(scope, r, 1.0, 0.1, di);
        Tensor normB = around(scope, r, 0.0, 0.1, di);
        Tensor outProj = truncatedNormal(scope, r, 0.02, 2.0, dm, di);
        return new SS2DWeights(c, inProj, convW, convB, xProj, dtW, scope.fromArray(dtB, K, di),
                scope.fromArray(aLogs, (long) K * di, n), scope.fromArray(ds, (long) K * di), normW, normB, outProj);
    }

    /**
     * Seeded VSS block weights: SS2D's as {@link #ss2d}, LayerNorms and the MLP around them.
     *
     * @param scope    owner of the tensors
     * @param c        the SS2D sizes
     * @param mlpRatio hidden width of the MLP over d_model
     * @param seed     the random seed
     * @return weights for the block
     */
    public static VSSWeights vss(TensorScope scope, SS2DConfig c, double mlpRatio, long seed) {
        SplittableRandom r = new SplittableRandom(seed ^ 0x5DEECE66DL);
        SS2DWeights op = ss2d(scope, c, seed);
        int dm = c.dModel(), h = VSSWeights.hidden(c, mlpRatio);
        return new VSSWeights(op, mlpRatio, around(scope, r, 1.0, 0.1, dm), around(scope, r, 0, 0.1, dm),
                around(scope, r, 1.0, 0.1, dm), around(scope, r, 0, 0.1, dm),
                truncatedNormal(scope, r, 0.02, 2.0, h, dm), around(scope, r, 0, 0.02, h),
                truncatedNormal(scope, r, 0.02, 2.0, dm, h), around(scope, r, 0, 0.02, dm));
    }

    /** A tensor of standard normal values times {@code scale}: inputs for tests and benchmarks. */
    public static Tensor gaussian(TensorScope scope, long seed, double scale, long... shape) {
        return around(scope, new SplittableRandom(seed), 0, scale, shape);
    }

    /** Uniform values in {@code [lo, hi)}. */
    public static Tensor uniform(TensorScope scope, long seed, double lo, double hi, long... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        Tensor t = scope.allocate(org.ss2d.tensor.DType.F32, shape);
        for (long i = 0; i < t.elementCount(); i++) t.setFloat(i, (float) (lo + (hi - lo) * r.nextDouble()));
        return t;
    }

    // The draws below fill a float[] and copy it in once: per-element Tensor.setFloat (bounds and alignment
    // checks each time) was a third of the time of VMambaConformanceTest's weight generation. Same values,
    // same order: seeded weights do not change.

    /** Normal(0, std) truncated at {@code truncAt} standard deviations (redrawn beyond), in draw order. */
    public static Tensor truncatedNormal(TensorScope scope, SplittableRandom r, double std, double truncAt, long... shape) {
        Tensor t = scope.allocate(org.ss2d.tensor.DType.F32, shape);
        float[] v = new float[Math.toIntExact(t.elementCount())];
        for (int i = 0; i < v.length; i++) {
            double g;
            do {
                g = r.nextGaussian();
            } while (Math.abs(g) > truncAt);
            v[i] = (float) (std * g);
        }
        return t.copyFrom(v);
    }

    /** Uniform in [-bound, bound), in draw order. */
    public static Tensor uniform(TensorScope scope, SplittableRandom r, double bound, long... shape) {
        Tensor t = scope.allocate(org.ss2d.tensor.DType.F32, shape);
        float[] v = new float[Math.toIntExact(t.elementCount())];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((2 * r.nextDouble() - 1) * bound);
        return t.copyFrom(v);
    }

    /** Normal(mean, std), untruncated, in draw order. */
    public static Tensor around(TensorScope scope, SplittableRandom r, double mean, double std, long... shape) {
        Tensor t = scope.allocate(org.ss2d.tensor.DType.F32, shape);
        float[] v = new float[Math.toIntExact(t.elementCount())];
        for (int i = 0; i < v.length; i++) v[i] = (float) (mean + std * r.nextGaussian());
        return t.copyFrom(v);
    }
}
