package abm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.*;

/**
 * In-process A/B of backend-cpu scan variants (see scan-ab.sh): {@code AbMain B D G L N threads warmupSec rounds
 * callsPerRound dir0 [dir1 ...]}. Each dir holds one variant's backend-cpu classes plus abh.AbKernel, loaded by
 * its own class loader over the parent's api/arrow; all variants scan the same inputs (outputs compared with
 * variant 0), are warmed up together, then timed in alternating rounds (median of callsPerRound calls each).
 * Prints per-variant medians over rounds and the median per-round ratio to variant 0 with its range.
 */
public final class AbMain {
    static long T0;
    public static void main(String[] a) throws Exception {
        int[] dims = new int[5];
        for (int i = 0; i < 5; i++) dims[i] = Integer.parseInt(a[i]);
        int threads = Integer.parseInt(a[5]);
        double warm = Double.parseDouble(a[6]);
        int rounds = Integer.parseInt(a[7]), calls = Integer.parseInt(a[8]);
        List<String> dirs = Arrays.asList(a).subList(9, a.length);
        int b = dims[0], d = dims[1], g = dims[2], l = dims[3], n = dims[4];
        long e = (long) b * d * l, eb = (long) b * g * n * l;
        Arena ar = Arena.ofShared();
        Random r = new Random(42);
        MemorySegment u = gauss(ar, r, e, 1), delta = gauss(ar, r, e, 0.5), bm = gauss(ar, r, eb, 1), cm = gauss(ar, r, eb, 1);
        MemorySegment am = alloc(ar, (long) d * n * 4), ds = gauss(ar, r, d, 1), bias = alloc(ar, d * 4L);
        for (long i = 0; i < (long) d * n; i++) am.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) -Math.exp(r.nextGaussian()));
        for (int i = 0; i < d; i++) {
            double dt = Math.exp(r.nextDouble() * (Math.log(0.1) - Math.log(1e-3)) + Math.log(1e-3));
            bias.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (dt + Math.log(-Math.expm1(-dt))));
        }
        int nv = dirs.size();
        Runnable[] run = new Runnable[nv];
        MemorySegment[] outs = new MemorySegment[nv];
        for (int v = 0; v < nv; v++) {
            URLClassLoader cl = new URLClassLoader(new URL[] {Path.of(dirs.get(v)).toUri().toURL()}, AbMain.class.getClassLoader());
            outs[v] = alloc(ar, e * 4);
            outs[v].fill((byte) 0xff); // NaN
            MemorySegment[] s = {u, delta, am, bm, cm, ds, bias, outs[v]};
            run[v] = (Runnable) cl.loadClass("abh.AbKernel").getMethod("make", MemorySegment[].class, int[].class, int.class)
                    .invoke(null, s, dims, threads);
            run[v].run();
        }
        for (int v = 1; v < nv; v++) {
            double md = 0, mx = 0;
            for (long i = 0; i < e; i++) {
                float x = outs[0].getAtIndex(ValueLayout.JAVA_FLOAT, i), y = outs[v].getAtIndex(ValueLayout.JAVA_FLOAT, i);
                if (Float.isNaN(y) || Float.isNaN(x)) { md = Double.NaN; break; }
                md = Math.max(md, Math.abs(x - y));
                mx = Math.max(mx, Math.abs(x));
            }
            System.out.printf("variant %d vs 0: max abs diff %.3g (max |y| %.3g)%n", v, md, mx);
        }
        long end = System.nanoTime() + (long) (warm * 1e9); T0 = end;
        while (System.nanoTime() < end) for (Runnable x : run) x.run();
        double[][] med = new double[nv][rounds];
        for (int k = 0; k < rounds; k++) {
            waitQuiet();
            for (int q = 0; q < nv; q++) {
                int v = k % 2 == 0 ? q : nv - 1 - q;
                double[] t = new double[calls];
                for (int c = 0; c < calls; c++) {
                    long t0 = System.nanoTime();
                    run[v].run();
                    t[c] = (System.nanoTime() - t0) * 1.0 / e;
                }
                Arrays.sort(t);
                med[v][k] = t[calls / 2];
            }
        }
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        for (int v = 0; v < nv; v++) {
            long a0 = allocSum(mx);
            for (int c = 0; c < 5; c++) run[v].run();
            System.out.printf("v%d allocates %.1f KB per call%n", v, (allocSum(mx) - a0) / 5 / 1024.0);
        }
        StringBuilder sb = new StringBuilder();
        for (int v = 0; v < nv; v++) {
            double[] m = med[v].clone();
            Arrays.sort(m);
            double[] ratio = new double[rounds];
            for (int k = 0; k < rounds; k++) ratio[k] = med[v][k] / med[0][k];
            Arrays.sort(ratio);
            sb.append(String.format("v%d %-28s median %.3f ns/elem (rounds %s) ratio/v0 %.3f [%.3f..%.3f]%n", v,
                    Path.of(dirs.get(v)).getFileName(), m[rounds / 2], fmt(med[v]), ratio[rounds / 2], ratio[0], ratio[rounds - 1]));
        }
        System.out.print(sb);
        System.out.printf("wall total %.1f ms%n", (System.nanoTime() - T0) / 1e6); System.exit(0);
    }

    static long allocSum(com.sun.management.ThreadMXBean mx) {
        long[] ids = Thread.getAllStackTraces().keySet().stream().mapToLong(Thread::threadId).toArray();
        long s = 0;
        for (long x : mx.getThreadAllocatedBytes(ids)) if (x > 0) s += x;
        return s;
    }

    static int waits;
    /** Waits while another heavy process (the lead's CUDA builds) runs on this 2-core machine. */
    static void waitQuiet() throws InterruptedException {
        if (Boolean.getBoolean("ab.nowait")) return; // a machine that is never quiet: alternation has to do
        while (ProcessHandle.allProcesses().anyMatch(p -> p.info().command().map(c -> c.matches(".*/(ptxas|cicc|nvcc|cc1|cc1plus|cudafe\\+\\+|fatbinary|nvlink|gcc|javac|mvn)$")).orElse(false)
                || p.info().commandLine().map(c -> c.contains("maven") || c.contains("surefire")).orElse(false))) {
            if (waits++ % 10 == 0) System.out.println("waiting for a quiet machine");
            Thread.sleep(1000);
        }
    }

    static String fmt(double[] x) {
        StringBuilder s = new StringBuilder();
        for (double y : x) s.append(String.format("%.2f ", y));
        return s.toString().trim();
    }

    static MemorySegment alloc(Arena ar, long bytes) {
        return ar.allocate(bytes, 4096);
    }

    static MemorySegment gauss(Arena ar, Random r, long n, double sc) {
        MemorySegment m = alloc(ar, n * 4);
        for (long i = 0; i < n; i++) m.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (sc * r.nextGaussian()));
        return m;
    }
}
