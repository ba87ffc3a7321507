package org.ss2d.bench;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.SplittableRandom;
import org.ss2d.Ss2d;
import org.ss2d.conformance.Tolerances;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.report.ReportJson;
import org.ss2d.ops.ScanShape;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.ScanRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Selective-scan benchmark (what {@code ss2d bench scan} runs): inputs drawn as the C anchor draws
 * them (u ~ N(0,1), delta ~ 0.5 N(0,1), grouped B, C ~ N(0,1), A = -exp(N(0,1)), D ~ N(0,1),
 * delta_bias = softplus^-1 of a log-uniform dt in [1e-3, 1e-1], softplus on, no z), warm-up, timed
 * repeats, median. Before any number is reported the output of the first {@code checkBatches}
 * batches is compared with the float64 reference scan ({@link ScanRef}) on that slice; a relative error above
 * the suite's budget ({@link Tolerances}: 1e-4 for float32, plus one rounding of a half output) or NaN throws.
 *
 * <p>On a device backend {@code median_ms} is CUDA-event time around one call, {@code host_us} the host part of those
 * calls, {@code queued_ms} the event time per call of calls queued back to back and {@code host_load} the load
 * average per core ({@link DeviceTiming}).
 *
 * <p>{@code dtype} float16/bfloat16: u, delta and B, C are drawn as above and rounded to it (A, D and
 * delta_bias stay float32, mamba's rules), out is written in it; the reference runs on the rounded values.
 */
public final class ScanBench {
    private ScanBench() {}

    /** threads: 0 = the backend's default. checkBatches: 0 skips the check (not recommended). */
    public record Config(String backend, int batch, int dim, int groups, int seqlen, int dstate, int threads, int warmup,
                         int reps, int checkBatches, long seed, DType dtype) {
        /** A float32 scan. */
        public Config(String backend, int batch, int dim, int groups, int seqlen, int dstate, int threads, int warmup,
                      int reps, int checkBatches, long seed) {
            this(backend, batch, dim, groups, seqlen, dstate, threads, warmup, reps, checkBatches, seed, DType.F32);
        }

        public static Config of(String backend, int batch, int dim, int groups, int seqlen, int dstate, int threads) {
            return new Config(backend, batch, dim, groups, seqlen, dstate, threads, -1, 11, 1, 42); // -1: 3 s warm-up
        }

        /** This config with the activations in {@code d}. */
        public Config withDtype(DType d) {
            return new Config(backend, batch, dim, groups, seqlen, dstate, threads, warmup, reps, checkBatches, seed, d);
        }
    }

    public record Result(String backend, String device, int batch, int dim, int groups, int seqlen, int dstate,
                         int threads, double medianMs, double minMs, double maxMs, int reps, double nsPerElem,
                         double gbPerS, double checkRelErr, double callerCpuMs, double wallMs, double copyGbPerS,
                         String dtype, double hostUs, double queuedMs, double hostLoad, String kernel, double bytesMoved,
                         double gbPerSMoved) {
        /** The op's name in the JSON report. */
        @JsonProperty("op")
        public String op() {
            return "scan";
        }

        /** Percent of the device copy bandwidth, counting the bytes the chosen path actually moves. */
        @JsonProperty("pct_of_copy_moved")
        public double pctOfCopyMoved() {
            return 100 * gbPerSMoved / copyGbPerS;
        }

        /** Percent of the device copy bandwidth of the same run (NaN on host backends: null in JSON). */
        @JsonProperty("pct_of_copy")
        public double pctOfCopy() {
            return 100 * gbPerS / copyGbPerS;
        }
    }

    public static Result run(Config c) {
        try (Backs.Handle h = Backs.open(c.backend(), c.threads());
             TensorScope scope = TensorScope.root("bench-scan")) {
            int b = c.batch(), dm = c.dim(), g = c.groups(), l = c.seqlen(), n = c.dstate();
            SplittableRandom r = new SplittableRandom(c.seed());
            DType act = c.dtype();
            Tensor u = gauss(scope, r, 1.0, act, b, dm, l);
            Tensor delta = gauss(scope, r, 0.5, act, b, dm, l);
            Tensor bm = gauss(scope, r, 1.0, act, b, g, n, l);
            Tensor cm = gauss(scope, r, 1.0, act, b, g, n, l);
            Tensor a = scope.allocate(DType.F32, dm, n);
            for (long i = 0; i < a.elementCount(); i++) a.setFloat(i, (float) -Math.exp(r.nextGaussian()));
            Tensor dSkip = gauss(scope, r, 1.0, DType.F32, dm);
            Tensor bias = scope.allocate(DType.F32, dm);
            for (int d = 0; d < dm; d++) {
                double dt = Math.exp(r.nextDouble() * (Math.log(0.1) - Math.log(1e-3)) + Math.log(1e-3));
                bias.setFloat(d, (float) (dt + Math.log(-Math.expm1(-dt))));
            }
            Tensor out = scope.allocate(act, b, dm, l);
            ScanArgs args = ScanArgs.builder(u, delta, a, bm, cm).D(dSkip).deltaBias(bias).deltaSoftplus(true).build();
            Ss2d ss = Ss2d.on(h.backend());
            try {
                return measure(c, h, ss, args, out, new Tensor[] {u, delta, bm, cm, a, dSkip, bias});
            } finally {
                for (Tensor t : new Tensor[] {u, delta, bm, cm, a, dSkip, bias, out}) t.close();
            }
        }
    }

    private static Result measure(Config c, Backs.Handle h, Ss2d ss, ScanArgs args, Tensor out, Tensor[] in) {
        {
            int b = c.batch(), dm = c.dim(), g = c.groups(), l = c.seqlen(), n = c.dstate();
            Tensor u = in[0], delta = in[1], bm = in[2], cm = in[3], a = in[4], dSkip = in[5], bias = in[6];

            out.fill(Float.NaN); // poison: the check below sees any element left unwritten
            ss.selectiveScanInto(args, out, null);
            double err = Double.NaN;
            int cb = Math.min(c.checkBatches(), b);
            if (cb > 0) {
                ScanShape shape = new ScanShape(b, dm, l, n, g, BCMode.GROUPED, BCMode.GROUPED);
                double[] want = ScanRef.run(ScanRef.Problem.of(args, shape, cb)).out();
                float[] got = new float[want.length];
                for (int i = 0; i < got.length; i++) got[i] = out.getFloat(i);
                err = Doubles.relativeError(got, want);
                double budget = Tolerances.relative(OpKind.SELECTIVE_SCAN, out.dtype());
                if (!(err <= budget)) {
                    throw new IllegalStateException("scan check failed on " + h.backend().name() + " " + c.dtype().arrowName()
                            + " (" + b + ", " + dm + ", " + g + ", " + l + ", " + n + "): relative error " + err + " > " + budget);
                }
            }
            Timing t;
            double eventMs = Double.NaN, copyGbPerS = Double.NaN;
            DeviceTiming timing = DeviceTiming.NONE;
            if (h.backend().capabilities().deviceResident()) {
                // Device backends are timed on device-resident tensors (upload once, as a model would),
                // each run waiting for the device; the host-in/host-out run above was the checked one,
                // and the device run must give the same output.
                try (TensorScope dev = TensorScope.root("bench-scan-device")) {
                    ScanArgs da = new ScanArgs(ss.toDevice(dev, u), ss.toDevice(dev, delta), ss.toDevice(dev, a),
                            ss.toDevice(dev, bm), ss.toDevice(dev, cm), ss.toDevice(dev, dSkip), null,
                            ss.toDevice(dev, bias), true, false);
                    Tensor dOut = h.backend().allocate(dev, out.dtype(), b, dm, l);
                    ss.selectiveScanInto(da, dOut, null);
                    try (TensorScope back = TensorScope.root("bench-scan-back"); Tensor got = ss.toHost(back, dOut)) {
                        float[] x = got.toFloatArray(), y = out.toFloatArray();
                        if (!java.util.Arrays.equals(x, y)) {
                            throw new IllegalStateException("device-resident scan on " + h.backend().name()
                                    + " differs from its host-in/host-out run");
                        }
                    }
                    t = Timing.measure(c.warmup(), c.reps(), () -> {
                        ss.selectiveScanInto(da, dOut, null);
                        h.backend().synchronize();
                    });
                    // The device's own clock (CUDA events), as the GPU anchors were measured, and a
                    // device-to-device copy of 2 x 256 MiB in the same run for the bandwidth ceiling.
                    // With it, the host time of those same calls, and the time per call of calls queued back to back.
                    timing = DeviceTiming.measure(h.backend(), () -> ss.selectiveScanInto(da, dOut, null), 20, c.reps());
                    eventMs = timing.eventMs();
                    Tensor c0 = h.backend().allocate(dev, DType.F32, 1L << 26), c1 = h.backend().allocate(dev, DType.F32, 1L << 26);
                    double copyMs = h.backend().deviceTimeMs(() -> h.backend().copy(c0, c1), 3, 20).orElse(Double.NaN);
                    copyGbPerS = 2.0 * c0.byteSize() / (copyMs * 1e-3) / 1e9;
                    dev.release();
                }
            } else {
                t = Timing.measure(c.warmup(), c.reps(), () -> ss.selectiveScanInto(args, out, null));
            }
            double elems = (double) b * dm * l;
            // u, delta and out (and B, C) in the activations' dtype; A, D, delta_bias in float32
            int e = c.dtype().byteSize();
            double bc = (double) b * g * n * l;
            double bytes = e * (3.0 * elems + 2.0 * bc) + 4.0 * ((double) dm * n + 2.0 * dm);
            // Which kernel ran, and the bytes it moves: a 16-bit kernel moves the minimum; the widened path also
            // reads the 16-bit u, delta, B, C and writes float32 copies, runs the float32 scan on them and rounds
            // a float32 out into the 16-bit one.
            ScanShape sh = new ScanShape(b, dm, l, n, g, BCMode.GROUPED, BCMode.GROUPED);
            String kernel = h.backend().scanKernel(sh, c.dtype(), out.dtype()).orElse(null);
            double moved = bytes;
            if (kernel != null && kernel.startsWith("widened:")) {
                moved = (e + 4.0) * (2.0 * elems + 2.0 * bc) + 4.0 * (3.0 * elems + 2.0 * bc)
                        + 4.0 * ((double) dm * n + 2.0 * dm) + (e + 4.0) * elems;
            }
            // median_ms is the device's own time where it has one (CUDA events), else wall-clock time.
            double ms = Double.isFinite(eventMs) ? eventMs : t.medianMs();
            return new Result(h.backend().name(), h.backend().capabilities().device(), b, dm, g, l, n, h.threads(),
                    ms, t.minMs(), t.maxMs(), t.reps(), ms * 1e6 / elems,
                    bytes / (ms * 1e-3) / 1e9, err, t.cpuMedianMs(), t.medianMs(), copyGbPerS, c.dtype().arrowName(),
                    timing.hostUs(), timing.queuedMs(), timing.hostLoad(), kernel, moved, moved / (ms * 1e-3) / 1e9);
        }
    }

    private static Tensor gauss(TensorScope scope, SplittableRandom r, double scale, DType dtype, long... shape) {
        Tensor t = scope.allocate(dtype, shape);
        float[] v = new float[(int) Math.min(t.elementCount(), 1 << 20)];
        java.lang.foreign.MemorySegment seg = t.segment();
        for (long off = 0; off < t.elementCount(); off += v.length) {
            int len = (int) Math.min(v.length, t.elementCount() - off);
            for (int i = 0; i < len; i++) v[i] = (float) (scale * r.nextGaussian());
            if (dtype == DType.F32) {
                java.lang.foreign.MemorySegment.copy(v, 0, seg, java.lang.foreign.ValueLayout.JAVA_FLOAT, off * 4, len);
            } else {
                for (int i = 0; i < len; i++) org.ss2d.tensor.HalfFloats.set(seg, dtype, off + i, v[i]);
            }
        }
        return t;
    }

    /** {@code ScanBench B D G L N [threads] [reps] [checkBatches] [dtype]}: prints the JSON line. */
    public static void main(String[] a) {
        int threads = a.length > 5 ? Integer.parseInt(a[5]) : 0;
        Config c = Config.of("cpu", Integer.parseInt(a[0]), Integer.parseInt(a[1]), Integer.parseInt(a[2]),
                Integer.parseInt(a[3]), Integer.parseInt(a[4]), threads);
        if (a.length > 6) c = new Config(c.backend(), c.batch(), c.dim(), c.groups(), c.seqlen(), c.dstate(), threads, -1,
                Integer.parseInt(a[6]), a.length > 7 ? Integer.parseInt(a[7]) : 1, 42);
        if (a.length > 8) {
            DType d = DType.byName(a[8]);
            if (d == null) throw new IllegalArgumentException("dtype: expected float32, float16 or bfloat16, found " + a[8]);
            c = c.withDtype(d);
        }
        System.out.println(ReportJson.line(run(c)));
    }
}
