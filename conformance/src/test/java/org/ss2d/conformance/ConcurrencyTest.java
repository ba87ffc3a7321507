package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Eight threads calling one backend at once, each on its own shapes and ops (scans on every kernel path, cross
 * scan/merge, SS2D and VSS blocks; on a device-resident backend half of them on device tensors), must get the bits
 * of a serial run (issue 18 item 7). Runs on every available compute backend: the CPU here, CUDA on a GPU host.
 */
class ConcurrencyTest {
    private static final int THREADS = 8, ROUNDS = 12;

    @TestFactory
    Stream<DynamicTest> eightThreadsGetTheSerialBits() {
        List<String> names = Targets.available().stream().filter(n -> !n.equals("reference")).toList();
        if (names.isEmpty()) {
            return Stream.of(DynamicTest.dynamicTest("concurrency: no compute backend available",
                    () -> Assumptions.assumeTrue(false, Backends.reasons())));
        }
        return names.stream().map(n -> DynamicTest.dynamicTest("[" + n + "] " + THREADS + " threads x " + ROUNDS
                + " rounds, bit-identical to serial", () -> run(n)));
    }

    /** One op on prepared inputs: allocates its outputs in {@code scope} and returns them as host floats. */
    record Task(String what, Function<TensorScope, float[][]> run) {}

    static void run(String name) throws Exception {
        Ss2d ss = Ss2d.on(name);
        boolean device = ss.backend().capabilities().deviceResident();
        try (TensorScope inputs = TensorScope.root("concurrency-inputs")) {
            List<Task> tasks = tasks(ss, inputs, device);
            List<float[][]> serial = new ArrayList<>();
            try (TensorScope s = TensorScope.root("serial")) {
                for (Task t : tasks) serial.add(t.run().apply(s));
                s.release();
            }
            CyclicBarrier start = new CyclicBarrier(THREADS);
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<Integer>> done = new ArrayList<>();
                for (int th = 0; th < THREADS; th++) {
                    int first = th;
                    done.add(pool.submit(() -> {
                        start.await();
                        int checked = 0;
                        try (TensorScope s = TensorScope.root("thread" + first)) {
                            for (int r = 0; r < ROUNDS; r++) {
                                int k = (first + r) % tasks.size();
                                float[][] got = tasks.get(k).run().apply(s);
                                for (int o = 0; o < got.length; o++) {
                                    assertArrayEquals(bits(serial.get(k)[o]), bits(got[o]), "[" + name + "] "
                                            + tasks.get(k).what() + ", output " + o + ", thread " + first + ", round " + r
                                            + ": differs from the serial run");
                                }
                                checked++;
                            }
                            s.release();
                        }
                        return checked;
                    }));
                }
                int total = 0;
                for (Future<Integer> f : done) total += f.get();
                assertEquals(THREADS * ROUNDS, total);
            } finally {
                pool.shutdownNow();
            }
            inputs.release();
        }
    }

    static int[] bits(float[] f) {
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) b[i] = Float.floatToRawIntBits(f[i]);
        return b;
    }

    static List<Task> tasks(Ss2d ss, TensorScope in, boolean device) {
        List<Task> t = new ArrayList<>();
        t.add(scan(ss, in, "scan N1 grouped", 2, 8, 300, 1, 4, true, device));
        t.add(scan(ss, in, "scan N16 channel lanes", 1, 32, 200, 16, 1, true, false));
        t.add(scan(ss, in, "scan N4 constant B/C", 2, 4, 130, 4, 0, false, device));
        t.add(scan(ss, in, "scan N2 long rows", 1, 16, 520, 2, 2, true, false));
        Tensor x = on(ss, in, RandomWeights.gaussian(in, 11, 1, 2, 8, 9, 7), device);
        t.add(new Task("cross_scan" + (device ? " (device)" : ""), s -> new float[][] {host(ss, s, ss.crossScan(s, x))}));
        Tensor ys = RandomWeights.gaussian(in, 12, 1, 2, 4, 6, 35);
        t.add(new Task("cross_merge", s -> new float[][] {host(ss, s, ss.crossMerge(s, ys, 5, 7))}));
        SS2DWeights w = RandomWeights.ss2d(in, SS2DConfig.of(8, 1, 1.0), 13);
        Tensor bx = on(ss, in, RandomWeights.gaussian(in, 14, 1, 1, 8, 5, 6), device);
        t.add(new Task("ss2d" + (device ? " (device)" : ""), s -> new float[][] {host(ss, s, ss.ss2d(s, w, bx))}));
        VSSWeights v = RandomWeights.vss(in, SS2DConfig.of(16, 4, 2.0), 4.0, 15);
        Tensor vx = RandomWeights.gaussian(in, 16, 1, 1, 16, 3, 4);
        t.add(new Task("vss_block", s -> new float[][] {host(ss, s, ss.vssBlock(s, v, vx))}));
        return t;
    }

    /** groups 0: constant B and C. */
    static Task scan(Ss2d ss, TensorScope in, String what, int b, int d, int l, int n, int g, boolean options,
                     boolean device) {
        long seed = what.hashCode();
        Tensor u = on(ss, in, RandomWeights.gaussian(in, seed, 1, b, d, l), device);
        Tensor delta = on(ss, in, RandomWeights.uniform(in, seed + 1, -4, 1, b, d, l), device);
        Tensor a = on(ss, in, RandomWeights.uniform(in, seed + 2, -2, -0.1, d, n), device);
        long[] bc = g == 0 ? new long[] {d, n} : new long[] {b, g, n, l};
        Tensor bm = on(ss, in, RandomWeights.gaussian(in, seed + 3, 1, bc), device);
        Tensor cm = on(ss, in, RandomWeights.gaussian(in, seed + 4, 1, bc), device);
        ScanArgs.Builder args = ScanArgs.builder(u, delta, a, bm, cm).deltaSoftplus(true).returnLastState(true);
        if (options) {
            args.D(on(ss, in, RandomWeights.gaussian(in, seed + 5, 1, d), device))
                    .z(on(ss, in, RandomWeights.gaussian(in, seed + 6, 1, b, d, l), device))
                    .deltaBias(on(ss, in, RandomWeights.gaussian(in, seed + 7, 0.5, d), device));
        }
        ScanArgs built = args.build();
        return new Task(what + (device ? " (device)" : ""), s -> {
            ScanArgs.Result r = ss.selectiveScan(s, built);
            return new float[][] {host(ss, s, r.out()), host(ss, s, r.lastState())};
        });
    }

    static Tensor on(Ss2d ss, TensorScope in, Tensor host, boolean device) {
        return device ? ss.toDevice(in, host) : host;
    }

    /** The tensor's values on the host (downloaded if on a device); the tensor is closed. */
    static float[] host(Ss2d ss, TensorScope s, Tensor t) {
        try (t) {
            if (t.isHost()) return t.toFloatArray();
            try (Tensor h = ss.toHost(s, t)) {
                return h.toFloatArray();
            }
        }
    }
}
