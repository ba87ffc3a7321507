package org.ss2d.reference;

import org.ss2d.ops.BCMode;

/**
 * The selective scan's backward in double precision: the gradients of {@code sum(dout * out) +
 * sum(dlastState * last_state)} with respect to every input of {@link ScanRef}, written as the plain
 * adjoint of the recurrence, one (batch, channel) row at a time. Per row it keeps the row's states
 * ({@code seqlen x dstate} doubles): an oracle, not a kernel, so clarity wins over memory.
 *
 * <pre>
 *   y_t = sum_n C_t,n h_t,n + D u_t          (pre-gate output); out_t = y_t silu(z_t) if z
 *   g~_t = dout_t silu(z_t)                   dz_t = dout_t y_t silu'(z_t)
 *   lam_t,n = C_t,n g~_t + a_{t+1},n lam_{t+1},n,  lam_{L-1},n also gets dlastState_n   (dL/dh_t)
 *   du_t     = D g~_t + delta_t sum_n lam_t,n B_t,n
 *   dDelta_t = sum_n lam_t,n (u_t B_t,n + A_n a_t,n h_{t-1},n);  ddelta_t = dDelta_t softplus'(delta~_t)
 *   dA_n += lam_t,n delta_t a_t,n h_{t-1},n;  dB_t,n += lam_t,n delta_t u_t;  dC_t,n += g~_t h_t,n
 *   dD += g~_t u_t;  ddelta_bias += ddelta_t
 * </pre>
 * Constant B/C gradients sum over batch and time, variable ones over the channels that share the row
 * (every channel for 3-D, the channels of the group for 4-D).
 */
public final class ScanBackwardRef {
    private ScanBackwardRef() {}

    /**
     * Every gradient, shaped as its input (flat, row-major); {@code dD}, {@code dz}, {@code dDeltaBias}
     * are null when the problem has no D, z or delta_bias.
     */
    public record Grads(double[] du, double[] dDelta, double[] dA, double[] dB, double[] dC, double[] dD,
                        double[] dz, double[] dDeltaBias) {

        /** The gradients in {@code ScanArgs.NAMES} order (u, delta, A, B, C, D, z, delta_bias), nulls kept. */
        public double[][] inOrder() {
            return new double[][] {du, dDelta, dA, dB, dC, dD, dz, dDeltaBias};
        }
    }

    /**
     * @param dout       {@code (batch, dim, seqlen)} gradient reaching {@code out}
     * @param dLastState {@code (batch, dim, dstate)} gradient reaching {@code last_state}, or null (none)
     */
    public static Grads run(ScanRef.Problem p, double[] dout, double[] dLastState) {
        int B = p.batch(), Dm = p.dim(), L = p.seqlen(), N = p.dstate();
        double[] du = new double[B * Dm * L], dDelta = new double[B * Dm * L], dA = new double[Dm * N];
        double[] dB = new double[p.B().length], dC = new double[p.C().length];
        double[] dD = p.D() == null ? null : new double[Dm];
        double[] dz = p.z() == null ? null : new double[B * Dm * L];
        double[] dBias = p.deltaBias() == null ? null : new double[Dm];
        double[] h = new double[(L + 1) * N]; // h[(t + 1) * N + n] = h_t,n; h_{-1} = 0
        double[] lam = new double[N];
        double[] dt = new double[L];
        for (int b = 0; b < B; b++) {
            for (int d = 0; d < Dm; d++) {
                for (int t = 0; t < L; t++) {
                    dt[t] = p.step(b, d, t);
                    double u = p.u()[p.idx(b, d, t)];
                    for (int n = 0; n < N; n++) {
                        h[(t + 1) * N + n] = Math.exp(dt[t] * p.A()[d * N + n]) * h[t * N + n] + dt[t] * u * p.bAt(b, d, n, t);
                    }
                }
                for (int n = 0; n < N; n++) lam[n] = dLastState == null ? 0.0 : dLastState[(b * Dm + d) * N + n];
                for (int t = L - 1; t >= 0; t--) {
                    int i = p.idx(b, d, t);
                    double u = p.u()[i], g = dout[i];
                    if (p.z() != null) {
                        double z = p.z()[i], s = RefMath.sigmoid(z);
                        double y = p.D() == null ? 0.0 : p.D()[d] * u;
                        for (int n = 0; n < N; n++) y += p.cAt(b, d, n, t) * h[(t + 1) * N + n];
                        dz[i] = g * y * s * (1 + z * (1 - s));
                        g *= z * s;
                    }
                    double duAcc = p.D() == null ? 0.0 : p.D()[d] * g, dDt = 0.0;
                    if (dD != null) dD[d] += g * u;
                    for (int n = 0; n < N; n++) {
                        double an = p.A()[d * N + n], a = Math.exp(dt[t] * an), bv = p.bAt(b, d, n, t);
                        // lam currently holds a_{t+1} lam_{t+1} (+ dlast at t = L-1)
                        lam[n] += p.cAt(b, d, n, t) * g;
                        double ahPrev = a * h[t * N + n];
                        duAcc += dt[t] * lam[n] * bv;
                        dDt += lam[n] * (u * bv + an * ahPrev);
                        dA[d * N + n] += lam[n] * dt[t] * ahPrev;
                        dB[bcIndex(p, p.bMode(), b, d, n, t)] += lam[n] * dt[t] * u;
                        dC[bcIndex(p, p.cMode(), b, d, n, t)] += g * h[(t + 1) * N + n];
                        lam[n] *= a; // a_t lam_t, the carry into step t-1
                    }
                    du[i] = duAcc;
                    if (p.deltaSoftplus()) {
                        double x = p.delta()[i] + (p.deltaBias() == null ? 0.0 : p.deltaBias()[d]);
                        if (x <= 20.0) dDt *= RefMath.sigmoid(x);
                    }
                    dDelta[i] = dDt;
                    if (dBias != null) dBias[d] += dDt;
                }
            }
        }
        return new Grads(du, dDelta, dA, dB, dC, dD, dz, dBias);
    }

    private static int bcIndex(ScanRef.Problem p, BCMode mode, int b, int d, int n, int t) {
        int N = p.dstate(), L = p.seqlen();
        return switch (mode) {
            case CONSTANT -> d * N + n;
            case VARIABLE -> (b * N + n) * L + t;
            case GROUPED -> ((b * p.groups() + d / (p.dim() / p.groups())) * N + n) * L + t;
        };
    }
}
