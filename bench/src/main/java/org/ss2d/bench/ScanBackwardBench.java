package org.ss2d.bench;

import java.util.SplittableRandom;
import org.ss2d.Ss2d;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanGrads;
import org.ss2d.ops.ScanShape;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.ScanBackwardRef;
import org.ss2d.reference.ScanRef;
import org.ss2d.report.ReportJson;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Selective scan backward against its own forward, same run: the inputs of {@link ScanBench} (grouped B/C, D,
 * delta_bias, softplus, no z) plus a random {@code dout}; forward and backward are timed in alternating rounds so
 * that a busy host slows both alike, and the ratio of their medians is the number to read. Before timing, the
 * per-element gradients of the first batch (du, dDelta, dB, dC) are checked against the float64 adjoint
 * ({@link ScanBackwardRef}); a relative error above 2e-4 (or NaN) throws. On a device backend (CUDA) both are timed
 * with device events on device-resident tensors instead ({@code ss2d bench scan-backward --backend cuda}).
 */
public final class ScanBackwardBench {
    private ScanBackwardBench() {}

    public record Result(String op, String backend, String device, int batch, int dim, int groups, int seqlen,
                         int dstate, int threads, double forwardMs, double backwardMs, double forwardNsPerElem,
                         double backwardNsPerElem, double ratio, double forwardCpuMs, double backwardCpuMs,
                         double cpuRatio, double minRatio, double checkRelErr, int rounds, String timing,
                         long backwardExtraDeviceBytes) {}

    private static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();

    public static Result run(String backend, int b, int dm, int g, int l, int n, int threads, int rounds) {
        return run(backend, b, dm, g, l, n, threads, rounds, 3.0);
    }

    /** As above with {@code warmupSeconds} of untimed forward+backward pairs first (host backends). */
    public static Result run(String backend, int b, int dm, int g, int l, int n, int threads, int rounds, double warmupSeconds) {
        TensorScope scope = TensorScope.root("bench-scan-bwd"); // an arena: every tensor dies with it
        try (Backs.Handle h = Backs.open(backend, threads)) {
            SplittableRandom r = new SplittableRandom(42);
            Tensor u = gauss(scope, r, 1.0, b, dm, l), delta = gauss(scope, r, 0.5, b, dm, l);
            Tensor bm = gauss(scope, r, 1.0, b, g, n, l), cm = gauss(scope, r, 1.0, b, g, n, l);
            Tensor a = scope.allocate(DType.F32, dm, n);
            for (long i = 0; i < a.elementCount(); i++) a.setFloat(i, (float) -Math.exp(r.nextGaussian()));
            Tensor dSkip = gauss(scope, r, 1.0, dm), bias = scope.allocate(DType.F32, dm);
            for (int d = 0; d < dm; d++) {
                double dt = Math.exp(r.nextDouble() * (Math.log(0.1) - Math.log(1e-3)) + Math.log(1e-3));
                bias.setFloat(d, (float) (dt + Math.log(-Math.expm1(-dt))));
            }
            Tensor dout = gauss(scope, r, 1.0, b, dm, l), out = scope.allocate(DType.F32, b, dm, l);
            ScanArgs args = ScanArgs.builder(u, delta, a, bm, cm).D(dSkip).deltaBias(bias).deltaSoftplus(true).build();
            Ss2d ss = Ss2d.on(h.backend());
            Tensor[] gt = new Tensor[8];
            Tensor[] in = args.tensors();
            for (int i = 0; i < in.length; i++) gt[i] = in[i] == null ? null : scope.allocate(DType.F32, in[i].shape()).fill(Float.NaN);
            ScanGrads grads = ScanGrads.of(gt);
            ss.selectiveScanBackwardInto(args, dout, null, grads);
            double err = check(args, new ScanShape(b, dm, l, n, g, BCMode.GROUPED, BCMode.GROUPED), dout, grads);
            if (h.backend().capabilities().deviceResident()) return device(h, ss, args, dout, grads, new int[] {b, dm, g, l, n}, rounds, err);
            // warm-up, then alternate: each round times one forward and one backward
            long end = System.nanoTime() + (long) (warmupSeconds * 1e9);
            while (System.nanoTime() < end) {
                ss.selectiveScanInto(args, out, null);
                ss.selectiveScanBackwardInto(args, dout, null, grads);
            }
            double[] f = new double[rounds], bw = new double[rounds], fc = new double[rounds], bc = new double[rounds];
            for (int i = 0; i < rounds; i++) {
                long c0 = MX.getCurrentThreadCpuTime(), t0 = System.nanoTime();
                ss.selectiveScanInto(args, out, null);
                long c1 = MX.getCurrentThreadCpuTime(), t1 = System.nanoTime();
                ss.selectiveScanBackwardInto(args, dout, null, grads);
                long c2 = MX.getCurrentThreadCpuTime(), t2 = System.nanoTime();
                f[i] = (t1 - t0) / 1e6;
                bw[i] = (t2 - t1) / 1e6;
                fc[i] = (c1 - c0) / 1e6;
                bc[i] = (c2 - c1) / 1e6;
            }
            for (double[] x : new double[][] {f, bw, fc, bc}) java.util.Arrays.sort(x);
            double fm = f[rounds / 2], bm2 = bw[rounds / 2], elems = (double) b * dm * l;
            // min_ratio: fastest backward over fastest forward, the least disturbed pair on a shared host;
            // caller CPU time is the work itself at 1 thread (the pool runs on the caller), robust to a busy host
            return new Result("scan_backward", h.backend().name(), h.backend().capabilities().device(), b, dm, g, l, n,
                    h.threads(), fm, bm2, fm * 1e6 / elems, bm2 * 1e6 / elems, bm2 / fm, fc[rounds / 2], bc[rounds / 2],
                    bc[rounds / 2] / fc[rounds / 2], bw[0] / f[0], err, rounds, "wall", -1);
        } finally {
            scope.release();
        }
    }

    /**
     * A device backend: inputs uploaded once, gradients into device tensors (the same bits as the checked host run),
     * forward and backward timed with device events in the same run ({@code rounds} calls each after 10), and the
     * device memory the backward call adds on top of its inputs and outputs (its workspace, from the backend's
     * peak count).
     */
    private static Result device(Backs.Handle h, Ss2d ss, ScanArgs args, Tensor dout, ScanGrads hostGrads, int[] sh,
                                 int rounds, double err) {
        org.ss2d.spi.Backend be = h.backend();
        try (TensorScope dev = TensorScope.root("bench-scan-bwd-device")) {
            Tensor[] in = args.tensors(), d = new Tensor[in.length], gd = new Tensor[in.length];
            for (int i = 0; i < in.length; i++) {
                d[i] = in[i] == null ? null : ss.toDevice(dev, in[i]);
                gd[i] = in[i] == null ? null : be.allocate(dev, DType.F32, in[i].shape());
            }
            ScanArgs da = new ScanArgs(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], true, false);
            Tensor ddout = ss.toDevice(dev, dout), dOut = be.allocate(dev, DType.F32, sh[0], sh[1], sh[3]);
            ScanGrads dg = ScanGrads.of(gd);
            be.synchronize();
            be.resetPeakDeviceBytes();
            long held = be.peakDeviceBytes().orElse(0);
            ss.selectiveScanBackwardInto(da, ddout, null, dg);
            be.synchronize();
            long extra = be.peakDeviceBytes().orElse(-1) - held;
            Tensor[] want = hostGrads.tensors();
            for (int i = 0; i < gd.length; i++) {
                if (gd[i] == null) continue;
                try (TensorScope back = TensorScope.root("bench-scan-bwd-back"); Tensor got = ss.toHost(back, gd[i])) {
                    if (!java.util.Arrays.equals(got.toFloatArray(), want[i].toFloatArray())) {
                        throw new IllegalStateException("device-resident scan backward on " + be.name() + " differs in "
                                + ScanGrads.NAMES[i] + " from its checked host-in/host-out run");
                    }
                }
            }
            double fm = be.deviceTimeMs(() -> ss.selectiveScanInto(da, dOut, null), 10, rounds).orElse(Double.NaN);
            double bm = be.deviceTimeMs(() -> ss.selectiveScanBackwardInto(da, ddout, null, dg), 10, rounds)
                    .orElse(Double.NaN);
            double elems = (double) sh[0] * sh[1] * sh[3];
            Result r = new Result("scan_backward", be.name(), be.capabilities().device(), sh[0], sh[1], sh[2], sh[3], sh[4],
                    0, fm, bm, fm * 1e6 / elems, bm * 1e6 / elems, bm / fm, Double.NaN, Double.NaN, Double.NaN, bm / fm,
                    err, rounds, "device events", extra);
            dev.release();
            return r;
        }
    }

    /** Worst relative error of du, dDelta, dB, dC over the first batch (reduced gradients span every batch). */
    private static double check(ScanArgs args, ScanShape s, Tensor dout, ScanGrads grads) {
        ScanRef.Problem p = ScanRef.Problem.of(args, s, 1);
        ScanBackwardRef.Grads want = ScanBackwardRef.run(p, Doubles.first(dout, p.u().length), null);
        double worst = 0;
        double[][] w = {want.du(), want.dDelta(), want.dB(), want.dC()};
        Tensor[] got = {grads.du(), grads.dDelta(), grads.dB(), grads.dC()};
        for (int i = 0; i < w.length; i++) {
            float[] gv = new float[w[i].length];
            java.lang.foreign.MemorySegment.copy(got[i].segment(), java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, gv, 0, gv.length);
            double e = Doubles.relativeError(gv, w[i]);
            if (!(e <= 2e-4)) {
                throw new IllegalStateException("scan backward check failed on f32 " + s + ": " + ScanGrads.NAMES[i]
                        + " relative error " + e + " > 2e-4");
            }
            worst = Math.max(worst, e);
        }
        return worst;
    }

    private static Tensor gauss(TensorScope scope, SplittableRandom r, double scale, long... shape) {
        Tensor t = scope.allocate(DType.F32, shape);
        float[] v = new float[(int) Math.min(t.elementCount(), 1 << 20)];
        for (long off = 0; off < t.elementCount(); off += v.length) {
            int len = (int) Math.min(v.length, t.elementCount() - off);
            for (int i = 0; i < len; i++) v[i] = (float) (scale * r.nextGaussian());
            java.lang.foreign.MemorySegment.copy(v, 0, t.segment(), java.lang.foreign.ValueLayout.JAVA_FLOAT, off * 4, len);
        }
        return t;
    }

    /** {@code ScanBackwardBench B D G L N [threads] [rounds]}: prints the JSON line. */
    public static void main(String[] a) {
        int threads = a.length > 5 ? Integer.parseInt(a[5]) : 0, rounds = a.length > 6 ? Integer.parseInt(a[6]) : 11;
        System.out.println(ReportJson.line(run("cpu", Integer.parseInt(a[0]), Integer.parseInt(a[1]),
                Integer.parseInt(a[2]), Integer.parseInt(a[3]), Integer.parseInt(a[4]), threads, rounds)));
    }
}
