package org.ss2d.bench;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.conformance.Tolerances;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.report.ReportJson;
import org.ss2d.reference.SS2DRef;
import org.ss2d.reference.VSSRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * SS2D (or VSS) block benchmark (what {@code ss2d bench block} runs): seeded VMamba-like weights,
 * x ~ N(0, 1) of shape (batch, d_model, H, W), warm-up, timed repeats, median; then one more series
 * through {@link org.ss2d.spi.Backend#profileSteps} for the share of time per step (empty where the
 * backend has no profile). The first {@code checkBatches} images are compared with the float64
 * reference ({@link SS2DRef}, {@link VSSRef}) first (a relative error over the suite's budget, {@link Tolerances}, throws).
 */
public final class BlockBench {
    private BlockBench() {}

    /** {@code dtype}: the blocks' dtype option (x and out in it, the steps' results held in it). */
    public record Config(String backend, int batch, int dModel, int dState, double ssmRatio, int height, int width,
                         int threads, boolean vss, int warmup, int reps, int checkBatches, long seed, DType dtype) {
        public Config(String backend, int batch, int dModel, int dState, double ssmRatio, int height, int width,
                      int threads, boolean vss, int warmup, int reps, int checkBatches, long seed) {
            this(backend, batch, dModel, dState, ssmRatio, height, width, threads, vss, warmup, reps, checkBatches, seed,
                    DType.F32);
        }

        public static Config of(String backend, int batch, int dModel, int dState, double ssmRatio, int height, int width,
                                int threads) {
            return new Config(backend, batch, dModel, dState, ssmRatio, height, width, threads, false, -1, 11, 1, 42); // -1: 3 s warm-up
        }
    }

    /** shares: step name to fraction of the profiled time (empty when the backend has no profile). */
    public record Result(String backend, String device, @JsonProperty("op") String block, int batch, int dModel, int dState, double ssmRatio,
                         int height, int width, int threads, double medianMs, double minMs, double maxMs, int reps,
                         double msPerImage, double imagesPerS, double nsPerElem, double gbPerS, double checkRelErr,
                         @JsonIgnore Map<String, Double> shares, String dtype, double hostUs, double queuedMs,
                         double hostLoad) {
        /** The shares with lower-case step names, as the JSON report writes them. */
        @JsonProperty("shares")
        public Map<String, Double> sharesByStep() {
            Map<String, Double> m = new LinkedHashMap<>();
            shares.forEach((k, v) -> m.put(k.toLowerCase(java.util.Locale.ROOT), v));
            return m;
        }
    }

    public static Result run(Config c) {
        SS2DConfig cfg = SS2DConfig.of(c.dModel(), c.dState(), c.ssmRatio());
        int b = c.batch(), dm = c.dModel(), h = c.height(), w = c.width();
        try (Backs.Handle hd = Backs.open(c.backend(), c.threads());
             TensorScope scope = TensorScope.root("bench-block")) {
            Map<String, Tensor> params;
            Runnable call;
            DType dt = c.dtype();
            Tensor drawn = RandomWeights.gaussian(scope, c.seed(), 1.0, b, dm, h, w);
            Tensor x = dt == DType.F32 ? drawn : scope.convert(drawn, dt);
            if (x != drawn) drawn.close();
            Tensor out = scope.allocate(dt, b, dm, h, w);
            Ss2d ss = Ss2d.on(hd.backend());
            double[] want = null;
            int cb = Math.min(c.checkBatches(), b);
            long px = (long) h * w;
            double[] x0 = null;
            if (cb > 0) x0 = Doubles.first(x, cb * dm * px);
            VSSWeights[] vssWeights = new VSSWeights[1];
            SS2DWeights[] ss2dWeights = new SS2DWeights[1];
            if (c.vss()) {
                VSSWeights wt = RandomWeights.vss(scope, cfg, 4.0, c.seed() + 1);
                params = wt.asMap();
                vssWeights[0] = wt;
                call = () -> ss.vssBlockInto(wt, x, out, dt);
                if (cb > 0) want = VSSRef.forward(VSSRef.Params.of(wt), x0, cb, h, w, dt);
            } else {
                SS2DWeights wt = RandomWeights.ss2d(scope, cfg, c.seed() + 1);
                params = wt.asMap();
                ss2dWeights[0] = wt;
                call = () -> ss.ss2dInto(wt, x, out, dt);
                if (cb > 0) want = SS2DRef.forward(SS2DRef.Params.of(wt), x0, cb, h, w, dt);
            }
            try {
                out.fill(Float.NaN);
                call.run();
                double err = Double.NaN;
                if (cb > 0) {
                    float[] got = new float[want.length];
                    for (int i = 0; i < got.length; i++) got[i] = out.getFloat(i);
                    err = Doubles.relativeError(got, want);
                    // the suite's budget for the block in its dtype (the reference rounds where the backends store
                    // it), with its own for TF32 products (-Dss2d.cuda.tf32=true)
                    Tolerances.Gemm gemm = Tolerances.Gemm.of(hd.backend());
                    double budget = Tolerances.relative(c.vss() ? OpKind.VSS_BLOCK : OpKind.SS2D, dt, gemm);
                    if (!(err <= budget)) {
                        throw new IllegalStateException("block check failed on " + hd.backend().name() + " "
                                + dt.arrowName() + " (" + gemm
                                + " products) " + cfg + " x (" + b + ", " + dm + ", " + h + ", " + w + "): relative error "
                                + err + " > " + budget);
                    }
                }
                Timing t;
                DeviceTiming timing = DeviceTiming.NONE;
                int profileRuns = Math.max(3, c.reps() / 2);
                Map<String, Double> steps;
                if (hd.backend().capabilities().deviceResident()) {
                    // x and out stay on the device (weights are uploaded once by the backend); each run
                    // waits for the device.
                    try (TensorScope dev = TensorScope.root("bench-block-device")) {
                        Tensor dx = ss.toDevice(dev, x);
                        Tensor dOut = hd.backend().allocate(dev, dt, b, dm, h, w);
                        Runnable devCall = c.vss()
                                ? () -> ss.vssBlockInto(vssWeights[0], dx, dOut, dt)
                                : () -> ss.ss2dInto(ss2dWeights[0], dx, dOut, dt);
                        Timing wall = Timing.measure(c.warmup(), c.reps(), () -> {
                            devCall.run();
                            hd.backend().synchronize();
                        });
                        // the device's own clock (CUDA events) where it has one
                        // with the host part of those calls and the time per call queued back to back (DeviceTiming)
                        timing = DeviceTiming.measure(hd.backend(), devCall, 10, c.reps());
                        double ev = timing.eventMs();
                        t = Double.isFinite(ev) ? new Timing(ev, wall.minMs(), wall.maxMs(), wall.reps(), wall.cpuMedianMs()) : wall;
                        steps = hd.backend().profileSteps(devCall, profileRuns);
                        dev.release();
                    }
                } else {
                    t = Timing.measure(c.warmup(), c.reps(), call);
                    steps = hd.backend().profileSteps(call, profileRuns);
                }
                // share of time per step, where the backend has a profile (CPU wall time, CUDA events)
                Map<String, Double> shares = new LinkedHashMap<>();
                double total = 0;
                for (double v : steps.values()) total += v;
                for (var e : steps.entrySet()) shares.put(e.getKey(), e.getValue() / total);
                long weightBytes = 0;
                for (Tensor p : params.values()) weightBytes += p.byteSize();
                double bytes = 2.0 * x.byteSize() + weightBytes;
                double msPerImage = t.medianMs() / b;
                return new Result(hd.backend().name(), hd.backend().capabilities().device(), c.vss() ? "vss" : "ss2d", b, dm,
                        c.dState(), c.ssmRatio(), h, w, hd.threads(), t.medianMs(), t.minMs(), t.maxMs(), t.reps(),
                        msPerImage, 1000.0 / msPerImage, t.medianMs() * 1e6 / ((double) b * dm * px),
                        bytes / (t.medianMs() * 1e-3) / 1e9, err, shares, dt.arrowName(), timing.hostUs(), timing.queuedMs(),
                        timing.hostLoad());
            } finally {
                for (Tensor p : params.values()) p.close();
                x.close();
                out.close();
            }
        }
    }

    /** {@code BlockBench B d_model d_state ssm_ratio H W [threads] [reps] [vss] [dtype]}: prints the JSON line. */
    public static void main(String[] a) {
        int threads = a.length > 6 ? Integer.parseInt(a[6]) : 0;
        int reps = a.length > 7 ? Integer.parseInt(a[7]) : 11;
        boolean vss = a.length > 8 && a[8].equals("vss");
        DType dt = a.length > 9 ? DType.byName(a[9]) : DType.F32;
        if (dt == null) throw new IllegalArgumentException("dtype: expected float32, float16 or bfloat16, found " + a[9]);
        Config c = new Config("cpu", Integer.parseInt(a[0]), Integer.parseInt(a[1]), Integer.parseInt(a[2]),
                Double.parseDouble(a[3]), Integer.parseInt(a[4]), Integer.parseInt(a[5]), threads, vss, -1, reps, 1, 42, dt);
        System.out.println(ReportJson.line(run(c)));
    }
}
