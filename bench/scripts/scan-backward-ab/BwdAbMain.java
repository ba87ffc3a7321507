package abm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.*;
import org.ss2d.ops.*;
import org.ss2d.tensor.*;

/**
 * In-process A/B of backend-cpu scan backward variants: BwdAbMain B D G L N threads warmupSec rounds calls dir0 [dir1..].
 * Per round: variant 0's forward, then each variant's backward (order alternating); prints per-variant median
 * backward ns/elem, median of per-round ratio backward/forward, and per-round ratio to v0's backward.
 */
public final class BwdAbMain {
    public static void main(String[] a) throws Exception {
        int[] dims = new int[5];
        for (int i = 0; i < 5; i++) dims[i] = Integer.parseInt(a[i]);
        int threads = Integer.parseInt(a[5]);
        double warm = Double.parseDouble(a[6]);
        int rounds = Integer.parseInt(a[7]), calls = Integer.parseInt(a[8]);
        List<String> dirs = Arrays.asList(a).subList(9, a.length);
        int b = dims[0], d = dims[1], g = dims[2], l = dims[3], n = dims[4];
        boolean z = System.getProperty("ab.z") != null, dl = System.getProperty("ab.dlast") != null;
        TensorScope sc = TensorScope.root("ab");
        SplittableRandom r = new SplittableRandom(42);
        Tensor u = gauss(sc, r, 1.0, b, d, l), delta = gauss(sc, r, 0.5, b, d, l);
        Tensor bm = gauss(sc, r, 1.0, b, g, n, l), cm = gauss(sc, r, 1.0, b, g, n, l);
        Tensor am = sc.allocate(DType.F32, d, n);
        for (long i = 0; i < am.elementCount(); i++) am.setFloat(i, (float) -Math.exp(r.nextGaussian()));
        Tensor ds = gauss(sc, r, 1.0, d), bias = sc.allocate(DType.F32, d);
        for (int i = 0; i < d; i++) {
            double dt = Math.exp(r.nextDouble() * (Math.log(0.1) - Math.log(1e-3)) + Math.log(1e-3));
            bias.setFloat(i, (float) (dt + Math.log(-Math.expm1(-dt))));
        }
        Tensor dout = gauss(sc, r, 1.0, b, d, l), out = sc.allocate(DType.F32, b, d, l);
        ScanArgs.Builder bl = ScanArgs.builder(u, delta, am, bm, cm).D(ds).deltaBias(bias).deltaSoftplus(true);
        if (z) bl.z(gauss(sc, r, 1.0, b, d, l));
        ScanArgs args = bl.build();
        ScanShape s = new ScanShape(b, d, l, n, g, BCMode.GROUPED, BCMode.GROUPED);
        int nv = dirs.size();
        Runnable[][] run = new Runnable[nv][];
        ScanGrads[] grads = new ScanGrads[nv];
        Tensor[] in = args.tensors();
        for (int v = 0; v < nv; v++) {
            URLClassLoader cl = new URLClassLoader(new URL[] {Path.of(dirs.get(v)).toUri().toURL()}, BwdAbMain.class.getClassLoader());
            Tensor[] gt = new Tensor[8];
            for (int i = 0; i < in.length; i++) gt[i] = in[i] == null ? null : sc.allocate(DType.F32, in[i].shape()).fill(Float.NaN);
            grads[v] = ScanGrads.of(gt);
            run[v] = (Runnable[]) cl.loadClass("abh.BwdAbKernel").getMethod("make", ScanArgs.class, ScanShape.class,
                    Tensor.class, Tensor.class, ScanGrads.class, int.class).invoke(null, args, s, dout, out, grads[v], threads);
            run[v][1].run();
        }
        for (int v = 1; v < nv; v++) {
            StringBuilder sb = new StringBuilder("variant " + v + " vs 0:");
            for (int i = 0; i < 8; i++) {
                Tensor x = grads[0].tensors()[i], y = grads[v].tensors()[i];
                if (x == null) continue;
                double md = 0, mx = 0; boolean same = true;
                for (long k = 0; k < x.elementCount(); k++) {
                    float p = x.getFloat(k), q = y.getFloat(k);
                    if (Float.isNaN(p) || Float.isNaN(q)) { md = Double.NaN; break; }
                    same &= Float.floatToRawIntBits(p) == Float.floatToRawIntBits(q);
                    md = Math.max(md, Math.abs(p - q)); mx = Math.max(mx, Math.abs(p));
                }
                sb.append(String.format(" %s %s%.2g", ScanGrads.NAMES[i], same ? "=" : "~", md / mx));
            }
            System.out.println(sb);
        }
        long end = System.nanoTime() + (long) (warm * 1e9);
        while (System.nanoTime() < end) { run[0][0].run(); for (Runnable[] x : run) x[1].run(); }
        double[] fwd = new double[rounds];
        double[][] med = new double[nv][rounds];
        for (int k = 0; k < rounds; k++) {
            fwd[k] = time(run[0][0], calls, (double) b * d * l);
            for (int q = 0; q < nv; q++) {
                int v = k % 2 == 0 ? q : nv - 1 - q;
                med[v][k] = time(run[v][1], calls, (double) b * d * l);
            }
        }
        double[] f = fwd.clone(); Arrays.sort(f);
        System.out.printf("forward (v0) median %.3f ns/elem (rounds %s)%n", f[rounds / 2], fmt(fwd));
        for (int v = 0; v < nv; v++) {
            double[] m = med[v].clone(); Arrays.sort(m);
            double[] rf = new double[rounds], r0 = new double[rounds];
            for (int k = 0; k < rounds; k++) { rf[k] = med[v][k] / fwd[k]; r0[k] = med[v][k] / med[0][k]; }
            Arrays.sort(rf); Arrays.sort(r0);
            System.out.printf("v%d %-14s bwd %.3f ns/elem  bwd/fwd %.2f [%.2f..%.2f]  /v0 %.3f [%.3f..%.3f]%n", v,
                    Path.of(dirs.get(v)).getFileName(), m[rounds / 2], rf[rounds / 2], rf[0], rf[rounds - 1],
                    r0[rounds / 2], r0[0], r0[rounds - 1]);
        }
        System.exit(0);
    }

    static final boolean CPU = System.getProperty("ab.cpu") != null;
    static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();
    static double time(Runnable x, int calls, double e) {
        double[] t = new double[calls];
        for (int c = 0; c < calls; c++) {
            if (CPU) { long t0 = MX.getCurrentThreadCpuTime(); x.run(); t[c] = (MX.getCurrentThreadCpuTime() - t0) / e; }
            else { long t0 = System.nanoTime(); x.run(); t[c] = (System.nanoTime() - t0) / e; }
        }
        Arrays.sort(t);
        return t[calls / 2];
    }

    static String fmt(double[] x) {
        StringBuilder s = new StringBuilder();
        for (double y : x) s.append(String.format("%.2f ", y));
        return s.toString().trim();
    }

    static Tensor gauss(TensorScope scope, SplittableRandom r, double scale, long... shape) {
        Tensor t = scope.allocate(DType.F32, shape);
        float[] v = new float[(int) Math.min(t.elementCount(), 1 << 20)];
        for (long off = 0; off < t.elementCount(); off += v.length) {
            int len = (int) Math.min(v.length, t.elementCount() - off);
            for (int i = 0; i < len; i++) v[i] = (float) (scale * r.nextGaussian());
            MemorySegment.copy(v, 0, t.segment(), ValueLayout.JAVA_FLOAT, off * 4, len);
        }
        return t;
    }
}
