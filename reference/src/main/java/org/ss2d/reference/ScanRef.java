package org.ss2d.reference;

import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;

/**
 * Mamba's selective scan forward in double precision, written as the sequential recurrence of
 * spec 1.2 with nothing fused or reordered:
 * <pre>
 *   delta_t = softplus?(delta[b,d,t] + delta_bias[d])
 *   h_t,n   = exp(delta_t A[d,n]) h_{t-1},n + delta_t u[b,d,t] B_t,n
 *   y_t     = sum_n C_t,n h_t,n + D[d] u[b,d,t];   out_t = y_t silu(z_t) if z
 *   last_state[b,d,n] = h_{L-1},n  (the true state, also for constant B)
 * </pre>
 */
public final class ScanRef {
    private ScanRef() {}

    /**
     * A scan in doubles with {@link ScanArgs}'s layouts (row-major): u, delta, z {@code (batch, dim, seqlen)};
     * A {@code (dim, dstate)}; B, C by {@link BCMode}; D, deltaBias {@code (dim)}. D, z, deltaBias may be null.
     */
    public record Problem(int batch, int dim, int seqlen, int dstate, int groups, BCMode bMode, BCMode cMode,
                          double[] u, double[] delta, double[] A, double[] B, double[] C, double[] D, double[] z,
                          double[] deltaBias, boolean deltaSoftplus) {

        /** Reads validated host float32 arguments. */
        public static Problem of(ScanArgs a, ScanShape s) {
            return new Problem(s.batch(), s.dim(), s.seqlen(), s.dstate(), s.groups(), s.bMode(), s.cMode(),
                    Doubles.of(a.u()), Doubles.of(a.delta()), Doubles.of(a.A()), Doubles.of(a.B()), Doubles.of(a.C()),
                    Doubles.of(a.D()), Doubles.of(a.z()), Doubles.of(a.deltaBias()), a.deltaSoftplus());
        }

        /**
         * Reads the first {@code batches} batches of validated host float32 arguments (all channels, the
         * whole sequence): the oracle for a slice of a scan too large to recompute in double, e.g. a
         * benchmark's check of its first batch. Per-batch tensors are read only as far as needed.
         *
         * @throws IllegalArgumentException if {@code batches} is not in {@code 1..shape.batch()}
         */
        public static Problem of(ScanArgs a, ScanShape s, int batches) {
            if (batches < 1 || batches > s.batch()) {
                throw new IllegalArgumentException("batches: expected 1.." + s.batch() + ", found " + batches);
            }
            long rows = (long) batches * s.dim() * s.seqlen();
            return new Problem(batches, s.dim(), s.seqlen(), s.dstate(), s.groups(), s.bMode(), s.cMode(),
                    Doubles.first(a.u(), rows), Doubles.first(a.delta(), rows), Doubles.of(a.A()),
                    bc(a.B(), s.bMode(), s, batches), bc(a.C(), s.cMode(), s, batches), Doubles.of(a.D()),
                    a.z() == null ? null : Doubles.first(a.z(), rows), Doubles.of(a.deltaBias()), a.deltaSoftplus());
        }

        private static double[] bc(org.ss2d.tensor.Tensor m, BCMode mode, ScanShape s, int batches) {
            return switch (mode) {
                case CONSTANT -> Doubles.of(m);
                case VARIABLE -> Doubles.first(m, (long) batches * s.dstate() * s.seqlen());
                case GROUPED -> Doubles.first(m, (long) batches * s.groups() * s.dstate() * s.seqlen());
            };
        }

        /** Flat index of (b, d, t) in u, delta, z and out. */
        public int idx(int b, int d, int t) {
            return (b * dim + d) * seqlen + t;
        }

        /** The step size after bias and softplus. */
        public double step(int b, int d, int t) {
            double x = delta[idx(b, d, t)] + (deltaBias == null ? 0.0 : deltaBias[d]);
            return deltaSoftplus ? RefMath.softplus(x) : x;
        }

        public double bAt(int b, int d, int n, int t) {
            return bc(B, bMode, b, d, n, t);
        }

        public double cAt(int b, int d, int n, int t) {
            return bc(C, cMode, b, d, n, t);
        }

        private double bc(double[] m, BCMode mode, int b, int d, int n, int t) {
            return switch (mode) {
                case CONSTANT -> m[d * dstate + n];
                case VARIABLE -> m[(b * dstate + n) * seqlen + t];
                case GROUPED -> {
                    int g = d / (dim / groups);
                    yield m[((b * groups + g) * dstate + n) * seqlen + t];
                }
            };
        }
    }

    /** {@code out (batch, dim, seqlen)} and {@code lastState (batch, dim, dstate)}. */
    public record Result(double[] out, double[] lastState) {}

    public static Result run(Problem p) {
        int L = p.seqlen(), N = p.dstate();
        double[] out = new double[p.batch() * p.dim() * L];
        double[] last = new double[p.batch() * p.dim() * N];
        double[] h = new double[N];
        for (int b = 0; b < p.batch(); b++) {
            for (int d = 0; d < p.dim(); d++) {
                java.util.Arrays.fill(h, 0.0);
                for (int t = 0; t < L; t++) {
                    double dt = p.step(b, d, t);
                    double u = p.u()[p.idx(b, d, t)];
                    double y = 0;
                    for (int n = 0; n < N; n++) {
                        h[n] = Math.exp(dt * p.A()[d * N + n]) * h[n] + dt * u * p.bAt(b, d, n, t);
                        y += p.cAt(b, d, n, t) * h[n];
                    }
                    if (p.D() != null) y += p.D()[d] * u;
                    if (p.z() != null) y *= RefMath.silu(p.z()[p.idx(b, d, t)]);
                    out[p.idx(b, d, t)] = y;
                }
                System.arraycopy(h, 0, last, (b * p.dim() + d) * N, N);
            }
        }
        return new Result(out, last);
    }
}
