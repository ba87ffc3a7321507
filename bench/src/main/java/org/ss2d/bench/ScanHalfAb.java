package org.ss2d.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.ss2d.Ss2d;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The scan on float32, bfloat16 and float16 activations in one JVM, calls interleaved: steadier ratios on a shared
 * machine than separate processes (where one binary moves +-20% from process to process). After a joint warm-up,
 * each round times {@code calls} calls of every dtype (order rotating per round) and keeps each one's median; the
 * ratio half / float32 is taken per round, so that load changes between rounds cancel.
 *
 * <p>{@code ScanHalfAb B D G L N threads rounds calls [z]}: prints one line per round and a summary line per dtype
 * (median ns/elem over rounds, median ratio to float32 [min..max]). Inputs as ScanBench's (grouped B/C, D,
 * delta_bias, softplus; with {@code z} a gate too); out in the input dtype.
 */
public final class ScanHalfAb {
    private ScanHalfAb() {}

    public static void main(String[] a) throws Exception {
        int b = Integer.parseInt(a[0]), dm = Integer.parseInt(a[1]), g = Integer.parseInt(a[2]), l = Integer.parseInt(a[3]),
                n = Integer.parseInt(a[4]), threads = Integer.parseInt(a[5]), rounds = Integer.parseInt(a[6]),
                calls = Integer.parseInt(a[7]);
        boolean gate = a.length > 8 && a[8].equals("z");
        DType[] types = {DType.F32, DType.BF16, DType.F16};
        long elems = (long) b * dm * l;
        try (Backs.Handle h = Backs.open("cpu", threads); TensorScope scope = TensorScope.root("scan-half-ab")) {
            Ss2d ss = Ss2d.on(h.backend());
            List<Runnable> runs = new ArrayList<>();
            List<Tensor> made = new ArrayList<>();
            for (DType t : types) {
                SplittableRandom r = new SplittableRandom(7);
                Tensor u = gauss(scope, r, 1.0, t, b, dm, l), delta = gauss(scope, r, 0.5, t, b, dm, l);
                Tensor bm = gauss(scope, r, 1.0, t, b, g, n, l), cm = gauss(scope, r, 1.0, t, b, g, n, l);
                Tensor z = gate ? gauss(scope, r, 1.0, t, b, dm, l) : null;
                Tensor am = scope.allocate(DType.F32, dm, n);
                for (long i = 0; i < am.elementCount(); i++) am.setFloat(i, (float) -Math.exp(r.nextGaussian()));
                Tensor dSkip = gauss(scope, r, 1.0, DType.F32, dm), bias = scope.allocate(DType.F32, dm);
                for (int d = 0; d < dm; d++) {
                    double dt = Math.exp(r.nextDouble() * (Math.log(0.1) - Math.log(1e-3)) + Math.log(1e-3));
                    bias.setFloat(d, (float) (dt + Math.log(-Math.expm1(-dt))));
                }
                Tensor out = scope.allocate(t, b, dm, l);
                ScanArgs args = ScanArgs.builder(u, delta, am, bm, cm).D(dSkip).z(z).deltaBias(bias).deltaSoftplus(true).build();
                runs.add(() -> ss.selectiveScanInto(args, out, null));
                made.addAll(Arrays.asList(u, delta, bm, cm, am, dSkip, bias, out));
                if (z != null) made.add(z);
            }
            long warmEnd = System.nanoTime() + 4_000_000_000L;
            while (System.nanoTime() < warmEnd) for (Runnable x : runs) x.run();
            // wall time per call, and the calling thread's CPU time (at 1 thread the whole scan runs on it: immune to
            // the time slicing of a loaded machine, though not to shared caches and memory bandwidth)
            java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
            double[][] med = new double[types.length][rounds], cpu = new double[types.length][rounds];
            for (int k = 0; k < rounds; k++) {
                StringBuilder line = new StringBuilder("round " + (k + 1) + ":");
                for (int q = 0; q < types.length; q++) {
                    int v = (q + k) % types.length;
                    double[] ns = new double[calls], cs = new double[calls];
                    for (int c = 0; c < calls; c++) {
                        long c0 = mx.getCurrentThreadCpuTime(), t0 = System.nanoTime();
                        runs.get(v).run();
                        ns[c] = (System.nanoTime() - t0) / (double) elems;
                        cs[c] = (mx.getCurrentThreadCpuTime() - c0) / (double) elems;
                    }
                    med[v][k] = median(ns);
                    cpu[v][k] = median(cs);
                }
                for (int v = 0; v < types.length; v++) {
                    line.append(String.format(Locale.ROOT, " %s %.3f (cpu %.3f)", types[v].arrowName(), med[v][k], cpu[v][k]));
                }
                System.out.println(line);
            }
            String shape = b + "," + dm + "," + g + "," + l + "," + n + (gate ? " z" : "");
            for (int v = 0; v < types.length; v++) {
                double[] ratio = new double[rounds], cratio = new double[rounds];
                for (int k = 0; k < rounds; k++) {
                    ratio[k] = med[v][k] / med[0][k];
                    cratio[k] = cpu[v][k] / cpu[0][k];
                }
                Arrays.sort(ratio);
                System.out.printf(Locale.ROOT, "shape=%s threads=%d dtype=%s ns_per_elem=%.3f ratio_to_f32=%.3f [%.3f..%.3f]"
                                + " cpu_ns_per_elem=%.3f cpu_ratio=%.3f%n", shape, threads, types[v].arrowName(), median(med[v]),
                        median(ratio), ratio[0], ratio[rounds - 1], median(cpu[v]), median(cratio));
            }
            for (Tensor t : made) t.close();
        }
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static Tensor gauss(TensorScope scope, SplittableRandom r, double scale, DType dtype, long... shape) {
        Tensor t = scope.allocate(dtype, shape);
        for (long i = 0; i < t.elementCount(); i++) t.setFloat(i, (float) (r.nextGaussian() * scale));
        return t;
    }
}
